"""Functions on a real Kubernetes: the objects Kubeless's controller created, and a target.

``export`` turns a :class:`~kubeless_runtime.tooling.deploy.DeploySpec` into a ConfigMap, a
Deployment and a Service (pure); ``function_crd`` reads a Kubeless ``Function`` manifest into
the same spec; ``target`` applies, waits, forwards, reads logs and deletes through the official
Kubernetes client (the ``[kubernetes]`` extra, imported only when used).
"""

from .errors import (
    FunctionTooLargeError,
    InvalidManifestError,
    KubernetesUnavailableError,
    UnsupportedFieldError,
)
from .export import ExportOptions, export_objects, to_json, to_yaml
from .function_crd import ConvertedFunction, convert_function, load_manifests

__all__ = [
    "ConvertedFunction", "ExportOptions", "FunctionTooLargeError", "InvalidManifestError",
    "KubernetesUnavailableError", "UnsupportedFieldError", "convert_function", "export_objects",
    "load_manifests", "to_json", "to_yaml",
]

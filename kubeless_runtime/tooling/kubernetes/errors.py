"""What can go wrong on the way to a cluster, each with a stable code and the fix."""

from __future__ import annotations

from ...errors import KubelessRuntimeError, UsageError
from ..deploy.errors import InvalidSpecError


class InvalidManifestError(UsageError):
    """A Kubeless ``Function`` manifest cannot be read (syntax, kind, a field's type)."""

    code = "invalid-function-manifest"


class UnsupportedFieldError(UsageError):
    """A ``Function`` field asks for something the export cannot honour; never dropped."""

    code = "unsupported-function-field"

    def __init__(self, path: str, why: str) -> None:
        self.path = path
        super().__init__(f"Function field {path} cannot be honoured: {why}; remove it from the "
                         "manifest or apply that part by hand after export")


class FunctionTooLargeError(InvalidSpecError):
    """The source and dependency files exceed what one ConfigMap holds (1 MiB)."""

    code = "function-too-large"


class KubernetesUnavailableError(KubelessRuntimeError):
    """No client library, no kubeconfig, or no cluster answering."""

    code = "kubernetes-unavailable"


__all__ = ["FunctionTooLargeError", "InvalidManifestError", "KubernetesUnavailableError",
           "UnsupportedFieldError"]

"""A Kubeless ``Function`` (``kubeless.io/v1beta1``) as a DeploySpec plus export options.

Users leaving Kubeless keep their manifests: ``spec.function`` (text, base64 or base64+zip,
checked against ``spec.checksum``), ``handler``, ``runtime``, ``deps``, ``timeout``, and the
parts of ``deployment``, ``service`` and ``horizontalPodAutoscaler`` that map onto what
:func:`export_objects` makes.  Any other field raises :class:`UnsupportedFieldError` naming
it: a field silently dropped would deploy something other than what the manifest says.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from ...contract import DEFAULT_PORT, ENV_PORT
from ..catalog import Catalog, UnknownRuntimeError, load_catalog
from ..deploy.spec import DeploySpec
from .errors import InvalidManifestError, UnsupportedFieldError
from .export import SERVICE_PORT_NAME, ExportOptions, function_labels

API_VERSION = "kubeless.io/v1beta1"
_SPEC_FIELDS = {"function", "function-content-type", "handler", "runtime", "deps", "timeout",
                "checksum", "deployment", "service", "horizontalPodAutoscaler"}
# Set by the API server, not by the user: never part of what to deploy.
_SERVER_METADATA = {"uid", "resourceVersion", "creationTimestamp", "generation", "selfLink",
                    "managedFields", "finalizers", "deletionTimestamp",
                    "deletionGracePeriodSeconds"}
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


@dataclass(frozen=True)
class ConvertedFunction:
    """What a Function manifest asks for: the spec (files written under a work folder)."""

    spec: DeploySpec
    options: ExportOptions


def load_manifests(text: str, source: str = "manifest") -> List[Dict[str, Any]]:
    """The documents of a JSON or YAML file (a ``List`` is unpacked)."""
    documents: List[Any]
    try:
        documents = [json.loads(text)]
    except ValueError:
        try:
            import yaml
        except ImportError:
            raise InvalidManifestError(f"{source} is not JSON, and reading YAML needs PyYAML: "
                                       "pip install 'kubeless-runtime[kubernetes]'") from None
        try:
            documents = list(yaml.safe_load_all(text))
        except yaml.YAMLError as exc:
            raise InvalidManifestError(f"{source} is not valid YAML: {exc}") from None
    result: List[Dict[str, Any]] = []
    for document in documents:
        if document is None:
            continue
        if not isinstance(document, dict):
            raise InvalidManifestError(f"{source}: every document must be an object")
        if document.get("kind") == "List":
            result.extend(item for item in document.get("items") or [] if item)
        else:
            result.append(document)
    return result


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == {} or value == []


def _check_only(mapping: Any, allowed: set, path: str) -> Dict[str, Any]:
    if mapping is None:
        return {}
    if not isinstance(mapping, dict):
        raise InvalidManifestError(f"Function field {path} must be an object")
    for key, value in mapping.items():
        if key not in allowed and not _empty(value):
            raise UnsupportedFieldError(f"{path}.{key}", "the export does not map it")
    return mapping


def _text(value: Any, path: str) -> str:
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise InvalidManifestError(f"Function field {path} must be a string")
    return value


def _content(spec: Mapping[str, Any], name: str) -> tuple:
    """(bytes, bundle kind: "zip", "compressedtar" or "") of spec.function after its content
    type and checksum."""
    kind = _text(spec.get("function-content-type") or "text", "spec.function-content-type")
    parts = set(kind.split("+"))
    if "url" in parts:
        raise UnsupportedFieldError("spec.function-content-type",
                                    f"{kind!r} makes the cluster download the source; put the "
                                    "source itself in spec.function (text or base64+zip)")
    if (not parts <= {"text", "base64", "zip", "compressedtar"}
            or ("text" in parts and len(parts) > 1) or {"zip", "compressedtar"} <= parts):
        raise InvalidManifestError(f"function {name!r}: function-content-type {kind!r} is not "
                                   "one of text, base64, base64+zip, base64+compressedtar")
    raw = _text(spec.get("function"), "spec.function")
    if not raw:
        raise InvalidManifestError(f"function {name!r}: spec.function is empty")
    if "base64" in parts:
        try:
            data = base64.b64decode(raw, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise InvalidManifestError(f"function {name!r}: spec.function is not base64 "
                                       f"({exc})") from None
    elif parts & {"zip", "compressedtar"}:
        raise InvalidManifestError(f"function {name!r}: a bundle must be base64-encoded "
                                   "(function-content-type base64+zip or "
                                   "base64+compressedtar)")
    else:
        data = raw.encode("utf-8")
    checksum = _text(spec.get("checksum"), "spec.checksum")
    if checksum:
        algorithm, _, expected = checksum.partition(":")
        if algorithm != "sha256" or not expected:
            raise InvalidManifestError(f"function {name!r}: checksum {checksum!r} is not "
                                       "sha256:<hex>")
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected.lower():
            raise InvalidManifestError(f"function {name!r}: spec.checksum says {expected} but "
                                       f"the function's sha256 is {actual}; fix or remove it")
    return data, next((p for p in ("zip", "compressedtar") if p in parts), "")


def _deployment(value: Any, name: str) -> Dict[str, Any]:
    """replicas, the runtime container's env, memory, cpu and image from spec.deployment."""
    found: Dict[str, Any] = {"env": {}, "resources": {}}
    deployment = _check_only(value, {"spec", "metadata"}, "spec.deployment")
    _check_only(deployment.get("metadata"), {"name", "labels", "annotations", "namespace",
                                             "creationTimestamp"}, "spec.deployment.metadata")
    for key in ("labels", "annotations"):
        if not _empty((deployment.get("metadata") or {}).get(key)):
            raise UnsupportedFieldError(f"spec.deployment.metadata.{key}",
                                        "put labels and annotations on the Function's metadata")
    spec = _check_only(deployment.get("spec"), {"replicas", "template", "selector", "strategy"},
                       "spec.deployment.spec")
    if not _empty(spec.get("strategy")):
        raise UnsupportedFieldError("spec.deployment.spec.strategy", "the export keeps the "
                                    "default rolling update")
    if not _empty(spec.get("selector")) and spec["selector"] != {
            "matchLabels": function_labels(name)}:
        raise UnsupportedFieldError("spec.deployment.spec.selector",
                                    "the selector is always created-by=kubeless,function=NAME")
    if spec.get("replicas") is not None:
        replicas = spec["replicas"]
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise InvalidManifestError("spec.deployment.spec.replicas must be a whole number")
        found["replicas"] = replicas
    template = _check_only(spec.get("template"), {"spec", "metadata"},
                           "spec.deployment.spec.template")
    _check_only(template.get("metadata"), {"creationTimestamp"},
                "spec.deployment.spec.template.metadata")
    pod = _check_only(template.get("spec"), {"containers"},
                      "spec.deployment.spec.template.spec")
    containers = pod.get("containers") or []
    if not isinstance(containers, list):
        raise InvalidManifestError("spec.deployment.spec.template.spec.containers must be a list")
    if len(containers) > 1:
        raise UnsupportedFieldError("spec.deployment.spec.template.spec.containers[1]",
                                    "a function runs one container (no sidecars)")
    if containers:
        where = "spec.deployment.spec.template.spec.containers[0]"
        container = _check_only(containers[0], {"name", "env", "resources", "image"}, where)
        if container.get("name") not in (None, "", name):
            raise UnsupportedFieldError(f"{where}.name", "the container is named after the "
                                        "function")
        for index, item in enumerate(container.get("env") or []):
            if not isinstance(item, dict) or not item.get("name"):
                raise InvalidManifestError(f"{where}.env[{index}] needs a name")
            _check_only(item, {"name", "value"}, f"{where}.env[{index}]")
            found["env"][item["name"]] = _text(item.get("value"), f"{where}.env[{index}].value")
        if container.get("image"):
            found["image"] = _text(container["image"], f"{where}.image")
        resources = _check_only(container.get("resources"), {"limits", "requests"},
                                f"{where}.resources")
        memory: Dict[str, str] = {}
        for kind in ("limits", "requests"):
            values = _check_only(resources.get(kind), {"memory", "cpu"},
                                 f"{where}.resources.{kind}")
            for key, amount in values.items():
                if _empty(amount):
                    continue
                amount = _text(amount, f"{where}.resources.{kind}.{key}")
                if key == "memory":
                    memory[kind] = amount
                else:
                    found["resources"].setdefault(kind, {})[key] = amount
        if len(set(memory.values())) > 1:
            raise UnsupportedFieldError(f"{where}.resources.requests.memory",
                                        "the memory request always equals the limit (as "
                                        "`kubeless function deploy --memory` set them)")
        if memory:
            found["memory"] = memory.get("limits") or memory["requests"]
    return found


def _service(value: Any, name: str) -> Dict[str, Any]:
    """The Service's port, type and clusterIP, and the function's port (targetPort)."""
    found: Dict[str, Any] = {}
    service = _check_only(value, {"ports", "selector", "type", "clusterIP"}, "spec.service")
    if not _empty(service.get("selector")) and service["selector"] != function_labels(name):
        raise UnsupportedFieldError("spec.service.selector",
                                    "the selector is always created-by=kubeless,function=NAME")
    kind = service.get("type") or "ClusterIP"
    if kind not in ("ClusterIP", "NodePort", "LoadBalancer"):
        raise UnsupportedFieldError("spec.service.type", f"type {kind!r} does not route to the "
                                    "function's pods")
    found["service_type"] = kind
    if service.get("clusterIP"):
        found["cluster_ip"] = _text(service["clusterIP"], "spec.service.clusterIP")
    ports = service.get("ports") or []
    if len(ports) > 1:
        raise UnsupportedFieldError("spec.service.ports[1]", "a function serves one port")
    if ports:
        port = _check_only(ports[0], {"name", "port", "targetPort", "protocol", "nodePort"},
                           "spec.service.ports[0]")
        if port.get("protocol") not in (None, "TCP"):
            raise UnsupportedFieldError("spec.service.ports[0].protocol", "functions speak HTTP "
                                        "over TCP")
        if port.get("name") not in (None, "", SERVICE_PORT_NAME):
            raise UnsupportedFieldError("spec.service.ports[0].name",
                                        f"the port is named {SERVICE_PORT_NAME}")
        if not _empty(port.get("nodePort")):
            raise UnsupportedFieldError("spec.service.ports[0].nodePort",
                                        "let the cluster choose it")
        for key, target in (("port", "service_port"), ("targetPort", "port")):
            number = port.get(key)
            if number is None:
                continue
            if not isinstance(number, int) or isinstance(number, bool):
                raise UnsupportedFieldError(f"spec.service.ports[0].{key}",
                                            "only a port number is supported")
            found[target] = number
    return found


def convert_function(document: Mapping[str, Any], workdir: Path,
                     catalog: Optional[Catalog] = None) -> ConvertedFunction:
    """The DeploySpec and export options a Kubeless Function asks for.

    The source and dependency file are written under ``workdir`` (the spec names files, as the
    CLI's flags do); the caller keeps the folder until the spec is exported.
    """
    if document.get("kind") != "Function" or document.get("apiVersion") != API_VERSION:
        raise InvalidManifestError(f"expected kind Function, apiVersion {API_VERSION}; got "
                                   f"kind {document.get('kind')!r}, apiVersion "
                                   f"{document.get('apiVersion')!r}")
    metadata = document.get("metadata") or {}
    name = metadata.get("name")
    if not name or not isinstance(name, str):
        raise InvalidManifestError("the Function has no metadata.name")
    _check_only(metadata, {"name", "namespace", "labels", "annotations"} | _SERVER_METADATA,
                "metadata")
    if not _empty(metadata.get("generateName")):
        raise UnsupportedFieldError("metadata.generateName", "give metadata.name")
    spec = document.get("spec")
    if not isinstance(spec, dict):
        raise InvalidManifestError(f"function {name!r}: the Function has no spec")
    for key, value in spec.items():
        if key not in _SPEC_FIELDS and not _empty(value):
            raise UnsupportedFieldError(f"spec.{key}", "Kubeless v1beta1 has no such field")
    if not _empty(spec.get("horizontalPodAutoscaler")):
        raise UnsupportedFieldError("spec.horizontalPodAutoscaler",
                                    "the export makes no autoscaler; apply your own "
                                    "HorizontalPodAutoscaler for the Deployment after export")
    runtime = _text(spec.get("runtime"), "spec.runtime")
    handler = _text(spec.get("handler"), "spec.handler")
    content, bundle = _content(spec, name)
    deployment = _deployment(spec.get("deployment"), name)
    service = _service(spec.get("service"), name)
    env = dict(deployment["env"])
    if ENV_PORT in env:  # Kubeless took FUNC_PORT from the service; both must agree
        port_env = env.pop(ENV_PORT)
        if str(service.get("port", port_env)) != port_env:
            raise InvalidManifestError(f"function {name!r}: env FUNC_PORT={port_env} differs "
                                       f"from spec.service.ports[0].targetPort")
        service.setdefault("port", int(port_env) if port_env.isdigit() else port_env)

    catalog = catalog or load_catalog()
    known = None
    if runtime:
        try:
            known = catalog.runtime(runtime)
        except UnknownRuntimeError:
            if not deployment.get("image"):
                raise
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    module = handler.rpartition(".")[0] or "function"
    # A compressed tar may be gzip, bzip2 or xz: the bundle reader goes by its magic bytes.
    suffix = {"zip": ".zip", "compressedtar": ".tar.gz"}.get(
        bundle, known.file_name_suffix if known is not None else "")
    source = workdir / (Path(module).name + suffix)
    source.write_bytes(content)
    dependencies = None
    deps = _text(spec.get("deps"), "spec.deps")
    if deps.strip():
        dependencies = workdir / (known.dep_name if known is not None else "dependencies")
        dependencies.write_text(deps, encoding="utf-8")
    timeout_text = _text(spec.get("timeout"), "spec.timeout") or "180"
    try:
        timeout = float(timeout_text)
    except ValueError:
        raise InvalidManifestError(f"function {name!r}: spec.timeout {timeout_text!r} is not "
                                   "a number of seconds") from None
    labels = {key: _text(value, f"metadata.labels.{key}")
              for key, value in (metadata.get("labels") or {}).items()}
    annotations = {key: _text(value, f"metadata.annotations.{key}")
                   for key, value in (metadata.get("annotations") or {}).items()
                   if key != _LAST_APPLIED}
    deploy_spec = DeploySpec(
        name=name, runtime=runtime or None, from_file=str(source), handler=handler or None,
        dependencies=str(dependencies) if dependencies else None, env=env, timeout=timeout,
        runtime_image=deployment.get("image"), memory=deployment.get("memory", "128Mi"),
        port=service.get("port", DEFAULT_PORT))
    options = ExportOptions(
        namespace=metadata.get("namespace") or None, replicas=deployment.get("replicas", 1),
        labels=labels, annotations=annotations,
        service_port=service.get("service_port", DEFAULT_PORT),
        service_type=service.get("service_type", "ClusterIP"),
        cluster_ip=service.get("cluster_ip"), resources=deployment["resources"])
    return ConvertedFunction(spec=deploy_spec, options=options)


__all__ = ["API_VERSION", "ConvertedFunction", "convert_function", "load_manifests"]

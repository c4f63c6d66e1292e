"""A function as the plain Kubernetes objects Kubeless's controller created for it.

Pure: a :class:`DeploySpec` goes through the local deploy's :func:`plan_deployment`, so each
phase gets the same image, command and environment on a cluster as on Docker.  The objects:

* a ConfigMap holding the files the preparation phase puts in /kubeless (the source as
  ``<MOD_NAME><suffix>``, a zip bundle's checked entries, the dependency file as the catalog's
  depName), taken from the plan's archive so nothing is decided twice;
* a Deployment whose init containers run *preparation* (copy the ConfigMap's files into an
  emptyDir at /kubeless), *installation* and *compilation* as ``sh -c <catalog command>``
  with values only in env vars, then the runtime container with MOD_NAME, FUNC_HANDLER, ...,
  the memory limit, the catalog's liveness probe and a non-root security context;
* a Service on 8080 named after the function, port ``http-function-port``, as Kubeless named it.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ...contract import DEFAULT_PORT, INSTALL_VOLUME, TERMINATION_LOG
from ..catalog import Catalog
from ..deploy.plan import Plan, plan_deployment
from ..deploy.run import CA_ENV, CA_MOUNT
from ..deploy.spec import DeploySpec
from .errors import FunctionTooLargeError, InvalidManifestError

SERVICE_PORT_NAME = "http-function-port"
RUNTIME_UID = 1000
SOURCE_MOUNT = "/src"
CA_KEY = "kubeless-ca-bundle.crt"
CONFIGMAP_LIMIT = 1024 * 1024 - 4096  # Kubernetes refuses a ConfigMap over 1 MiB in all
ANNOTATION_PREFIX = "kubeless-runtime.io"
PREPARE_COMMAND = f'cp -R -L {SOURCE_MOUNT}/..data/. "$KUBELESS_INSTALL_VOLUME"/'
"""Fixed text: copy the files (not the ConfigMap volume's own ``..data`` links) into the volume.

A ConfigMap volume is a folder of links into ``..data``; copying ``..data/.`` takes exactly
the items, nested folders included, as regular files.
"""

_KEY_RE = re.compile(r"^[-._a-zA-Z0-9]+$")


@dataclass(frozen=True)
class ExportOptions:
    """What a Kubernetes deploy adds to a :class:`DeploySpec` (Kubeless's Function extras)."""

    namespace: Optional[str] = None
    replicas: int = 1
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    service_port: int = DEFAULT_PORT
    service_type: str = "ClusterIP"
    cluster_ip: Optional[str] = None
    resources: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Extra requests/limits (e.g. cpu); the memory limit always comes from the spec."""
    image_pull_policy: str = "IfNotPresent"


def function_labels(name: str) -> Dict[str, str]:
    """The labels Kubeless put on every object of a function (and the selector)."""
    return {"created-by": "kubeless", "function": name}


def archive_files(archive: bytes) -> List[Tuple[str, bytes, int]]:
    """(path below /kubeless, content, mode) of every file in a plan's preparation archive."""
    root = INSTALL_VOLUME.strip("/") + "/"
    files = []
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            if not member.isfile() or not member.name.startswith(root):
                continue
            handle = tar.extractfile(member)
            data = handle.read() if handle is not None else b""
            files.append((member.name[len(root):], data, member.mode & 0o777))
    return files


def _config_key(path: str, used: set) -> str:
    """A ConfigMap key for a file path ('/' is not allowed in keys, so it becomes '_')."""
    key = path if _KEY_RE.match(path) else re.sub(r"[^-._a-zA-Z0-9]", "_", path)
    key = key.lstrip(".") or "file"
    candidate, number = key, 1
    while candidate in used or candidate == CA_KEY:
        number += 1
        candidate = f"{key}.{number}"
    used.add(candidate)
    return candidate


def configmap(plan: Plan, labels: Mapping[str, str], namespace: Optional[str],
              ca_bundle: Optional[bytes]) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
    """The ConfigMap and the volume items that lay its keys out as /kubeless's files."""
    data: Dict[str, str] = {}
    binary: Dict[str, str] = {}
    items: List[Dict[str, Any]] = []
    used: set = set()
    size = 0
    for path, content, mode in archive_files(plan.archive):
        key = _config_key(path, used)
        size += len(content) + len(key)
        try:
            data[key] = content.decode("utf-8")
        except UnicodeDecodeError:
            binary[key] = base64.b64encode(content).decode("ascii")
        item: Dict[str, Any] = {"key": key, "path": path}
        if mode & 0o111:
            item["mode"] = 0o755
        items.append(item)
    if ca_bundle is not None:
        data[CA_KEY] = ca_bundle.decode("utf-8", "replace")
        size += len(ca_bundle)
    if size > CONFIGMAP_LIMIT:
        raise FunctionTooLargeError(
            f"the source and dependency files take {size // 1024} KiB; a ConfigMap holds at "
            "most 1 MiB: move large files into a custom runtime image (--runtime-image)",
            function=plan.name)
    document: Dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": _metadata(plan.name, labels, namespace)}
    if data:
        document["data"] = data
    if binary:
        document["binaryData"] = binary
    return document, items


def _metadata(name: str, labels: Mapping[str, str], namespace: Optional[str],
              annotations: Optional[Mapping[str, str]] = None) -> Dict[str, Any]:
    meta: Dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def _literal(text: str) -> str:
    """``text`` as the kubelet passes it on: it expands ``$(VAR)`` in env values and commands
    and turns ``$$`` into ``$``.  The plan already expanded the catalog's references, so what
    is left is literal (a shell's ``$(...)`` or ``$$`` included)."""
    return text.replace("$", "$$")


def _env(values: Mapping[str, str]) -> List[Dict[str, str]]:
    return [{"name": key, "value": _literal(value)} for key, value in values.items()]


def liveness_probe(plan: Plan) -> Optional[Dict[str, Any]]:
    """The catalog's livenessProbeInfo, aimed at the function's port (none for a custom runtime)."""
    if plan.runtime is None or not plan.runtime.liveness_probe:
        return None
    probe = copy.deepcopy(dict(plan.runtime.liveness_probe))
    if "httpGet" in probe:
        probe["httpGet"] = dict(probe["httpGet"], port=plan.port)
    return probe


def _root_phase_context() -> Dict[str, Any]:
    # The phases run as root, as the local deploy runs them: installers write into
    # /kubeless and their own caches.  The runtime container never does.
    return {"runAsUser": 0, "runAsNonRoot": False}


def _runtime_context() -> Dict[str, Any]:
    return {"runAsUser": RUNTIME_UID, "runAsGroup": RUNTIME_UID, "runAsNonRoot": True,
            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def preparation_image(plan: Plan) -> str:
    """An image with ``sh`` and ``cp`` of this runtime: the installation image (present for
    every catalog runtime, even without dependencies), else the compilation one, else the
    runtime image itself (a custom image)."""
    if plan.runtime is not None:
        for phase in ("installation", "compilation"):
            if plan.runtime.has_phase(phase):
                return plan.images.get(phase) or plan.runtime.image(phase).image
    return plan.images["runtime"]


def deployment(plan: Plan, options: ExportOptions, labels: Mapping[str, str],
               items: List[Dict[str, Any]], ca: bool) -> Dict[str, Any]:
    """The Deployment: preparation/installation/compilation init containers, then the runtime."""
    name = plan.name
    work = {"name": name, "mountPath": INSTALL_VOLUME}
    volumes: List[Dict[str, Any]] = [{"name": name, "emptyDir": {}}]
    init: List[Dict[str, Any]] = []
    pull = options.image_pull_policy
    if items:
        volumes.append({"name": f"{name}-deps",
                        "configMap": {"name": name, "items": items, "defaultMode": 0o644}})
        init.append({
            "name": "prepare", "image": preparation_image(plan), "imagePullPolicy": pull,
            "command": ["/bin/sh", "-c", _literal(PREPARE_COMMAND)],
            "env": _env({"KUBELESS_INSTALL_VOLUME": INSTALL_VOLUME}),
            "volumeMounts": [work, {"name": f"{name}-deps", "mountPath": SOURCE_MOUNT,
                                    "readOnly": True}],
            "securityContext": _root_phase_context(),
            "terminationMessagePath": TERMINATION_LOG,
            "terminationMessagePolicy": "FallbackToLogsOnError",
        })
    if ca:
        volumes.append({"name": f"{name}-ca", "configMap": {
            "name": name, "items": [{"key": CA_KEY, "path": Path(CA_MOUNT).name}]}})
    for phase in ("installation", "compilation"):
        if phase not in plan.images:
            continue
        values = dict(plan.phase_env[phase])
        mounts = [dict(work)]
        if ca:
            values.update({key: CA_MOUNT for key in CA_ENV})
            mounts.append({"name": f"{name}-ca", "mountPath": str(Path(CA_MOUNT).parent),
                           "readOnly": True})
        container: Dict[str, Any] = {
            "name": phase, "image": plan.images[phase], "imagePullPolicy": pull,
            "env": _env(values), "workingDir": INSTALL_VOLUME, "volumeMounts": mounts,
            "securityContext": _root_phase_context(),
            "terminationMessagePath": TERMINATION_LOG,
            "terminationMessagePolicy": "FallbackToLogsOnError",
        }
        if plan.commands.get(phase):
            container["command"] = ["/bin/sh", "-c", _literal(plan.commands[phase])]
        init.append(container)
    memory = plan.runtime_env.get("FUNC_MEMORY_LIMIT") or str(plan.memory)
    resources: Dict[str, Dict[str, str]] = {
        kind: dict(values) for kind, values in (options.resources or {}).items()}
    resources.setdefault("limits", {})["memory"] = memory
    resources.setdefault("requests", {})["memory"] = memory
    runtime: Dict[str, Any] = {
        "name": name, "image": plan.images["runtime"], "imagePullPolicy": pull,
        "env": _env(plan.runtime_env),
        "ports": [{"containerPort": plan.port, "protocol": "TCP"}],
        "resources": resources,
        "volumeMounts": [dict(work)],
        "securityContext": _runtime_context(),
        "terminationMessagePath": TERMINATION_LOG,
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    probe = liveness_probe(plan)
    if probe:
        runtime["livenessProbe"] = probe
    annotations = dict(options.annotations)
    annotations.update({f"{ANNOTATION_PREFIX}/runtime": plan.runtime_name,
                        f"{ANNOTATION_PREFIX}/handler": plan.handler,
                        f"{ANNOTATION_PREFIX}/probe-path": plan.probe_path})
    pod_spec: Dict[str, Any] = {
        "automountServiceAccountToken": False,
        "securityContext": {"fsGroup": RUNTIME_UID},
        "volumes": volumes,
    }
    if init:
        pod_spec["initContainers"] = init
    pod_spec["containers"] = [runtime]
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": _metadata(name, labels, options.namespace, annotations),
        "spec": {
            "replicas": options.replicas,
            "selector": {"matchLabels": function_labels(name)},
            "template": {"metadata": {"labels": dict(labels)}, "spec": pod_spec},
        },
    }


def service(plan: Plan, options: ExportOptions, labels: Mapping[str, str]) -> Dict[str, Any]:
    """The Service Kubeless made: the function's name, port ``http-function-port``."""
    spec: Dict[str, Any] = {
        "type": options.service_type,
        "selector": function_labels(plan.name),
        "ports": [{"name": SERVICE_PORT_NAME, "port": options.service_port,
                   "targetPort": plan.port, "protocol": "TCP"}],
    }
    if options.cluster_ip:
        spec["clusterIP"] = options.cluster_ip
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": _metadata(plan.name, labels, options.namespace), "spec": spec}


def export_objects(spec: DeploySpec, catalog: Optional[Catalog] = None,
                   options: Optional[ExportOptions] = None,
                   host_env: Optional[Mapping[str, str]] = None) -> List[Dict[str, Any]]:
    """ConfigMap, Deployment and Service for ``spec``; the errors of the local deploy's plan."""
    options = options or ExportOptions()
    if not isinstance(options.replicas, int) or options.replicas < 0:
        raise InvalidManifestError(f"replicas {options.replicas!r} must be a whole number >= 0")
    plan = plan_deployment(spec, catalog=catalog, host_env=host_env)
    ca_bundle = None
    if spec.ca_bundle:
        try:
            ca_bundle = Path(spec.ca_bundle).read_bytes()
        except OSError as exc:
            raise InvalidManifestError(f"cannot read --ca-bundle {spec.ca_bundle}: "
                                       f"{exc.strerror or exc}") from None
    labels = dict(options.labels)
    labels.update(function_labels(plan.name))
    config, items = configmap(plan, labels, options.namespace, ca_bundle)
    return [config, deployment(plan, options, labels, items, ca_bundle is not None),
            service(plan, options, labels)]


def to_json(objects: List[Dict[str, Any]]) -> str:
    """A ``v1`` List that ``kubectl apply -f -`` accepts."""
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}, indent=2) + "\n"


def to_yaml(objects: List[Dict[str, Any]]) -> str:
    """Multi-document YAML (needs PyYAML, which the ``[kubernetes]`` extra brings)."""
    try:
        import yaml
    except ImportError:
        raise InvalidManifestError("YAML output needs PyYAML: pip install "
                                   "'kubeless-runtime[kubernetes]', or use -o json") from None
    return yaml.safe_dump_all(objects, sort_keys=False, default_flow_style=False)


__all__ = ["ExportOptions", "archive_files", "export_objects", "function_labels",
           "liveness_probe", "preparation_image", "to_json", "to_yaml"]

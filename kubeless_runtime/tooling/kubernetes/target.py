"""``--target kubernetes``: deploy, call, list, read logs of and delete functions on a cluster.

Through the official ``kubernetes`` client (the ``[kubernetes]`` extra, imported here only).
``deploy`` creates what :func:`export_objects` prints, waits for the rollout and, when an
init container fails, raises the same :class:`DeployError` the local deploy raises, with the
container's termination message and log tail.  Functions are reached only through a
port-forward on 127.0.0.1, never through pod or node addresses.
"""

from __future__ import annotations

import dataclasses
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..catalog import Catalog
from ..deploy.errors import (
    DeployError,
    FunctionExistsError,
    FunctionNotFoundError,
    PhaseTimeoutError,
)
from ..deploy.run import DEFAULT_PHASE_TIMEOUT, LOG_TAIL_LINES, _fallback_message
from ..deploy.spec import DeploySpec
from ..deploy.wait import probe
from .errors import KubernetesUnavailableError
from .export import ANNOTATION_PREFIX, ExportOptions, export_objects

PHASE_OF_CONTAINER = {"prepare": "preparation", "installation": "installation",
                      "compilation": "compilation"}
IMAGE_PROBLEMS = ("ErrImageNeverPull", "ErrImagePull", "ImagePullBackOff", "InvalidImageName",
                  "CreateContainerConfigError", "CreateContainerError")
SELECTOR = "created-by=kubeless"
POLL_SECONDS = 1.0
SCHEDULE_SECONDS = 120.0
"""Time allowed for scheduling and starting the pod's first container (image already there)."""


def import_kubernetes() -> Any:
    try:
        import kubernetes
    except ImportError:
        raise KubernetesUnavailableError(
            "--target kubernetes needs the Kubernetes client: pip install "
            "'kubeless-runtime[kubernetes]'") from None
    return kubernetes


@dataclass
class Cluster:
    """A connection to one namespace of a cluster, from a kubeconfig."""

    kubeconfig: Optional[str] = None
    namespace: Optional[str] = None
    context: Optional[str] = None
    api: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        k8s = import_kubernetes()
        self.k8s = k8s
        try:
            self.api = self.api or k8s.config.new_client_from_config(
                config_file=self.kubeconfig, context=self.context)
            if not self.namespace:
                _contexts, active = k8s.config.list_kube_config_contexts(
                    config_file=self.kubeconfig)
                wanted = self.context or (active or {}).get("name")
                for item in _contexts or []:
                    if item.get("name") == wanted:
                        self.namespace = (item.get("context") or {}).get("namespace")
        except (k8s.config.ConfigException, OSError) as exc:
            raise KubernetesUnavailableError(
                f"cannot load a kubeconfig ({exc}); set KUBECONFIG or pass --kubeconfig "
                "(scripts/kubernetes-up.sh prints the path of its own)") from None
        self.namespace = self.namespace or "default"
        self.core = k8s.client.CoreV1Api(self.api)
        self.apps = k8s.client.AppsV1Api(self.api)
        self.ApiException = k8s.client.exceptions.ApiException

    def check(self, timeout: float = 5.0) -> str:
        """The cluster's version, or :class:`KubernetesUnavailableError`."""
        try:
            info = self.k8s.client.VersionApi(self.api).get_code(_request_timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - any failure means "no cluster answers"
            raise KubernetesUnavailableError(
                f"no Kubernetes API answers at {self.api.configuration.host} "
                f"({type(exc).__name__}); start one (scripts/kubernetes-up.sh) or fix "
                "--kubeconfig") from None
        return str(info.git_version)

    def _missing(self, exc: Exception) -> bool:
        return isinstance(exc, self.ApiException) and exc.status == 404

    # -- objects --
    def create(self, objects: List[Dict[str, Any]]) -> None:
        ns = self.namespace
        for document in objects:
            kind = document["kind"]
            if kind == "ConfigMap":
                self.core.create_namespaced_config_map(ns, document)
            elif kind == "Deployment":
                self.apps.create_namespaced_deployment(ns, document)
            elif kind == "Service":
                self.core.create_namespaced_service(ns, document)
            else:
                raise ValueError(f"unexpected kind {kind}")

    def exists(self, name: str) -> bool:
        for read in (self.apps.read_namespaced_deployment, self.core.read_namespaced_service,
                     self.core.read_namespaced_config_map):
            try:
                read(name, self.namespace)
                return True
            except self.ApiException as exc:
                if not self._missing(exc):
                    raise
        return False

    def delete(self, name: str, wait: float = 90.0) -> bool:
        """Delete the function's Deployment, Service and ConfigMap; whether any existed.

        Waits (at most ``wait`` seconds) until they and the pods are gone, so the name can be
        deployed again at once.
        """
        found = False
        body = self.k8s.client.V1DeleteOptions(propagation_policy="Foreground")
        for remove in (self.apps.delete_namespaced_deployment,
                       self.core.delete_namespaced_service,
                       self.core.delete_namespaced_config_map):
            try:
                remove(name, self.namespace, body=body)
                found = True
            except self.ApiException as exc:
                if not self._missing(exc):
                    raise
        deadline = time.monotonic() + wait
        for _attempt in range(int(wait / POLL_SECONDS) + 1):
            if not self.exists(name) and not self.pods(name):
                break
            if time.monotonic() >= deadline:
                break
            time.sleep(POLL_SECONDS)
        return found

    def pods(self, name: str) -> List[Any]:
        selector = f"{SELECTOR},function={name}"
        return list(self.core.list_namespaced_pod(self.namespace,
                                                  label_selector=selector).items)

    def ready_pod(self, name: str) -> Any:
        """A pod of the function whose runtime container is ready, or FunctionNotFoundError."""
        pods = self.pods(name)
        if not pods and not self.exists(name):
            raise FunctionNotFoundError(name)
        for pod in pods:
            if pod.metadata.deletion_timestamp is None and all(
                    status.ready for status in (pod.status.container_statuses or [])) and \
                    pod.status.container_statuses:
                return pod
        return None

    def logs(self, pod: str, container: str, tail: Optional[int] = None,
             previous: bool = False) -> str:
        kwargs: Dict[str, Any] = {"container": container, "previous": previous}
        if tail is not None:
            kwargs["tail_lines"] = int(tail)
        try:
            return self.core.read_namespaced_pod_log(pod, self.namespace, **kwargs) or ""
        except self.ApiException:
            return ""

    def port_forward(self, pod: str, port: int) -> PortForward:
        return PortForward(self, pod, port)


class PortForward:
    """``kubectl port-forward`` in-process: 127.0.0.1:``local_port`` -> the pod's ``port``.

    Each accepted connection gets its own forwarding stream from the client library.
    """

    def __init__(self, cluster: Cluster, pod: str, port: int) -> None:
        self.cluster, self.pod, self.port = cluster, pod, port
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.local_port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.local_port}"
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True,
                                       name=f"port-forward {pod}:{port}")
        self.thread.start()

    def __enter__(self) -> PortForward:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self.closed.set()
        try:
            self.listener.close()
        except OSError:
            pass

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(conn,), daemon=True).start()

    def _relay(self, conn: socket.socket) -> None:
        from kubernetes.stream import portforward

        forward = None
        try:
            forward = portforward(self.cluster.core.connect_get_namespaced_pod_portforward,
                                  self.pod, self.cluster.namespace, ports=str(self.port))
            remote = forward.socket(self.port)
            remote.setblocking(True)
            _pump(conn, remote)
        except Exception:  # noqa: BLE001 - the client sees a closed connection
            pass
        finally:
            conn.close()
            if forward is not None:
                forward.close()


def _pump(a: Any, b: Any, idle: float = 300.0) -> None:
    """Copy bytes both ways until either side closes (or ``idle`` seconds pass)."""
    peers = {a.fileno(): (a, b), b.fileno(): (b, a)}
    while True:
        readable, _, _ = select.select(list(peers), [], [], idle)
        if not readable:
            return
        for fd in readable:
            source, target = peers[fd]
            data = source.recv(65536)
            if not data:
                return
            target.sendall(data)


@dataclass
class KubeDeployment:
    """A function deployed on a cluster (what ``ls`` shows)."""

    name: str
    runtime: str
    handler: str
    ready: int
    replicas: int
    probe_path: str = "/healthz"
    port: int = 8080


def _deployment_handle(item: Any) -> KubeDeployment:
    annotations = item.metadata.annotations or {}
    containers = item.spec.template.spec.containers or []
    ports = (containers[0].ports or []) if containers else []
    return KubeDeployment(
        name=item.metadata.name,
        runtime=annotations.get(f"{ANNOTATION_PREFIX}/runtime", ""),
        handler=annotations.get(f"{ANNOTATION_PREFIX}/handler", ""),
        ready=item.status.ready_replicas or 0, replicas=item.spec.replicas or 0,
        probe_path=annotations.get(f"{ANNOTATION_PREFIX}/probe-path", "/healthz"),
        port=ports[0].container_port if ports else 8080)


def list_functions(cluster: Cluster) -> List[KubeDeployment]:
    items = cluster.apps.list_namespaced_deployment(cluster.namespace,
                                                    label_selector=SELECTOR).items
    return sorted((_deployment_handle(item) for item in items), key=lambda d: d.name)


def get_function(cluster: Cluster, name: str) -> KubeDeployment:
    try:
        item = cluster.apps.read_namespaced_deployment(name, cluster.namespace)
    except cluster.ApiException as exc:
        if cluster._missing(exc):
            raise FunctionNotFoundError(name) from None
        raise
    return _deployment_handle(item)


def function_logs(cluster: Cluster, name: str, tail: Optional[int] = None) -> str:
    pods = cluster.pods(name)
    if not pods:
        get_function(cluster, name)  # FunctionNotFoundError when there is no function at all
        return ""
    return "".join(cluster.logs(pod.metadata.name, name, tail) for pod in pods)


def delete_function(cluster: Cluster, name: str) -> None:
    if not cluster.delete(name):
        raise FunctionNotFoundError(name)


def _terminated(status: Any) -> Optional[Any]:
    """The failed termination of a container status, now or in its last state."""
    for state in (status.state, status.last_state):
        terminated = getattr(state, "terminated", None) if state is not None else None
        if terminated is not None and terminated.exit_code not in (0, None):
            return terminated
    return None


class _Waiter:
    """Watches the pods of one rollout until the runtime is ready or a phase fails."""

    def __init__(self, cluster: Cluster, name: str, phase_timeout: float,
                 progress: Callable[[str], None]) -> None:
        self.cluster, self.name, self.phase_timeout = cluster, name, phase_timeout
        self.say = progress
        self.seen: Dict[str, float] = {}

    def _fail(self, pod: Any, container: str, terminated: Any) -> None:
        phase = PHASE_OF_CONTAINER.get(container, "runtime")
        logs = self.cluster.logs(pod.metadata.name, container, LOG_TAIL_LINES,
                                 previous=phase == "runtime")
        message = (terminated.message or "").strip() or _fallback_message(logs)
        if terminated.reason == "OOMKilled":
            message = f"OOMKilled (memory limit reached); {message}"
        code = terminated.exit_code
        if phase == "runtime":
            raise DeployError("runtime", f"container exited with code {code}: {message}", logs,
                              function=self.name)
        raise DeployError(phase, f"exit code {code}: {message}", logs, function=self.name)

    def _check_status(self, pod: Any, status: Any) -> None:
        terminated = _terminated(status)
        if terminated is not None:
            self._fail(pod, status.name, terminated)
        waiting = getattr(status.state, "waiting", None)
        phase = PHASE_OF_CONTAINER.get(status.name, "runtime")
        if waiting is not None and waiting.reason in IMAGE_PROBLEMS:
            raise DeployError(phase, f"{waiting.reason}: {waiting.message or ''}; build the "
                              "image and load it into the cluster (scripts/kubernetes-up.sh "
                              "loads kubeless-runtime/* images)", function=self.name)
        if getattr(status.state, "running", None) is not None and status.name not in self.seen:
            self.seen[status.name] = time.monotonic()
            self.say(f"[{self.name}] {phase} phase running ({status.image})")
        started = self.seen.get(status.name)
        if (phase != "runtime" and started is not None and status.state.running is not None
                and time.monotonic() - started > self.phase_timeout):
            raise PhaseTimeoutError(phase, f"did not finish within {self.phase_timeout:.0f}s "
                                    "(raise phase_timeout for big dependency sets)",
                                    self.cluster.logs(pod.metadata.name, status.name,
                                                      LOG_TAIL_LINES), function=self.name)

    def wait_ready(self, deadline: float) -> Any:
        """The first pod whose runtime container is ready; a DeployError on any failure."""
        for _attempt in range(int((deadline - time.monotonic()) / POLL_SECONDS) + 2):
            for pod in self.cluster.pods(self.name):
                if pod.metadata.deletion_timestamp is not None:
                    continue
                for status in pod.status.init_container_statuses or []:
                    self._check_status(pod, status)
                for status in pod.status.container_statuses or []:
                    self._check_status(pod, status)
                statuses = pod.status.container_statuses or []
                if statuses and all(status.ready for status in statuses):
                    return pod
            if time.monotonic() >= deadline:
                break
            time.sleep(POLL_SECONDS)
        running = ", ".join(sorted(self.seen)) or "none started"
        raise DeployError("runtime", f"not ready within the deploy's time limit (containers "
                          f"seen running: {running}); see `kubectl describe pod -l "
                          f"function={self.name}`", function=self.name)


def deploy(spec: DeploySpec, cluster: Cluster, *, catalog: Optional[Catalog] = None,
           options: Optional[ExportOptions] = None,
           phase_timeout: float = DEFAULT_PHASE_TIMEOUT, keep_on_failure: bool = False,
           progress: Optional[Callable[[str], None]] = None) -> Tuple[KubeDeployment, Any]:
    """Create the function's objects, wait until a pod is ready and its probe answers 200.

    Returns the handle and the ready pod.  A failure raises :class:`DeployError` (the phase,
    its termination message and log tail) and removes the objects unless ``keep_on_failure``.
    """
    say = progress or (lambda line: None)
    base = options or ExportOptions()
    options = dataclasses.replace(base, namespace=cluster.namespace)
    objects = export_objects(spec, catalog=catalog, options=options)
    if cluster.exists(spec.name):
        raise FunctionExistsError(spec.name)
    cluster.create(objects)
    say(f"[{spec.name}] created ConfigMap, Deployment and Service in namespace "
        f"{cluster.namespace}")
    try:
        phases = sum(1 for c in objects[1]["spec"]["template"]["spec"].get("initContainers", []))
        deadline = (time.monotonic() + SCHEDULE_SECONDS + phases * phase_timeout
                    + float(spec.probe_timeout))
        pod = _Waiter(cluster, spec.name, phase_timeout, say).wait_ready(deadline)
        handle = get_function(cluster, spec.name)
        _wait_probe(cluster, pod, handle, float(spec.probe_timeout))
        return get_function(cluster, spec.name), pod
    except BaseException:
        if not keep_on_failure:
            try:
                cluster.delete(spec.name)
            except Exception:  # noqa: BLE001 - best effort; the original error matters
                pass
        raise


def _wait_probe(cluster: Cluster, pod: Any, handle: KubeDeployment, timeout: float) -> None:
    """Like the local deploy: the first 200 on the probe path, through a port-forward."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    with cluster.port_forward(pod.metadata.name, handle.port) as forward:
        for _attempt in range(int(timeout / 0.5) + 2):
            status, last = probe(forward.url + handle.probe_path,
                                 timeout=max(0.5, min(5.0, deadline - time.monotonic())))
            if status == 200:
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(0.5)
    raise DeployError("runtime", f"not ready within {timeout:.0f}s: GET {handle.probe_path} "
                      f"-> {last}", cluster.logs(pod.metadata.name, handle.name, LOG_TAIL_LINES),
                      function=handle.name)


def forward_to(cluster: Cluster, name: str) -> PortForward:
    """A port-forward to a ready pod of ``name`` (use it as a context manager)."""
    handle = get_function(cluster, name)
    pod = cluster.ready_pod(name)
    if pod is None:
        raise DeployError("runtime", f"no ready pod ({handle.ready}/{handle.replicas} ready); "
                          f"see `kubeless-runtime logs {name} --target kubernetes`",
                          function=name)
    return cluster.port_forward(pod.metadata.name, handle.port)


__all__ = ["Cluster", "KubeDeployment", "PortForward", "delete_function",
           "deploy", "forward_to", "function_logs", "get_function", "import_kubernetes",
           "list_functions"]

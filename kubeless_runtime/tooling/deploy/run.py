"""Run a deploy on the local Docker engine exactly as Kubeless runs a function in a pod.

Kubeless runs a function as a pod: init containers for the *preparation* (the source lands in
a volume mounted at /kubeless), *installation* (dependencies) and *compilation* phases, then
the *runtime* container with MOD_NAME, FUNC_HANDLER, ... and a liveness probe.  Here each
phase is a container sharing one Docker volume at /kubeless, so a runtime image that works
here works in Kubeless, and the conformance suite can drive real images.

The runtime container is published on 127.0.0.1 only: a local deploy is not a public one.
A failing phase raises :class:`DeployError` with the Kubernetes-style termination message
(the file /dev/termination-log the phase wrote, or its last log lines) and the log tail, and
removes exactly the objects this deploy created, never those of a concurrent deploy.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from ...contract import INSTALL_VOLUME, TERMINATION_LOG
from ..catalog import Catalog
from ..engine import extra_labels, get_client, import_docker, is_local_engine
from .errors import (
    DeployError,
    EngineRefusedError,
    FunctionExistsError,
    InvalidSpecError,
    PhaseTimeoutError,
)
from .handles import (
    LABEL_DEPLOY_ID,
    LABEL_FUNCTION,
    LABEL_HANDLER,
    LABEL_MEMORY,
    LABEL_PHASE,
    LABEL_PORT,
    LABEL_RUNTIME,
    LABEL_STATE,
    Deployment,
    deployment_from_container,
    remove_labelled,
    state_root,
)
from .plan import Plan, plan_deployment
from .spec import DeploySpec
from .wait import probe

CA_MOUNT = "/etc/kubeless/ca-bundle.crt"
CA_ENV = ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS",
          "NPM_CONFIG_CAFILE", "KUBELESS_CA_BUNDLE")
LOG_TAIL_LINES = 40
TERMINATION_MESSAGE_MAX = 4096  # bytes, as Kubernetes
DEFAULT_PHASE_TIMEOUT = 900.0


def deploy(spec: DeploySpec, client: Any = None, *, catalog: Optional[Catalog] = None,
           phase_timeout: float = DEFAULT_PHASE_TIMEOUT, keep_on_failure: bool = False,
           progress: Optional[Callable[[str], None]] = None) -> Deployment:
    """Deploy ``spec.name`` and wait until its probe answers 200.

    Phases, in Kubeless's order: preparation (source and dependency file into the volume at
    /kubeless: a file as ``<MOD_NAME><fileNameSuffix>``, a zip extracted safely, a custom
    runtime's file as ``/kubeless/function``; the dependency file as the catalog's depName),
    installation (only with ``dependencies``) and compilation when the catalog has them, then
    the runtime container, published on 127.0.0.1 only.  A failure raises
    :class:`DeployError` and removes what was created unless ``keep_on_failure``.

    ``timeout`` is the function's FUNC_TIMEOUT; ``probe_timeout`` bounds the wait for the
    first 200; ``phase_timeout`` bounds each installation/compilation container.  With a
    ``runtime`` the catalog does not know, ``runtime_image`` is required and the probe accepts
    any HTTP answer on ``/``.  ``progress`` receives one line per phase.
    """
    plan = plan_deployment(spec, catalog=catalog)
    ca_bundle = spec.ca_bundle
    if ca_bundle is None:
        ca_bundle = os.environ.get("KUBELESS_CA_BUNDLE") or None
    if ca_bundle and not Path(ca_bundle).is_file():
        raise InvalidSpecError(f"--ca-bundle {ca_bundle} does not exist", function=spec.name)
    client = get_client(client)
    return _Deployer(client, plan, ca_bundle, spec.probe_timeout, phase_timeout,
                     keep_on_failure, progress).run()


class _Deployer:
    """Runs a :class:`Plan` on the engine; one instance per deploy."""

    def __init__(self, client: Any, plan: Plan, ca_bundle: Optional[str],
                 probe_timeout: float, phase_timeout: float, keep_on_failure: bool,
                 progress: Optional[Callable[[str], None]] = None) -> None:
        self.docker = import_docker()
        self.say = progress or (lambda line: None)
        self.client = client
        self.plan = plan
        self.ca_bundle = str(Path(ca_bundle).resolve()) if ca_bundle else None
        self.probe_timeout = float(probe_timeout)
        self.phase_timeout = float(phase_timeout)
        self.keep_on_failure = keep_on_failure
        self.local = is_local_engine(client)
        self.state_dir: Optional[Path] = None
        self.volume_name = f"kubeless-{plan.name}-{secrets.token_hex(3)}"
        self.archive_pending = True
        self.phase = "preparation"
        self.deploy_id = secrets.token_hex(8)
        self.labels = {**extra_labels(), LABEL_FUNCTION: plan.name,
                       LABEL_DEPLOY_ID: self.deploy_id, LABEL_RUNTIME: plan.runtime_name,
                       LABEL_HANDLER: plan.handler, LABEL_PORT: str(plan.port),
                       LABEL_MEMORY: str(plan.memory)}

    def run(self) -> Deployment:
        """Run the phases; engine errors become a DeployError of the phase they hit."""
        try:
            return self._run()
        except self.docker.errors.APIError as exc:
            explanation = getattr(exc, "explanation", None) or str(exc)
            raise EngineRefusedError(self.phase, f"the Docker engine refused: {explanation}",
                                     function=self.plan.name) from None

    def _run(self) -> Deployment:
        name = self.plan.name
        self._check_free()
        for note in self.plan.notes:
            self.say(note)
        for phase, image in self.plan.images.items():
            self._ensure_image(phase, image)
        try:
            if self.local:
                root = state_root()
                root.mkdir(mode=0o755, exist_ok=True)
                self.state_dir = Path(tempfile.mkdtemp(prefix=f"fn-{name}-", dir=root))
                self.state_dir.chmod(0o755)
                self.labels[LABEL_STATE] = str(self.state_dir)
            self.client.volumes.create(name=self.volume_name, driver="local",
                                       labels=dict(self.labels))
            for phase in ("installation", "compilation"):
                if phase in self.plan.images:
                    self.phase = phase
                    self._run_phase(phase)
            self.phase = "runtime"
            return self._run_runtime()
        except BaseException:
            if not self.keep_on_failure:
                try:  # only what this deploy made: a concurrent deploy's objects stay
                    remove_labelled(self.client, f"{LABEL_DEPLOY_ID}={self.deploy_id}")
                except Exception:  # noqa: BLE001 - best effort; the original error matters
                    pass
                if self.state_dir is not None:
                    shutil.rmtree(self.state_dir, ignore_errors=True)
            raise

    # -- checks --
    def _check_free(self) -> None:
        label = f"{LABEL_FUNCTION}={self.plan.name}"
        if (self.client.containers.list(all=True, filters={"label": label})
                or self.client.volumes.list(filters={"label": label})):
            raise FunctionExistsError(self.plan.name)
        try:
            self.client.containers.get(f"kubeless-{self.plan.name}")
        except self.docker.errors.NotFound:
            return
        raise DeployError("preparation", f"a container named kubeless-{self.plan.name} exists "
                          "but is not ours; remove it or pick another function name",
                          function=self.plan.name)

    def _ensure_image(self, phase: str, image: str) -> None:
        try:
            self.client.images.get(image)
            return
        except self.docker.errors.ImageNotFound:
            pass
        except self.docker.errors.APIError as exc:
            raise DeployError(phase, f"cannot inspect image {image}: {exc}",
                              function=self.plan.name) from None
        hint = (f"build it with `kubeless-runtime build {self.plan.runtime_name}`"
                if self.plan.runtime is not None else "pull or build it first")
        try:
            self.client.images.pull(image)
        except Exception as exc:  # noqa: BLE001 - any pull failure means the same thing here
            raise DeployError(phase, f"image {image} is not present and could not be pulled "
                              f"({str(exc).splitlines()[0][:200]}); {hint}",
                              function=self.plan.name) from None

    # -- containers --
    def _termination_mount(self, phase: str) -> List[Any]:
        if self.state_dir is None:
            return []
        path = self.state_dir / f"{phase}.termination-log"
        path.write_text("")
        path.chmod(0o666)  # the runtime runs as uid 1000, as Kubernetes' file is
        return [self.docker.types.Mount(TERMINATION_LOG, str(path), type="bind")]

    def _mounts(self, phase: str) -> List[Any]:
        mounts = [self.docker.types.Mount(INSTALL_VOLUME, self.volume_name, type="volume")]
        mounts += self._termination_mount(phase)
        if self.ca_bundle and phase != "runtime" and self.local:
            mounts.append(self.docker.types.Mount(CA_MOUNT, self.ca_bundle, type="bind",
                                                  read_only=True))
        return mounts

    def _phase_env(self, phase: str) -> Dict[str, str]:
        values = dict(self.plan.phase_env[phase])
        if self.ca_bundle and self.local:
            for key in CA_ENV:
                values[key] = CA_MOUNT
        return values

    def _create(self, phase: str, **kwargs: Any) -> Any:
        labels = dict(self.labels)
        labels[LABEL_PHASE] = phase
        container = self.client.containers.create(labels=labels, mounts=self._mounts(phase),
                                                  **kwargs)
        if self.archive_pending:
            # Preparation: the source lands in the volume before the first phase starts.
            if not container.put_archive("/", self.plan.archive):
                raise DeployError("preparation", "could not copy the function into the "
                                  f"volume {self.volume_name}", function=self.plan.name)
            self.archive_pending = False
        return container

    def _run_phase(self, phase: str) -> None:
        started = time.monotonic()
        self.say(f"[{self.plan.name}] {phase} phase: {self.plan.images[phase]}")
        container = self._create(
            phase, image=self.plan.images[phase], name=f"kubeless-{self.plan.name}.{phase}",
            entrypoint=["/bin/sh", "-c"], command=[self.plan.commands[phase]],
            environment=self._phase_env(phase), working_dir=INSTALL_VOLUME, user="0:0")
        container.start()
        try:
            result = container.wait(timeout=self.phase_timeout)
            code = int(result.get("StatusCode", 1))
        except self.docker.errors.APIError:
            raise  # the engine's refusal, reported by run() as such
        except Exception as exc:  # noqa: BLE001 - requests' errors: a timeout or a lost engine
            if not is_timeout(exc):
                raise EngineRefusedError(phase, "lost the Docker engine while waiting for the "
                                         f"phase: {type(exc).__name__}: {exc}",
                                         function=self.plan.name) from None
            try:
                container.kill()
            except self.docker.errors.APIError:
                pass
            raise PhaseTimeoutError(phase, f"did not finish within {self.phase_timeout:.0f}s "
                                    "(raise phase_timeout for big dependency sets)",
                                    _logs(container, LOG_TAIL_LINES),
                                    function=self.plan.name) from None
        if code != 0:
            logs = _logs(container, LOG_TAIL_LINES)
            message = self._termination_message(container, phase) or _fallback_message(logs)
            raise DeployError(phase, f"exit code {code}: {message}", logs,
                              function=self.plan.name)
        container.remove(force=True)
        self.say(f"[{self.plan.name}] {phase} phase done in {time.monotonic() - started:.1f}s")

    def _run_runtime(self) -> Deployment:
        plan = self.plan
        self.say(f"[{plan.name}] runtime phase: {plan.images['runtime']}, waiting for "
                 f"GET {plan.probe_path} on 127.0.0.1")
        container = self._create(
            "runtime", image=plan.images["runtime"], name=f"kubeless-{plan.name}",
            environment=plan.runtime_env, ports={f"{plan.port}/tcp": ("127.0.0.1", None)},
            mem_limit=plan.memory, memswap_limit=plan.memory)
        container.start()
        deployment = self._wait_ready(container)
        try:  # like a Deployment's pod: restarted when it dies, unless stopped by hand
            container.update(restart_policy={"Name": "unless-stopped"})
        except self.docker.errors.APIError:
            pass
        return deployment

    def _wait_ready(self, container: Any) -> Deployment:
        interval = 0.1
        deadline = time.monotonic() + self.probe_timeout
        attempts = int(self.probe_timeout / interval) + 10
        last = "no answer yet"
        deployment = None
        for _attempt in range(attempts):
            container.reload()
            if container.status in ("exited", "dead"):
                self._raise_runtime_exit(container)
            if deployment is None or not deployment.host_port:
                deployment = deployment_from_container(container, self.client)
            if deployment.host_port:
                status, last = probe(deployment.url + self.plan.probe_path,
                                      timeout=max(0.2, min(2.0, deadline - time.monotonic())))
                if status == 200 or (self.plan.probe_any_status and status):
                    container.reload()
                    return deployment_from_container(container, self.client)
            if time.monotonic() >= deadline:
                break
            time.sleep(interval)
            interval = min(interval * 1.5, 1.0)
        container.reload()
        if container.status in ("exited", "dead"):
            self._raise_runtime_exit(container)
        raise DeployError("runtime", f"not ready within {self.probe_timeout:.0f}s: "
                          f"GET {self.plan.probe_path} -> {last}",
                          _logs(container, LOG_TAIL_LINES), function=self.plan.name)

    def _raise_runtime_exit(self, container: Any) -> None:
        state = container.attrs.get("State") or {}
        code = state.get("ExitCode")
        logs = _logs(container, LOG_TAIL_LINES)
        message = self._termination_message(container, "runtime") or _fallback_message(logs)
        if state.get("OOMKilled"):
            message = f"OOMKilled (memory limit {self.plan.memory} bytes); {message}"
        raise DeployError("runtime", f"container exited with code {code}: {message}", logs,
                          function=self.plan.name)

    def _termination_message(self, container: Any, phase: str) -> str:
        """/dev/termination-log of a stopped container, read through the engine."""
        try:
            stream, _stat = container.get_archive(TERMINATION_LOG)
            data = b"".join(stream)
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                member = tar.next()
                handle = tar.extractfile(member) if member is not None else None
                text = handle.read(TERMINATION_MESSAGE_MAX) if handle is not None else b""
            return text.decode("utf-8", "replace").strip()
        except Exception:  # noqa: BLE001 - fall back to the host file, then to the logs
            if self.state_dir is not None:
                path = self.state_dir / f"{phase}.termination-log"
                try:
                    return path.read_bytes()[:TERMINATION_MESSAGE_MAX].decode(
                        "utf-8", "replace").strip()
                except OSError:
                    pass
            return ""


def is_timeout(exc: BaseException) -> bool:
    """Whether a docker-py/requests error is a read timeout (docker-py wraps it variously)."""
    seen: List[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        if isinstance(exc, TimeoutError) or "Timeout" in type(exc).__name__:
            return True
        if exc.args and isinstance(exc.args[0], BaseException):
            exc = exc.args[0]
        else:
            exc = exc.__cause__ or exc.__context__
    return False


def _logs(container: Any, tail: int) -> str:
    try:
        return container.logs(stdout=True, stderr=True, tail=tail).decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - logs are a courtesy in an error path
        return ""


def _fallback_message(logs: str) -> str:
    """Kubernetes' FallbackToLogsOnError: the last log lines when the file is empty."""
    lines = [line for line in logs.strip().splitlines() if line.strip()]
    text = "\n".join(lines[-10:])
    return text[-2048:] if text else "(no termination message and no output)"

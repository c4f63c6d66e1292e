"""Run the conformance cases against an image: deploy, check, collect, clean up.

The runner deploys the conformance function into the image under test with the local deploy
machinery (:func:`kubeless_runtime.deploy.deploy`: a volume at /kubeless, the installation
and compilation phases, the runtime container on a 127.0.0.1 port), so it needs only a Docker
engine.  To stay fast, deployments are shared: one per configuration (``main``, ``timeout``,
``deps``...; see :data:`cases.DEPLOYMENTS`), all started in parallel before the first case,
each used by every case that names it.  Before a case uses a deployment the runner checks the
container is still the one it was (a server that died and was restarted by its restart
policy is waited for and re-read, so one crash fails one case, not every later one).

Every deployment is named ``kc-<random>-<key>`` and deleted by :meth:`Runner.close`, which
``with Runner(...)`` calls on success, failure and Ctrl-C alike.

Hard timeouts are a claim: a runtime claims them through ``"hardTimeouts": true`` in its
catalog version entry (or ``--hard-timeouts yes``).  The ``timeout-hard`` case always runs;
when the runtime claims hard timeouts a function that runs on after the deadline is a
failure, otherwise it is reported as ``soft`` (informational, not a failure).
"""

from __future__ import annotations

import dataclasses
import io
import re
import secrets
import shutil
import tarfile
import tempfile
import threading
import time
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..errors import KubelessRuntimeError
from ..tooling.catalog import Catalog, Runtime, UnknownRuntimeError, load_catalog
from . import cases as _register_cases  # noqa: F401 - the topic modules register the cases
from . import httpclient
from .function_sets import FunctionSet, FunctionSetError, language_of, load_function_set
from .model import (
    DEFAULT_PROBE_TIMEOUT,
    DEPLOYMENTS,
    SERVER,
    Case,
    Failed,
    ResolvedTarget,
    Skipped,
    Soft,
    get_case,
    level_index,
    select_cases,
)
from .report import ERROR, FAIL, PASS, SKIP, SOFT, CaseResult, Report

Progress = Callable[[str], None]
NAME_PREFIX = "kc"
RECOVER_SECONDS = 30.0
"""How long a deployment whose server died may take to come back (restart policy)."""
PHASE_TIMEOUT = 300.0
CALL_TIMEOUT = 30.0


class ConformanceError(KubelessRuntimeError):
    """The suite cannot run at all (no engine, image missing, bad option); exit code 2."""

    code = "conformance-setup"


class ImageMissingError(ConformanceError):
    """The image under test is not on the Docker engine."""


class DeploymentUnavailable(Exception):
    """A case's deployment failed or stopped working; ``setup`` when it is the environment's
    fault (a missing installation image) rather than the image's."""

    def __init__(self, message: str, error: Any = None, setup: bool = False) -> None:
        self.error = error
        self.setup = setup
        super().__init__(message)


@dataclass(frozen=True)
class Target:
    """What to check: a runtime name, its image and how far."""

    runtime: str
    image: str
    init_image: Optional[str] = None
    level: str = "function"
    ca_bundle: Optional[str] = None
    hard_timeouts: Optional[bool] = None
    """Override the catalog's claim: True/False, or None to use the catalog."""
    cases: Optional[Sequence[str]] = None
    """Only these case ids (within ``level``)."""
    deploy_timeout: float = 60.0
    """Seconds each deployment may take to answer its first request."""


def catalog_hard_timeouts(catalog: Catalog, runtime: str) -> Optional[bool]:
    """The ``hardTimeouts`` claim of ``runtime``'s language file, if the catalog lists it."""
    return catalog.runtime(runtime).hard_timeouts if runtime in catalog else None


def resolve_target(target: Target, catalog: Catalog) -> ResolvedTarget:
    """Look the runtime up in the catalog and find its language's conformance functions.

    Raises :class:`FunctionSetError` when the level needs functions the language lacks.
    """
    level_index(target.level)
    spec: Optional[Runtime] = None
    try:
        spec = catalog.runtime(target.runtime)
    except UnknownRuntimeError:
        spec = None
    functions: Optional[FunctionSet] = None
    error = ""
    try:
        functions = load_function_set(spec.language if spec else language_of(target.runtime))
    except FunctionSetError as exc:
        error = str(exc)
        if level_index(target.level) > level_index("custom"):
            raise
    claimed = catalog_hard_timeouts(catalog, target.runtime)
    if target.hard_timeouts is not None:
        source = "--hard-timeouts"
        claimed_value = target.hard_timeouts
    elif claimed is not None:
        source = f"catalog: {target.runtime} hardTimeouts={str(claimed).lower()}"
        claimed_value = claimed
    else:
        source = "not in the catalog" if spec is None else "the catalog does not say"
        claimed_value = False
    probe = (spec.liveness_probe or {}) if spec else {}
    try:
        probe_timeout = float(probe.get("timeoutSeconds") or DEFAULT_PROBE_TIMEOUT)
    except (TypeError, ValueError):
        probe_timeout = DEFAULT_PROBE_TIMEOUT
    init_image = target.init_image
    if init_image is None and spec is not None and spec.has_phase("installation"):
        init_image = spec.image("installation").image
    return ResolvedTarget(runtime=target.runtime, image=target.image, init_image=init_image,
                          level=target.level, spec=spec, functions=functions,
                          functions_error=error, hard_timeouts_claimed=claimed_value,
                          claim_source=source, probe_timeout=probe_timeout)


class Runner:
    """Deploys the conformance functions into one image and runs the selected cases."""

    def __init__(self, target: Target, *, client: Any = None, catalog: Optional[Catalog] = None,
                 progress: Optional[Progress] = None) -> None:
        self.target = target
        self.catalog = catalog or load_catalog()
        self._client = client
        self.say: Progress = progress or (lambda line: None)
        self.prefix = f"{NAME_PREFIX}-{secrets.token_hex(3)}"
        self.resolved: Optional[ResolvedTarget] = None
        self.selected: List[Case] = []
        self.skips: Dict[str, str] = {}
        self.results: List[CaseResult] = []
        self._lock = threading.Lock()
        self._executor: Optional[ThreadPoolExecutor] = None
        self._futures: Dict[str, Future] = {}
        self._deployments: Dict[str, Any] = {}
        self._restarts: Dict[str, Tuple[str, int, str]] = {}
        self._suspect: set = set()
        self._gone: Dict[str, str] = {}
        self._setup_failures: Dict[str, str] = {}
        self._memo: Dict[Tuple[str, str], Any] = {}
        self._deploy_seconds: Dict[str, float] = {}
        self._tmp: Optional[Path] = None
        self._started = 0.0
        self._closed = False

    # -- lifecycle --
    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def client(self) -> Any:
        if self._client is None:
            from ..tooling.engine import get_client

            self._client = get_client()
        return self._client

    def prepare(self) -> List[Case]:
        """Resolve the target, choose the cases and start their deployments (in parallel)."""
        if self.resolved is not None:
            return self.selected
        self._started = time.time()
        self.resolved = resolve_target(self.target, self.catalog)
        self.selected = select_cases(self.target.level, self.target.cases)
        for item in self.selected:
            reason = item.applies(self.resolved) if item.applies else None
            if reason:
                self.skips[item.id] = reason
        self._check_image(self.target.image, "the image under test")
        keys = []
        for item in self.selected:
            if item.id not in self.skips:
                key = self._key(item.deployment)
                if key not in keys:
                    keys.append(key)
        if "deps" in keys and self.resolved.init_image:
            try:
                self._check_image(self.resolved.init_image, "the installation image")
            except ImageMissingError as exc:
                self._setup_failures["deps"] = str(exc)
        keys = [key for key in keys if key not in self._setup_failures]
        if keys:
            self._executor = ThreadPoolExecutor(max_workers=len(keys),
                                                thread_name_prefix="conformance-deploy")
            for key in keys:
                self._futures[key] = self._executor.submit(self._deploy, key)
        return self.selected

    def close(self) -> None:
        """Delete every deployment of this run (waits for deployments still in progress)."""
        if self._closed:
            return
        self._closed = True
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
        from ..tooling.deploy import FunctionNotFoundError, delete_deployment

        if self._futures or self._deployments:
            for key in DEPLOYMENTS:
                try:
                    delete_deployment(self._name(key), client=self.client)
                except FunctionNotFoundError:
                    pass
                except Exception as exc:  # noqa: BLE001 - keep removing the others
                    self.say(f"could not delete {self._name(key)}: {exc}")
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    # -- running --
    def run(self) -> Report:
        """Run every selected case in order; returns the :class:`Report`."""
        self.prepare()
        for item in self.selected:
            result = self.run_case(item.id)
            self.say(f"{result.status:<5} {result.case_id} ({result.seconds:.2f} s)")
        return self.report()

    def report(self) -> Report:
        resolved = self.resolved
        notes = []
        if resolved is not None:
            claim = "claimed" if resolved.hard_timeouts_claimed else "not claimed"
            notes.append(f"hard timeouts: {claim} ({resolved.claim_source})")
            if resolved.spec is None:
                notes.append(f"catalog: {resolved.runtime} is not in it; deployed as a custom "
                             "runtime image")
        if self._deploy_seconds:
            notes.append("deployments: " + ", ".join(
                f"{key} {seconds:.1f} s" for key, seconds in self._deploy_seconds.items())
                + " (in parallel; not in the case times)")
        return Report(runtime=self.target.runtime, image=self.target.image,
                      level=self.target.level,
                      init_image=resolved.init_image if resolved else self.target.init_image,
                      hard_timeouts_claimed=bool(resolved and resolved.hard_timeouts_claimed),
                      started=self._started, seconds=time.time() - self._started,
                      results=list(self.results), notes=notes)

    def run_case(self, case_id: str) -> CaseResult:
        """Run one case (deploying what it needs first); never raises for the image's faults."""
        self.prepare()
        item = get_case(case_id)
        base: Dict[str, Any] = dict(case_id=item.id, level=item.level, title=item.title,
                                    clause=item.clause, reference=item.reference, fix=item.fix)
        if item not in self.selected:
            reason = (f"level {self.target.level} selected; this case is at level {item.level}"
                      if level_index(item.level) > level_index(self.target.level)
                      else "not selected")
            return self._record(CaseResult(status=SKIP, detail=reason, **base))
        if item.id in self.skips:
            return self._record(CaseResult(status=SKIP, detail=self.skips[item.id], **base))
        key = self._key(item.deployment)
        context = CaseContext(self, item, key)
        started = time.monotonic()
        try:
            if not DEPLOYMENTS[key].compile_error:
                self._ensure_usable(key)
            started = time.monotonic()  # a case's time excludes waiting for its deployment
            note = item.check(context)
            result = CaseResult(status=PASS, detail=note or "", **base)
        except Failed as exc:
            result = CaseResult(status=FAIL, expected=exc.expected, got=exc.got,
                                detail=exc.detail, **base)
        except Soft as exc:
            result = CaseResult(status=SOFT, detail=exc.message, expected=exc.expected,
                                got=exc.got, **base)
        except Skipped as exc:
            result = CaseResult(status=SKIP, detail=exc.reason, **base)
        except DeploymentUnavailable as exc:
            if item.deploy_failure_fails and not exc.setup:
                result = CaseResult(status=FAIL, expected=f"the {DEPLOYMENTS[key].purpose} "
                                    "deployed and answering", got=str(exc), **base)
            else:
                result = CaseResult(status=ERROR, detail=f"could not run: {exc}", **base)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - a suite bug or an engine error: report it
            result = CaseResult(status=ERROR, detail=f"the suite failed running this case: "
                                f"{type(exc).__name__}: {exc}", **base)
        result.seconds = time.monotonic() - started
        if result.status in (ERROR, FAIL):
            self._suspect.add(key)  # the server may have died: look before the next case
        return self._record(result)

    def _record(self, result: CaseResult) -> CaseResult:
        with self._lock:
            self.results = [r for r in self.results if r.case_id != result.case_id] + [result]
        return result

    # -- deployments --
    def _key(self, deployment: str) -> str:
        if deployment != SERVER:
            return deployment
        assert self.resolved is not None
        return "main" if self.resolved.functions is not None else "bare"

    def _name(self, key: str) -> str:
        return f"{self.prefix}-{key}"

    def _check_image(self, image: str, what: str) -> None:
        from ..tooling.engine import import_docker

        docker = import_docker()
        try:
            self.client.images.get(image)
        except docker.errors.ImageNotFound:
            raise ImageMissingError(
                f"{what} {image} is not on the Docker engine; build it (kubeless-runtime build "
                f"{self.target.runtime}) or docker pull/load it first") from None

    def _deploy_catalog(self) -> Catalog:
        """The catalog the suite deploys with: readiness is any 200 on GET /, not /healthz.

        Why: /healthz is under test; an image without it must still deploy so that its
        other cases run and only the /healthz cases fail.
        """
        assert self.resolved is not None
        spec = self.resolved.spec
        if spec is None:
            return self.catalog
        probe = dict(spec.liveness_probe or {})
        probe["httpGet"] = dict(probe.get("httpGet") or {}, path="/")
        return self.catalog.with_runtime(dataclasses.replace(spec, liveness_probe=probe))

    def _bundle(self, source: Path) -> str:
        """A zip holding ``source``: how a function reaches a runtime the catalog lacks."""
        with self._lock:
            if self._tmp is None:
                self._tmp = Path(tempfile.mkdtemp(prefix="kubeless-conformance-"))
        target = self._tmp / f"{source.stem}-bundle.zip"
        with zipfile.ZipFile(target, "w") as archive:
            archive.write(source, source.name)
        return str(target)

    def _deploy(self, key: str) -> Any:
        from ..tooling.deploy import DeploySpec, deploy
        from ..tooling.engine import get_client

        assert self.resolved is not None
        spec = DEPLOYMENTS[key]
        functions = self.resolved.functions
        kwargs: Dict[str, Any] = dict(
            runtime_image=self.target.image, timeout=spec.timeout, memory=spec.memory,
            env=dict(spec.env), probe_timeout=self.target.deploy_timeout,
            ca_bundle=self.target.ca_bundle)
        if spec.function:
            assert functions is not None
            if spec.compile_error:
                assert functions.compile_error is not None
                source, handler = functions.compile_error.source, functions.compile_error.handler
            else:
                source, handler = functions.source, functions.handler
            kwargs["from_file"] = str(source) if self.resolved.spec else self._bundle(source)
            kwargs["handler"] = handler
        if spec.dependencies:
            assert functions is not None and functions.dependencies is not None
            kwargs["dependencies"] = str(functions.dependencies)
            kwargs["installation_image"] = self.target.init_image
        if self._closed:
            raise DeploymentUnavailable("the run was closed")
        started = time.monotonic()
        self.say(f"deploying {key}: {spec.purpose} ({self._name(key)})")
        try:
            deployment = deploy(
                DeploySpec(name=self._name(key), runtime=self.target.runtime, **kwargs),
                get_client() if self._client is None else self._client,
                catalog=self._deploy_catalog(), phase_timeout=PHASE_TIMEOUT, progress=self.say)
        finally:
            with self._lock:
                self._deploy_seconds[key] = time.monotonic() - started
        self.say(f"deployed {key} in {self._deploy_seconds[key]:.1f} s at {deployment.url}")
        return deployment

    def deployment(self, key: str) -> Any:
        """The ready Deployment of ``key`` (waits for it), or :class:`DeploymentUnavailable`."""
        from ..tooling.deploy import DeployError

        if key in self._setup_failures:
            raise DeploymentUnavailable(self._setup_failures[key], setup=True)
        if key in self._deployments:
            return self._deployments[key]
        future = self._futures.get(key)
        if future is None:
            raise DeploymentUnavailable(f"deployment {key} was not started")
        try:
            deployment = future.result()
        except DeployError as exc:
            raise DeploymentUnavailable(self._describe_deploy_error(key, exc),
                                        error=exc) from None
        except DeploymentUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - engine errors and the like
            raise DeploymentUnavailable(f"deploying {DEPLOYMENTS[key].purpose} failed: "
                                        f"{type(exc).__name__}: {exc}", error=exc) from None
        with self._lock:
            self._deployments.setdefault(key, deployment)
            self._restarts.setdefault(key, self._state_of(deployment))
        return self._deployments[key]

    def _describe_deploy_error(self, key: str, error: Any) -> str:
        """The phase and its termination message (not the whole log: that is in the
        container's output), plus a hint for the usual environment problem."""
        message = error.termination_message or str(error)
        text = f"deploying {DEPLOYMENTS[key].purpose}: the {error.phase} phase failed: {message}"
        if (re.search(r"CERTIFICATE_VERIFY_FAILED|certificate verify failed", str(error))
                and not self.target.ca_bundle):
            text += (" (TLS is intercepted here: pass --ca-bundle PATH, e.g. "
                     "/etc/ssl/certs/ca-certificates.crt)")
        return text

    def deploy_error(self, key: str) -> Any:
        """The DeployError of a deployment that is expected to fail, or None if it deployed."""
        from ..tooling.deploy import DeployError

        future = self._futures.get(key)
        if future is None:
            raise DeploymentUnavailable(self._setup_failures.get(key, f"{key} not started"),
                                        setup=key in self._setup_failures)
        try:
            future.result()
        except DeployError as exc:
            return exc
        return None

    def container(self, key: str) -> Any:
        return self.client.containers.get(self.deployment(key).container_id)

    def _state_of(self, deployment: Any) -> Tuple[str, int, str]:
        try:
            return container_state(self.client.containers.get(deployment.container_id))
        except Exception:  # noqa: BLE001 - only used to notice restarts
            return ("unknown", 0, "")

    def _ensure_usable(self, key: str) -> None:
        """Wait (bounded) for a deployment whose server died and restarted; re-read its port.

        Why: a restart policy brings a crashed server back, on a new host port, about a second
        later; without this, one crash would fail every later case as well.  After a failed
        case the engine is given a moment to notice an exit that has just happened.
        """
        from ..tooling.deploy import get_deployment

        if key in self._gone:
            raise DeploymentUnavailable(f"the {key} deployment was stopped by {self._gone[key]}")
        deployment = self.deployment(key)
        container = self.client.containers.get(deployment.container_id)
        known = self._restarts.get(key)
        state = container_state(container)
        if key in self._suspect:
            self._suspect.discard(key)
            for _attempt in range(8):
                if state != known:
                    break
                time.sleep(0.2)
                container.reload()
                state = container_state(container)
        if state == known:
            return
        self.say(f"{key}: the container restarted or stopped ({state[0]}, {state[1]} restarts);"
                 f" waiting up to {RECOVER_SECONDS:.0f} s for it to answer again")
        deadline = time.monotonic() + RECOVER_SECONDS
        for _attempt in range(int(RECOVER_SECONDS / 0.5) + 2):
            container.reload()
            if container.status == "running":
                fresh = get_deployment(deployment.name, client=self.client)
                if fresh.url and httpclient.request(fresh.url + "/", timeout=2).status:
                    with self._lock:
                        self._deployments[key] = fresh
                        self._restarts[key] = container_state(container)
                    return
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
        raise DeploymentUnavailable(
            f"the {key} deployment stopped answering after an earlier case (container "
            f"{container.status}, restarted {container.attrs.get('RestartCount')} times)")

    def memo(self, key: str, name: str, compute: Callable[[], Any]) -> Any:
        """Compute once per run and deployment (observations several cases share)."""
        slot = (key, name)
        if slot not in self._memo:
            self._memo[slot] = compute()
        return self._memo[slot]


def container_state(container: Any) -> Tuple[str, int, str]:
    """(status, restart count, start time): changes when the server process is replaced."""
    attrs = container.attrs or {}
    return (container.status, int(attrs.get("RestartCount") or 0),
            str((attrs.get("State") or {}).get("StartedAt") or ""))


class CaseContext:
    """What a check may do: call its deployment, read its logs, look at its container."""

    def __init__(self, runner: Runner, case: Case, key: str) -> None:
        self.runner = runner
        self.case = case
        self.key = key

    @property
    def target(self) -> ResolvedTarget:
        assert self.runner.resolved is not None
        return self.runner.resolved

    def deployment(self) -> Any:
        return self.runner.deployment(self.key)

    def deployment_name(self) -> str:
        return self.runner._name(self.key)

    def url(self) -> str:
        return self.deployment().url

    def token(self) -> str:
        return secrets.token_hex(8)

    def memo(self, name: str, compute: Callable[[], Any]) -> Any:
        return self.runner.memo(self.key, name, compute)

    # -- HTTP --
    def call(self, method: str = "GET", path: str = "/", body: Optional[bytes] = None,
             headers: Optional[Dict[str, str]] = None,
             timeout: float = CALL_TIMEOUT) -> httpclient.Response:
        return httpclient.request(self.url() + path, method, body, headers, timeout)

    def call_json(self, payload: Any, method: str = "POST", path: str = "/",
                  headers: Optional[Dict[str, str]] = None,
                  timeout: float = CALL_TIMEOUT) -> httpclient.Response:
        return httpclient.request_json(self.url() + path, payload, method, headers, timeout)

    def command(self, name: str, *, method: str = "POST", path: str = "/",
                headers: Optional[Dict[str, str]] = None, timeout: float = CALL_TIMEOUT,
                **fields: Any) -> httpclient.Response:
        """Ask the conformance function to run one of its commands (a JSON POST)."""
        payload = {"conformance": name}
        payload.update(fields)
        return self.call_json(payload, method, path, headers, timeout)

    # -- the container --
    def logs(self, stdout: bool = True, stderr: bool = False) -> str:
        container = self.runner.container(self.key)
        return container.logs(stdout=stdout, stderr=stderr).decode("utf-8", "replace")

    def server_state(self) -> Tuple[str, int, str]:
        """(status, restart count, start time) of the container."""
        return container_state(self.runner.container(self.key))

    def server_replaced(self, before: Tuple[str, int, str], wait: float = 2.0) -> str:
        """'' if the server process is still the one of ``before``, else what happened.

        Waits up to ``wait`` seconds: the engine notices an exit a moment after it happens.
        """
        deadline = time.monotonic() + wait
        for _attempt in range(int(wait / 0.2) + 1):
            status, restarts, started = self.server_state()
            if status != "running":
                return f"the server process exited (container {status})"
            if restarts != before[1] or started != before[2]:
                return (f"the server process exited and was restarted ({restarts - before[1]} "
                        "restart(s))")
            if time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        return ""

    def read_file(self, path: str, limit: int = 65536) -> Optional[bytes]:
        """A file of the container (through the engine: works without a shell), or None."""
        container = self.runner.container(self.key)
        try:
            stream, _stat = container.get_archive(path)
            data = b"".join(stream)
        except Exception:  # noqa: BLE001 - NotFound and friends: no such file
            return None
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            member = archive.next()
            handle = archive.extractfile(member) if member is not None else None
            return handle.read(limit) if handle is not None else b""

    def side_effects(self, token: str) -> Dict[str, str]:
        """Which marker stages of the timeout function happened, and how we saw them."""
        output = self.logs(stdout=True, stderr=True)
        found = {}
        for stage in ("start", "done"):
            if f"kubeless-conformance {stage} {token}" in output:
                found[stage] = "its stdout line"
            elif self.read_file(f"/tmp/kubeless-conformance-{token}.{stage}") is not None:
                found[stage] = f"/tmp/kubeless-conformance-{token}.{stage} exists"
        return found

    def processes(self) -> List[Tuple[str, str, str]]:
        """(pid, uid, command) of every process in the container (host-side ``ps``)."""
        container = self.runner.container(self.key)
        try:
            top = container.top(ps_args="-o pid,uid,args")
            titles = [t.upper() for t in top.get("Titles") or []]
            pid_at, uid_at = titles.index("PID"), titles.index("UID")
            command_at = titles.index("COMMAND") if "COMMAND" in titles else len(titles) - 1
            return [(str(row[pid_at]), str(row[uid_at]), str(row[command_at]))
                    for row in top.get("Processes") or []]
        except Exception:  # noqa: BLE001 - no ps on the host: fall back to the image's USER
            user = str((container.attrs.get("Config") or {}).get("User") or "0")
            uid = user.split(":")[0]
            return [("1", "0" if uid in ("", "root", "0") else uid, "(image USER)")]

    def terminate(self, grace: float) -> Tuple[Optional[float], Optional[int]]:
        """SIGTERM the container; (seconds until it exited, exit code) or (None, None)."""
        container = self.runner.container(self.key)
        try:  # the deploy's restart policy would bring it back
            container.update(restart_policy={"Name": "no"})
        except Exception:  # noqa: BLE001 - older engines: the check still works
            pass
        self.runner._gone[self.key] = f"the {self.case.id} case"
        started = time.monotonic()
        container.kill(signal="SIGTERM")
        for _attempt in range(int(grace / 0.1) + 50):
            container.reload()
            elapsed = time.monotonic() - started
            if container.status in ("exited", "dead"):
                return elapsed, (container.attrs.get("State") or {}).get("ExitCode")
            if elapsed > grace:
                break
            time.sleep(0.1)
        try:
            container.kill()
        except Exception:  # noqa: BLE001 - it may have exited meanwhile
            pass
        return None, None

    def deploy_error(self) -> Any:
        return self.runner.deploy_error(self.key)


__all__ = ["CaseContext", "ConformanceError", "DeploymentUnavailable", "ImageMissingError",
           "ResolvedTarget", "Runner", "Target", "catalog_hard_timeouts", "container_state",
           "resolve_target"]

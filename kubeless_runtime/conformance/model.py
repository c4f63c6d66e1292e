"""The model the cases and the runner share: a case, its outcomes, levels, deployments.

A case is data (id, level, title, the clause it checks, where that clause is written, a fix)
plus a ``check`` function.  A check drives the image under test through a
:class:`~kubeless_runtime.conformance.runner.CaseContext` (HTTP calls to the deployed
conformance function, its logs, its container) and either returns a short note of what it
saw (pass) or raises :class:`Failed`, :class:`Skipped` or :class:`Soft`.  Checks never talk to
Docker or the network directly, so the same case runs from the CLI and from pytest.

Levels nest: ``custom`` (any HTTP server image) < ``function`` (loads and calls Kubeless
functions) < ``full`` (timeouts, logs, metrics, limits, installation, compilation, user).

Module import is cheap (no Docker, no prometheus_client): the pytest plugin collects from it.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Protocol,
    Sequence,
    Tuple,
    TypeVar,
)

from ..errors import UsageError
from .function_sets import FunctionSet

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..tooling.catalog import Runtime
    from .httpclient import Response

LEVELS = ("custom", "function", "full")
"""From the least to the most demanding; each level includes the ones before it."""

# What the suite's deployments are configured with (the checks compare against these).
MAIN_TIMEOUT = 30
SHORT_TIMEOUT = 2
"""FUNC_TIMEOUT of the deployment the timeout cases use."""
LATE_EXTRA = 2.0
"""The timeout function sleeps FUNC_TIMEOUT + this, then leaves its side effect."""
SIDE_EFFECT_MARGIN = 2.0
"""Seconds the suite waits after the side effect was due before looking for it."""
MEMORY = "256Mi"
BODY_LIMIT_MB = 1
SIGTERM_GRACE = 10.0
PARALLEL_CALLS = 8
PARALLEL_SLEEP = 1.0
PARALLEL_LIMIT = 4.0
"""8 calls of 1 s must finish in under this: at least two at a time, on average."""
HEALTHZ_PARALLEL = 50
DEFAULT_PROBE_TIMEOUT = 1.0
"""Kubernetes' default ``timeoutSeconds`` of a probe, when the catalog gives none."""

# Where the contract is written.
KUBELESS_NEW_RUNTIME = "Kubeless docs/implementing-new-runtime.md"
KUBELESS_RUNTIMES = "Kubeless docs/runtimes.md"
README_GETS = "README.md, What a function gets and gives"
README_CONFIG = "README.md, Configuration"
README_FLOW = "README.md, How a request flows"
K8S_PROBES = "Kubernetes liveness probe (timeoutSeconds)"
K8S_TERMINATION = "Kubernetes pod termination (terminationGracePeriodSeconds)"


class CaseOutcome(Exception):
    """Base of what a check raises instead of returning a pass note."""


class Failed(CaseOutcome):
    """The image breaks the clause: ``expected`` is what the contract wants, ``got`` what came."""

    def __init__(self, expected: str, got: str, detail: str = "") -> None:
        self.expected = expected
        self.got = got
        self.detail = detail
        super().__init__(f"expected {expected}; got {got}")


class Skipped(CaseOutcome):
    """The case does not apply to this runtime (``reason`` says why)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class Soft(CaseOutcome):
    """Informational: the image lacks a behaviour it does not claim (not a failure)."""

    def __init__(self, message: str, expected: str = "", got: str = "") -> None:
        self.message = message
        self.expected = expected
        self.got = got
        super().__init__(message)


class UnknownLevelError(UsageError):
    """A level that is not custom, function or full."""

    code = "unknown-level"

    def __init__(self, level: str) -> None:
        super().__init__(f"unknown level {level!r}; levels are {', '.join(LEVELS)} (each "
                         "includes the ones before it)")


class UnknownCaseError(UsageError, LookupError):
    """A case id that does not exist, or that is above the chosen level."""

    code = "unknown-case"


# --- deployments the cases share ------------------------------------------------------------

@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment of the conformance function (shared by every case that names it)."""

    key: str
    purpose: str
    timeout: float = MAIN_TIMEOUT
    memory: str = MEMORY
    env: Mapping[str, str] = field(default_factory=dict)
    function: bool = True
    dependencies: bool = False
    compile_error: bool = False


DEPLOYMENTS: Dict[str, DeploymentSpec] = {spec.key: spec for spec in (
    DeploymentSpec("main", "the conformance function",
                   env={"REQ_MB_LIMIT": str(BODY_LIMIT_MB)}),
    DeploymentSpec("bare", "the image alone (no function: a custom runtime)", function=False),
    DeploymentSpec("timeout", f"the conformance function with FUNC_TIMEOUT={SHORT_TIMEOUT}",
                   timeout=SHORT_TIMEOUT),
    DeploymentSpec("deps", "the conformance function with its dependency file",
                   dependencies=True),
    DeploymentSpec("compile", "a function that must not compile", compile_error=True),
)}
SERVER = "server"
"""Pseudo-deployment of the custom cases: ``main`` when the language has functions, else
``bare`` (a plain custom image runs without a function)."""


# --- cases ----------------------------------------------------------------------------------

T = TypeVar("T")
Check = Callable[["CaseContext"], str]
Applies = Callable[["ResolvedTarget"], Optional[str]]


@dataclass(frozen=True)
class Case:
    """One clause of the contract and the check that tests it."""

    id: str
    level: str
    title: str
    clause: str
    reference: str
    fix: str
    deployment: str
    check: Check = field(repr=False, compare=False)
    applies: Optional[Applies] = field(default=None, repr=False, compare=False)
    """Returns a skip reason when the case does not apply to a target (evaluated before
    anything is deployed, so a skipped case costs no deployment)."""
    destructive: bool = False
    """Stops its deployment: runs after every other case."""
    deploy_failure_fails: bool = False
    """A failure to deploy is this case's failure (not a suite error)."""


CASES: List[Case] = []


def case(id: str, level: str, title: str, clause: str, reference: str, fix: str,
         deployment: str = "main", *, applies: Optional[Applies] = None,
         destructive: bool = False, deploy_failure_fails: bool = False
         ) -> Callable[[Check], Check]:
    """Register the decorated check as a case (in the order of this file)."""
    if level not in LEVELS:
        raise UnknownLevelError(level)

    def register(check: Check) -> Check:
        CASES.append(Case(id, level, title, clause, reference, fix, deployment, check,
                          applies, destructive, deploy_failure_fails))
        return check

    return register


def level_index(level: str) -> int:
    """Position of ``level`` in LEVELS, or :class:`UnknownLevelError`."""
    try:
        return LEVELS.index(level)
    except ValueError:
        raise UnknownLevelError(level) from None


def run_order(cases: Iterable[Case]) -> List[Case]:
    """Cases in the order they run: as declared, destructive ones last."""
    listed = list(cases)
    return sorted(listed, key=lambda c: (c.destructive, listed.index(c)))


def select_cases(level: str, ids: Optional[Sequence[str]] = None,
                 cases: Optional[Sequence[Case]] = None) -> List[Case]:
    """The cases of ``level`` (and the levels below it), in run order; ``ids`` narrows them.

    An id that does not exist, or whose level is above ``level``, raises
    :class:`UnknownCaseError` naming the level it needs.
    """
    pool = list(CASES if cases is None else cases)
    limit = level_index(level)
    chosen = [c for c in pool if level_index(c.level) <= limit]
    if ids:
        by_id = {c.id: c for c in pool}
        wanted = []
        for case_id in ids:
            if case_id not in by_id:
                raise UnknownCaseError(f"no case {case_id!r}; cases are: "
                                       + ", ".join(c.id for c in pool))
            if by_id[case_id] not in chosen:
                raise UnknownCaseError(f"case {case_id!r} is at level "
                                       f"{by_id[case_id].level}; run with --level "
                                       f"{by_id[case_id].level}")
            wanted.append(case_id)
        chosen = [c for c in chosen if c.id in wanted]
    return run_order(chosen)


def get_case(case_id: str) -> Case:
    for item in CASES:
        if item.id == case_id:
            return item
    raise UnknownCaseError(f"no case {case_id!r}; cases are: " + ", ".join(c.id for c in CASES))


# --- helpers for checks ---------------------------------------------------------------------

def short(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def expect_json(response: Response, what: str) -> Any:
    """The JSON body of a 200 answer, or :class:`Failed` saying what came instead."""
    if response.status != 200:
        raise Failed(f"200 with JSON from the function ({what})", response.describe())
    try:
        return response.json()
    except ValueError:
        raise Failed(f"a JSON body ({what})",
                     f"a body that is not JSON: {short(response.text)!r} (Content-Type "
                     f"{response.header('content-type') or 'none'})") from None


def parallel(count: int, call: Callable[[int], T]) -> List[T]:
    """Run ``call(i)`` for i in range(count) at the same moment, in threads."""
    barrier = threading.Barrier(count)

    def run(index: int) -> T:
        try:
            barrier.wait(timeout=10)
        except threading.BrokenBarrierError:
            pass
        return call(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def statuses(responses: Iterable[Response]) -> str:
    counts: Dict[str, int] = {}
    for response in responses:
        key = f"HTTP {response.status}" if response.status else f"no answer ({response.error})"
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{n} x {key}" for key, n in sorted(counts.items()))


@dataclass(frozen=True)
class ResolvedTarget:
    """The target with what the catalog and the function folders say about it."""

    runtime: str
    image: str
    init_image: Optional[str]
    level: str
    spec: Optional["Runtime"]
    functions: Optional[FunctionSet]
    functions_error: str
    hard_timeouts_claimed: bool
    claim_source: str
    probe_timeout: float


class CaseContext(Protocol):
    """What a check may do: call its deployment, read its logs, look at its container.

    The runner implements it; checks see only this, so cases never import the runner.
    """

    target: ResolvedTarget

    def deployment(self) -> Any: ...
    def deployment_name(self) -> str: ...
    def url(self) -> str: ...
    def token(self) -> str: ...
    def memo(self, name: str, compute: Callable[[], Any]) -> Any: ...
    def call(self, method: str = "GET", path: str = "/", body: Optional[bytes] = None,
             headers: Optional[Dict[str, str]] = None, timeout: float = ...) -> Response: ...
    def call_json(self, payload: Any, method: str = "POST", path: str = "/",
                  headers: Optional[Dict[str, str]] = None, timeout: float = ...) -> Response: ...
    def command(self, name: str, *, method: str = "POST", path: str = "/",
                headers: Optional[Dict[str, str]] = None, timeout: float = ...,
                **fields: Any) -> Response: ...
    def logs(self, stdout: bool = True, stderr: bool = False) -> str: ...
    def server_state(self) -> Tuple[str, int, str]: ...
    def server_replaced(self, before: Tuple[str, int, str], wait: float = 2.0) -> str: ...
    def read_file(self, path: str, limit: int = 65536) -> Optional[bytes]: ...
    def side_effects(self, token: str) -> Dict[str, str]: ...
    def processes(self) -> List[Tuple[str, str, str]]: ...
    def terminate(self, grace: float) -> Tuple[Optional[float], Optional[int]]: ...
    def deploy_error(self) -> Any: ...

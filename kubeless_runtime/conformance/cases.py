"""The cases of the Kubeless runtime contract: what each checks, where it is written, how to fix.

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

import re
import threading
import time
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
    Sequence,
    TypeVar,
)

from ..errors import UsageError
from .function_sets import GREETING

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .httpclient import Response
    from .promtext import Scrape
    from .runner import CaseContext, ResolvedTarget

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

def _short(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _expect_json(response: Response, what: str) -> Any:
    """The JSON body of a 200 answer, or :class:`Failed` saying what came instead."""
    if response.status != 200:
        raise Failed(f"200 with JSON from the function ({what})", response.describe())
    try:
        return response.json()
    except ValueError:
        raise Failed(f"a JSON body ({what})",
                     f"a body that is not JSON: {_short(response.text)!r} (Content-Type "
                     f"{response.header('content-type') or 'none'})") from None


def _parallel(count: int, call: Callable[[int], T]) -> List[T]:
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


def _statuses(responses: Iterable[Response]) -> str:
    counts: Dict[str, int] = {}
    for response in responses:
        key = f"HTTP {response.status}" if response.status else f"no answer ({response.error})"
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{n} x {key}" for key, n in sorted(counts.items()))


# --- level custom ---------------------------------------------------------------------------

@case("listen-8080", "custom", "serves HTTP on port 8080",
      "The runtime serves HTTP on the port FUNC_PORT names (8080 unless set)",
      f"{KUBELESS_NEW_RUNTIME} §2.1; {KUBELESS_RUNTIMES}, Use a custom runtime",
      "listen on 0.0.0.0:$FUNC_PORT (default 8080), not on 127.0.0.1 or another port; "
      "EXPOSE 8080 in the Dockerfile", deployment=SERVER, deploy_failure_fails=True)
def check_listen(ctx: CaseContext) -> str:
    response = ctx.call("GET", "/")
    if not response.status:
        raise Failed("an HTTP answer on container port 8080", response.describe())
    return f"GET / on container port 8080 -> HTTP {response.status} in {response.seconds:.2f} s"


@case("healthz", "custom", "/healthz answers 200 within the probe's timeout",
      "The server should return 200 - OK to requests at /healthz",
      f"{KUBELESS_NEW_RUNTIME} §2; {K8S_PROBES}",
      "answer GET /healthz with 200 from the HTTP server itself, without calling the "
      "function, in well under the probe's timeoutSeconds", deployment=SERVER)
def check_healthz(ctx: CaseContext) -> str:
    limit = ctx.target.probe_timeout
    slowest = 0.0
    for attempt in range(3):
        response = ctx.call("GET", "/healthz", timeout=limit + 5)
        if response.status != 200:
            raise Failed(f"GET /healthz -> 200 within {limit:g} s",
                         f"attempt {attempt + 1}: {response.describe()}")
        if response.seconds > limit:
            raise Failed(f"GET /healthz -> 200 within {limit:g} s (the probe's timeoutSeconds)",
                         f"200 after {response.seconds:.2f} s")
        slowest = max(slowest, response.seconds)
    return f"3 x 200, slowest {slowest:.3f} s (probe timeout {limit:g} s)"


@case("healthz-parallel", "custom", f"/healthz keeps answering {HEALTHZ_PARALLEL} parallel "
      "requests",
      "The liveness probe must keep succeeding while the server is busy; requests should be "
      "served in parallel",
      f"{KUBELESS_NEW_RUNTIME} §2; {K8S_PROBES}",
      "serve requests concurrently (threads, an event loop or workers) and keep a listen "
      "backlog of at least 128; Python's http.server defaults to 5", deployment=SERVER)
def check_healthz_parallel(ctx: CaseContext) -> str:
    limit = ctx.target.probe_timeout
    started = time.monotonic()
    responses = _parallel(HEALTHZ_PARALLEL,
                          lambda i: ctx.call("GET", "/healthz", timeout=limit + 10))
    total = time.monotonic() - started
    bad = [r for r in responses if r.status != 200]
    slow = [r for r in responses if r.status == 200 and r.seconds > limit]
    if bad or slow:
        got = _statuses(responses)
        if slow:
            got += (f"; {len(slow)} took longer than {limit:g} s (slowest "
                    f"{max(r.seconds for r in slow):.2f} s)")
        raise Failed(f"{HEALTHZ_PARALLEL} x 200, each within {limit:g} s", got)
    slowest = max(r.seconds for r in responses)
    return f"{HEALTHZ_PARALLEL} x 200 in {total:.2f} s, slowest {slowest:.3f} s"


@case("sigterm", "custom", "stops within 10 s of SIGTERM",
      "On SIGTERM the server stops taking requests, finishes the calls in flight and exits "
      "within the grace period (10 s here)",
      f"{K8S_TERMINATION}; {README_GETS}",
      "handle SIGTERM (PID 1 ignores signals it has no handler for): close the listener, "
      "finish in-flight calls, exit; or run under an init such as tini or dumb-init",
      deployment=SERVER, destructive=True)
def check_sigterm(ctx: CaseContext) -> str:
    seconds, code = ctx.terminate(SIGTERM_GRACE)
    if seconds is None:
        raise Failed(f"the container exits within {SIGTERM_GRACE:g} s of SIGTERM",
                     f"still running {SIGTERM_GRACE:g} s after SIGTERM (killed it)")
    return f"exited (code {code}) {seconds:.2f} s after SIGTERM"


# --- level function -------------------------------------------------------------------------

@case("loads-handler", "function", "loads MOD_NAME/FUNC_HANDLER from /kubeless",
      "The file to load is named by MOD_NAME and the function by FUNC_HANDLER; the function "
      "lives in the install volume (KUBELESS_INSTALL_VOLUME, /kubeless)",
      f"{KUBELESS_NEW_RUNTIME} §2; {README_CONFIG}",
      "import $KUBELESS_INSTALL_VOLUME/$MOD_NAME<suffix> and call its $FUNC_HANDLER")
def check_loads_handler(ctx: CaseContext) -> str:
    data = _expect_json(ctx.command("where"), "the conformance function's 'where' command")
    file = str(data.get("file", "")) if isinstance(data, dict) else ""
    volume = "/kubeless"
    module = ctx.target.functions.module if ctx.target.functions else "conformance"
    folder, _, name = file.rpartition("/")
    if folder.rstrip("/") != volume or not name.startswith(module + "."):
        raise Failed(f"the function loaded from {volume}/{module}.*", f"it runs from {file!r}")
    return f"loaded {file}"


@case("get-string", "function", "GET returns the function's string",
      "A function's return value is the HTTP response; a string is sent as the body",
      f"{KUBELESS_RUNTIMES}, Runtimes interface; {README_GETS}",
      "send a returned string as the body, unchanged, with status 200")
def check_get_string(ctx: CaseContext) -> str:
    response = ctx.call("GET", "/")
    if response.status != 200 or response.body != GREETING.encode():
        raise Failed(f"HTTP 200 {GREETING!r}", response.describe())
    return "HTTP 200 with the string the function returned"


JSON_PAYLOAD = {"name": "kubeless", "n": 42, "pi": 3.25, "list": [1, "two", None, True],
                "nested": {"ok": True, "empty": {}}, "unicode": "h\u00e9llo \u2713"}


@case("post-json", "function", "POST JSON arrives parsed; an object return is sent as JSON",
      "For Content-Type application/json, event.data is the parsed object; an object "
      "returned by the function is stringified to JSON",
      f"{KUBELESS_RUNTIMES}, Runtimes interface; {README_GETS}",
      "parse application/json bodies (with or without ; charset) into event['data'] and "
      "send dict/object returns with json.dumps / JSON.stringify and Content-Type "
      "application/json")
def check_post_json(ctx: CaseContext) -> str:
    response = ctx.call_json(JSON_PAYLOAD)
    data = _expect_json(response, "the echo of a JSON object")
    if not isinstance(data, dict) or data.get("type") != "object":
        kind = data.get("type") if isinstance(data, dict) else type(data).__name__
        raise Failed("event.data to be the parsed JSON object",
                     f"the function received it as {kind!r}: {_short(data)!r}")
    if data.get("echo") != JSON_PAYLOAD:
        raise Failed(f"the same object back: {JSON_PAYLOAD!r}", _short(repr(data.get("echo"))))
    content_type = response.header("content-type")
    if "json" not in content_type.lower():
        raise Failed("Content-Type application/json on an object return",
                     f"Content-Type {content_type or '(none)'}")
    return f"object echoed, Content-Type {content_type}"


TEXT_BODY = "plain text: h\u00e9llo w\u00f6rld \u2713\nline two\r\n\ttabs and  spaces  ".encode()
BINARY_BODY = bytes(range(256)) * 4 + b"\x00\xff\r\n\x00"


def _echo_raw(ctx: CaseContext, body: bytes, content_type: str) -> str:
    response = ctx.call("POST", "/", body=body, headers={"Content-Type": content_type})
    if response.status != 200 or response.body != body:
        got = response.describe(80)
        if response.status == 200:
            got = (f"{len(response.body)} bytes back for {len(body)} sent; first difference "
                   f"at byte {_first_difference(body, response.body)}: {got}")
        raise Failed(f"the {len(body)} bytes sent as {content_type}, byte for byte", got)
    return f"{len(body)} bytes round-tripped"


def _first_difference(a: bytes, b: bytes) -> int:
    for index, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return index
    return min(len(a), len(b))


@case("post-text", "function", "POST of plain text arrives intact",
      "A body that is not JSON reaches event.data as sent",
      f"{KUBELESS_RUNTIMES}, Runtimes interface; {README_GETS}",
      "pass non-JSON bodies through as the raw body (bytes, or a string decoded as UTF-8); "
      "do not strip, re-encode or form-decode them")
def check_post_text(ctx: CaseContext) -> str:
    return _echo_raw(ctx, TEXT_BODY, "text/plain; charset=utf-8")


@case("post-binary", "function", "POST of binary bytes arrives intact",
      "A body that is not JSON reaches event.data as sent, every byte of it",
      f"{KUBELESS_RUNTIMES}, Runtimes interface; {README_GETS}",
      "read application/octet-stream bodies as raw bytes (a Buffer in Node.js); never "
      "decode them as text")
def check_post_binary(ctx: CaseContext) -> str:
    return _echo_raw(ctx, BINARY_BODY, "application/octet-stream")


@case("event-headers", "function", "event-id/type/time/namespace headers reach the event",
      "The information in the event parameter is received as HTTP headers: event-id, "
      "event-type, event-time, event-namespace",
      f"{KUBELESS_NEW_RUNTIME} §2; {KUBELESS_RUNTIMES}, Runtimes interface",
      "copy the request headers event-id, event-type, event-time and event-namespace into "
      "the event under the same names")
def check_event_headers(ctx: CaseContext) -> str:
    sent = {"event-id": f"conformance-{ctx.token()}", "event-type": "application/json",
            "event-time": "2024-01-02T03:04:05Z", "event-namespace": "conformance.kubeless.io"}
    data = _expect_json(ctx.command("event", headers=sent), "the event the function saw")
    event = data.get("event") if isinstance(data, dict) else None
    if not isinstance(event, dict):
        raise Failed("the event fields", _short(repr(data)))
    wrong = [f"{name}={event.get(name)!r}" for name, value in sent.items()
             if event.get(name) != value]
    if wrong:
        raise Failed(", ".join(f"{k}={v!r}" for k, v in sent.items()),
                     "the function saw " + ", ".join(wrong))
    return "all four event headers reached the event"


@case("context", "function", "context carries function-name, timeout, runtime, memory-limit",
      "The context parameter holds function-name, timeout, runtime and memory-limit",
      f"{KUBELESS_RUNTIMES}, Runtimes interface; {README_GETS}",
      "fill context from KUBELESS_FUNC_NAME (or FUNC_NAME), FUNC_TIMEOUT, FUNC_RUNTIME and "
      "FUNC_MEMORY_LIMIT")
def check_context(ctx: CaseContext) -> str:
    from ..quantity import QuantityError, parse_memory

    data = _expect_json(ctx.command("context"), "the context the function saw")
    context = data.get("context") if isinstance(data, dict) else None
    if not isinstance(context, dict):
        raise Failed("the context fields", _short(repr(data)))
    problems = []
    name = ctx.deployment_name()
    if context.get("function-name") != name:
        problems.append(f"function-name={context.get('function-name')!r} (want {name!r})")
    try:
        timeout_ok = float(str(context.get("timeout"))) == float(MAIN_TIMEOUT)
    except (TypeError, ValueError):
        timeout_ok = False
    if not timeout_ok:
        problems.append(f"timeout={context.get('timeout')!r} (want '{MAIN_TIMEOUT}')")
    if context.get("runtime") != ctx.target.runtime:
        problems.append(f"runtime={context.get('runtime')!r} (want {ctx.target.runtime!r})")
    try:
        memory_ok = parse_memory(str(context.get("memory-limit"))) == parse_memory(MEMORY)
    except QuantityError:
        memory_ok = False
    if not memory_ok:
        problems.append(f"memory-limit={context.get('memory-limit')!r} (want {MEMORY!r})")
    if problems:
        raise Failed(f"function-name={name!r}, timeout='{MAIN_TIMEOUT}', "
                     f"runtime={ctx.target.runtime!r}, memory-limit={MEMORY!r}",
                     "; ".join(problems))
    return "all four as deployed"


@case("exception", "function", "an exception gives 500 and the next call succeeds",
      "Exceptions in the function should be caught. The server should not exit due to a "
      "function error",
      f"{KUBELESS_NEW_RUNTIME} §2; {README_GETS}",
      "catch every exception around the function call, answer 500 and log the traceback; "
      "keep the server process alive")
def check_exception(ctx: CaseContext) -> str:
    before = ctx.server_state()
    failing = ctx.command("raise")
    following = ctx.call("GET", "/")
    problems = []
    if failing.status != 500:
        problems.append(f"the raising call got {failing.describe(80)}")
    if following.status != 200 or following.body != GREETING.encode():
        problems.append(f"the next call got {following.describe(80)}")
    replaced = ctx.server_replaced(before, wait=2.0 if problems else 0.0)
    if replaced:
        problems.append(replaced)
    if problems:
        raise Failed("500 for the call that raises, then 200 for the next call, with the "
                     "same server process", "; ".join(problems))
    return "500, then 200 from the same process"


@case("parallel", "function", f"{PARALLEL_CALLS} calls of {PARALLEL_SLEEP:g} s overlap",
      "Requests should be served in parallel",
      f"{KUBELESS_NEW_RUNTIME} §2; {README_FLOW}",
      "run calls concurrently (threads, processes, worker threads or async), not one at a "
      "time; a synchronous sleep in one call must not block the others")
def check_parallel(ctx: CaseContext) -> str:
    started = time.monotonic()
    responses = _parallel(PARALLEL_CALLS, lambda i: ctx.command(
        "sleep", seconds=PARALLEL_SLEEP, timeout=PARALLEL_CALLS * PARALLEL_SLEEP + 20))
    total = time.monotonic() - started
    bad = [r for r in responses if r.status != 200]
    if bad:
        raise Failed(f"{PARALLEL_CALLS} x 200", _statuses(responses))
    if total >= PARALLEL_LIMIT:
        raise Failed(f"{PARALLEL_CALLS} calls of {PARALLEL_SLEEP:g} s done in under "
                     f"{PARALLEL_LIMIT:g} s (serially they take {PARALLEL_CALLS * PARALLEL_SLEEP:g}"
                     " s)", f"{total:.2f} s")
    return f"{PARALLEL_CALLS} calls of {PARALLEL_SLEEP:g} s in {total:.2f} s"


ANY_PATHS = ("/kubeless/conformance/any/path", "/with.dot/and-dash_/?q=1&x=two", "/a")


@case("any-path", "function", "any path reaches the function",
      "Every path except /healthz and /metrics reaches the function",
      f"{README_GETS}; {KUBELESS_RUNTIMES}, HTTP trigger",
      "route every path (a catch-all route), not only /")
def check_any_path(ctx: CaseContext) -> str:
    problems = []
    for path in ANY_PATHS:
        response = ctx.call("GET", path)
        if response.status != 200 or response.body != GREETING.encode():
            problems.append(f"GET {path}: {response.describe(60)}")
    if problems:
        raise Failed(f"HTTP 200 {GREETING!r} on every path", "; ".join(problems))
    return f"{len(ANY_PATHS)} paths reached the function"


@case("methods", "function", "PUT, PATCH and DELETE reach the function",
      "GET, POST, PUT, PATCH and DELETE reach the function",
      f"{README_GETS}; {KUBELESS_NEW_RUNTIME} §2.1 (metrics per HTTP method)",
      "route every method to the function, not only GET and POST")
def check_methods(ctx: CaseContext) -> str:
    problems = []
    for method in ("PUT", "PATCH"):
        response = ctx.call_json({"method": method}, method=method, path=f"/{method.lower()}")
        ok = response.status == 200
        if ok:
            try:
                ok = response.json() == {"echo": {"method": method}, "type": "object"}
            except ValueError:
                ok = False
        if not ok:
            problems.append(f"{method} with JSON: {response.describe(60)}")
    response = ctx.call("DELETE", "/delete")
    if response.status != 200 or response.body != GREETING.encode():
        problems.append(f"DELETE: {response.describe(60)}")
    if problems:
        raise Failed("HTTP 200 from the function for PUT, PATCH and DELETE", "; ".join(problems))
    return "PUT, PATCH, DELETE reached the function"


# --- level full: timeouts -------------------------------------------------------------------

def _late_call(ctx: CaseContext) -> Dict[str, Any]:
    """One call that overruns FUNC_TIMEOUT; shared by the two timeout cases."""
    def run() -> Dict[str, Any]:
        token = ctx.token()
        seconds = SHORT_TIMEOUT + LATE_EXTRA
        started = time.monotonic()
        response = ctx.command("late", token=token, seconds=seconds,
                               timeout=seconds + SHORT_TIMEOUT + 20)
        return {"token": token, "started": started, "due": started + seconds,
                "response": response}

    return ctx.memo("late-call", run)


@case("timeout-408", "full", "a call past FUNC_TIMEOUT gets 408 at the deadline",
      "Functions should run FUNC_TIMEOUT as maximum. If it is not possible to stop the user "
      "function, at least a 408 - Timeout response should be returned",
      f"{KUBELESS_NEW_RUNTIME} §2.1; {KUBELESS_RUNTIMES} (FUNC_TIMEOUT)",
      "start a timer of FUNC_TIMEOUT seconds when the call starts and answer 408 when it "
      "fires, even if the function is still running", deployment="timeout")
def check_timeout_408(ctx: CaseContext) -> str:
    late = _late_call(ctx)
    response = late["response"]
    limit = SHORT_TIMEOUT + 1.5
    if response.status != 408:
        raise Failed(f"HTTP 408 about {SHORT_TIMEOUT} s into a call that runs "
                     f"{SHORT_TIMEOUT + LATE_EXTRA:g} s (FUNC_TIMEOUT={SHORT_TIMEOUT})",
                     response.describe(80))
    if response.seconds > limit:
        raise Failed(f"the 408 within {limit:g} s (FUNC_TIMEOUT={SHORT_TIMEOUT})",
                     f"408 after {response.seconds:.2f} s: only when the function finished")
    return f"408 after {response.seconds:.2f} s (FUNC_TIMEOUT={SHORT_TIMEOUT})"


@case("timeout-hard", "full", "a timed-out function is stopped: no side effect after the "
      "deadline",
      "Functions should run FUNC_TIMEOUT as maximum (a runtime claiming hard timeouts stops "
      "the function; one that does not is reported as soft)",
      f"{KUBELESS_NEW_RUNTIME} §2.1; {README_FLOW}",
      "run each call where it can be killed (a worker process or a worker thread) and kill "
      "it at the deadline; or, if the language cannot, set \"hardTimeouts\": false in the "
      "catalog so this is reported as soft", deployment="timeout")
def check_timeout_hard(ctx: CaseContext) -> str:
    late = _late_call(ctx)
    token = str(late["token"])
    response = late["response"]
    wait = float(late["due"]) + SIDE_EFFECT_MARGIN - time.monotonic()
    if wait > 0:
        time.sleep(wait)
    evidence = ctx.side_effects(token)
    claimed = ctx.target.hard_timeouts_claimed
    expected = (f"nothing the function does after FUNC_TIMEOUT={SHORT_TIMEOUT} s happens: no "
                f"'kubeless-conformance done {token}' line on stdout, no "
                f"/tmp/kubeless-conformance-{token}.done")
    if "done" in evidence:
        got = (f"the function ran on after the deadline: its 'done' side effect happened "
               f"({evidence['done']}); the call was answered "
               f"{response.describe(40)}")
        if claimed:
            raise Failed(expected, got)
        raise Soft(f"{ctx.target.runtime} answers at the deadline but does not stop the "
                   "function (soft timeout); it does not claim hard timeouts, so this is "
                   "informational", expected, got)
    if "start" not in evidence:
        got = ("the function's start was not observable either (no stdout line, no file in "
               "/tmp), so the suite cannot tell whether it was stopped")
        if claimed:
            raise Failed(expected, got)
        raise Soft("cannot observe the function's side effects; it does not claim hard "
                   "timeouts, so this is informational", expected, got)
    note = "stopped at the deadline: started, never finished"
    if not claimed:
        note += ("; the runtime does this without claiming it (set \"hardTimeouts\": true "
                 "in its catalog entry)")
    return note


# --- level full: operations -----------------------------------------------------------------

_DATE = re.compile(
    r"\d{1,2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2}"      # Apache/morgan combined
    r"|\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?"          # ISO 8601
    r"|\d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2}"      # RFC 1123
    r"|[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}")  # ctime


@case("request-log", "full", "every request is logged on stdout with date, method, path and "
      "status",
      "Requests should be logged to stdout including date, HTTP method, requested path and "
      "status code of the response",
      f"{KUBELESS_NEW_RUNTIME} §2.1",
      "log one line per request to stdout (not stderr), e.g. the Apache combined format "
      "(morgan 'combined', wsgi-request-logger)")
def check_request_log(ctx: CaseContext) -> str:
    token = ctx.token()
    sent = []
    for method, command in (("GET", None), ("POST", "raise"), ("PUT", "sleep"),
                            ("DELETE", None)):
        path = f"/conformance-log/{token}/{method.lower()}"
        if command:
            response = ctx.command(command, method=method, path=path, seconds=0)
        else:
            response = ctx.call(method, path)
        sent.append((method, path, response.status))
    missing: List[str] = []
    deadline = time.monotonic() + 5.0
    for _ in range(50):
        stdout = ctx.logs(stdout=True, stderr=False)
        missing = [problem for problem in (_find_log_line(stdout, *item) for item in sent)
                   if problem]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if missing:
        stderr = ctx.logs(stdout=False, stderr=True)
        if any(path in stderr and not _find_log_line(stderr, m, path, s) for m, path, s in sent):
            missing.append("(the request lines are on stderr; the contract says stdout)")
        raise Failed("one stdout line per request with date, method, path and status: "
                     + ", ".join(f"{m} {p} {s}" for m, p, s in sent), "; ".join(missing))
    return f"{len(sent)} requests logged with date, method, path and status"


def _find_log_line(text: str, method: str, path: str, status: int) -> str:
    """'' when a line logs the request, else what is missing from the best candidate."""
    lines = [line for line in text.splitlines() if path in line]
    if not lines:
        return f"no line for {method} {path}"
    status_re = re.compile(rf"(?<![\d.]){status}(?![\d.])")
    for line in lines:
        if re.search(rf"\b{method}\b", line) and status_re.search(line) and _DATE.search(line):
            return ""
    line = lines[0]
    lacking = [what for what, ok in (("method", re.search(rf"\b{method}\b", line)),
                                     (f"status {status}", status_re.search(line)),
                                     ("date", _DATE.search(line))) if not ok]
    return f"{method} {path}: line {_short(line, 100)!r} has no {' or '.join(lacking)}"


def _scrape(ctx: CaseContext, when: str) -> Scrape:
    from .promtext import ExpositionError, parse

    response = ctx.call("GET", "/metrics")
    if response.status != 200:
        raise Failed("GET /metrics -> 200 with Prometheus text", f"{when}: {response.describe(80)}")
    try:
        return parse(response.text)
    except ExpositionError as exc:
        raise Failed("Prometheus text exposition format", f"{when}: {exc}") from None


CONTRACT_SAMPLES = ("function_calls_total", "function_failures_total",
                    "function_duration_seconds_count", "function_duration_seconds_sum",
                    "function_duration_seconds_bucket")
KNOWN_CALLS = (("GET", None, 3), ("POST", "sleep", 2), ("POST", "raise", 1), ("PUT", "sleep", 1))
EXPECTED_CALLS = {"GET": 3, "POST": 3, "PUT": 1}
EXPECTED_FAILURES = {"GET": 0, "POST": 1, "PUT": 0}


def _metrics_run(ctx: CaseContext) -> Dict[str, Any]:
    """Scrape, make KNOWN_CALLS, scrape again (until the counts settle, at most 3 s)."""
    def run() -> Dict[str, Any]:
        from .promtext import check_deltas

        before = _scrape(ctx, "before the calls")
        for method, command, count in KNOWN_CALLS:
            for _ in range(count):
                if command:
                    ctx.command(command, method=method, seconds=0)
                else:
                    ctx.call(method, "/")
        after = before
        for _ in range(15):
            after = _scrape(ctx, "after the calls")
            if (not after.has("function_calls_total")
                    or check_deltas(before, after, "function_calls_total", EXPECTED_CALLS).ok):
                break
            time.sleep(0.2)
        return {"before": before, "after": after}

    return ctx.memo("metrics-run", run)


def _check_counter(ctx: CaseContext, sample: str, expected: Mapping[str, int],
                   family: str, kind: str) -> str:
    from .promtext import check_deltas, missing_method_label, similar_names

    run = _metrics_run(ctx)
    before, after = run["before"], run["after"]
    want = (f"{sample} per method to grow by "
            + ", ".join(f"{m}: +{n}" for m, n in expected.items())
            + f" after {_describe_calls()}")
    if not after.has(sample):
        near = similar_names(after, sample, exclude=CONTRACT_SAMPLES)
        raise Failed(want, f"no sample named {sample}"
                     + (f"; similar: {', '.join(near)}" if near else ""))
    unlabelled = missing_method_label(after, sample)
    if unlabelled:
        raise Failed(want, unlabelled)
    if after.kind(family) != kind:
        raise Failed(f"{family} to be a {kind}", f"a {after.kind(family) or 'untyped'} metric")
    result = check_deltas(before, after, sample, expected)
    if not result.ok:
        raise Failed(want, "grew by " + result.describe())
    return result.describe_expected()


def _describe_calls() -> str:
    return ", ".join(f"{n} {m}{' (' + c + ')' if c == 'raise' else ''}"
                     for m, c, n in KNOWN_CALLS)


METRICS_CLAUSE = ("The function should expose Prometheus statistics in the path /metrics: "
                  "calls per HTTP method, errors per HTTP method, a histogram with the "
                  "execution time per HTTP method")
METRICS_REF = f"{KUBELESS_NEW_RUNTIME} §2.1; {README_FLOW} (metrics)"


@case("metrics-exposition", "full", "/metrics parses as Prometheus text",
      "The function should expose Prometheus statistics in the path /metrics", METRICS_REF,
      "serve GET /metrics from the HTTP server (not the function) with a Prometheus client "
      "library's text exposition (prometheus_client, prom-client)")
def check_metrics_exposition(ctx: CaseContext) -> str:
    scrape = _scrape(ctx, "GET /metrics")
    families = len({name for name in scrape.types if not name.endswith(
        ("_total", "_count", "_sum", "_bucket", "_created"))})
    return f"parsed: {families} metric families"


@case("metrics-calls", "full", "function_calls_total counts calls per method",
      METRICS_CLAUSE, METRICS_REF,
      "count every call of the function in the counter function_calls_total with a "
      "'method' label (prometheus_client: Counter('function_calls', ..., ['method']))")
def check_metrics_calls(ctx: CaseContext) -> str:
    return _check_counter(ctx, "function_calls_total", EXPECTED_CALLS, "function_calls_total",
                          "counter")


@case("metrics-failures", "full", "function_failures_total counts failed calls per method",
      METRICS_CLAUSE, METRICS_REF,
      "count every call that raised, crashed or timed out in the counter "
      "function_failures_total with a 'method' label")
def check_metrics_failures(ctx: CaseContext) -> str:
    return _check_counter(ctx, "function_failures_total", EXPECTED_FAILURES,
                          "function_failures_total", "counter")


@case("metrics-duration", "full", "function_duration_seconds is a histogram per method",
      METRICS_CLAUSE, METRICS_REF,
      "observe each call's duration in the histogram function_duration_seconds with a "
      "'method' label")
def check_metrics_duration(ctx: CaseContext) -> str:
    return _check_counter(ctx, "function_duration_seconds_count", EXPECTED_CALLS,
                          "function_duration_seconds_count", "histogram")


@case("body-limit-413", "full", f"a body over REQ_MB_LIMIT={BODY_LIMIT_MB} gets 413",
      "REQ_MB_LIMIT is the request body limit in MB; a larger body gets 413",
      f"{README_CONFIG} (REQ_MB_LIMIT); Kubeless Node.js runtime (REQ_MB_LIMIT)",
      "read REQ_MB_LIMIT (MB, default 1) and answer 413 Payload Too Large to bigger bodies "
      "before calling the function")
def check_body_limit(ctx: CaseContext) -> str:
    from .httpclient import send_large_body

    limit = BODY_LIMIT_MB * 1024 * 1024
    small = ctx.call("POST", "/", body=b"s" * (limit * 3 // 4),
                     headers={"Content-Type": "application/octet-stream"})
    if small.status != 200:
        raise Failed(f"a body of {limit * 3 // 4} bytes (under the limit) to be served",
                     small.describe(60))
    size = limit + limit // 4
    response = send_large_body(ctx.url() + "/", size)
    if response.status != 413:
        raise Failed(f"HTTP 413 for a body of {size} bytes (REQ_MB_LIMIT={BODY_LIMIT_MB})",
                     response.describe(60))
    return f"{limit * 3 // 4} bytes served; {size} bytes: 413"


def _dependencies_apply(target: ResolvedTarget) -> Optional[str]:
    if target.spec is None:
        return (f"{target.runtime} is not in the catalog, so its installation phase (image "
                "and command) is unknown")
    if not target.spec.has_phase("installation"):
        return f"{target.runtime} has no installation phase in the catalog"
    if target.functions is None or target.functions.dependencies is None:
        return "the conformance functions of this language have no dependency file"
    return None


@case("dependencies", "full", "the installation phase installs a dependency the function uses",
      "Dependencies listed in the runtime's dependency file are installed in the install "
      "volume by the installation phase, and the function can use them",
      f"{KUBELESS_NEW_RUNTIME} §4; {README_CONFIG} (KUBELESS_INSTALL_VOLUME)",
      "install into $KUBELESS_INSTALL_VOLUME (pip install --prefix, npm install in the "
      "volume) and put that location on the runtime's import path", deployment="deps",
      applies=_dependencies_apply, deploy_failure_fails=True)
def check_dependencies(ctx: CaseContext) -> str:
    functions = ctx.target.functions
    assert functions is not None
    data = _expect_json(ctx.command("deps"), f"the function importing {functions.dependency_name}")
    problems = []
    if data.get("version") != functions.dependency_version:
        problems.append(f"version {data.get('version')!r}")
    if not str(data.get("file", "")).startswith("/kubeless/"):
        problems.append(f"loaded from {data.get('file')!r}, not from /kubeless")
    if problems:
        raise Failed(f"{functions.dependency_name} {functions.dependency_version} loaded from "
                     "/kubeless", ", ".join(problems))
    return (f"{functions.dependency_name} {functions.dependency_version} imported from "
            f"{data.get('file')}")


def _compile_applies(target: ResolvedTarget) -> Optional[str]:
    if target.spec is None:
        return f"{target.runtime} is not in the catalog, so its compilation phase is unknown"
    if not target.spec.has_phase("compilation"):
        return f"{target.runtime} has no compilation phase"
    if target.functions is None or target.functions.compile_error is None:
        return "the conformance functions of this language have no compile-error source"
    return None


@case("compile-error", "full", "a compile error lands in the termination log",
      "A compilation phase that fails writes its error to /dev/termination-log, where "
      "Kubernetes shows it as the pod's termination message",
      f"{KUBELESS_NEW_RUNTIME} §5; Kubernetes termination messages",
      "make the compilation command write the compiler's error (its last lines) to "
      "/dev/termination-log and exit non-zero", deployment="compile",
      applies=_compile_applies, deploy_failure_fails=True)
def check_compile_error(ctx: CaseContext) -> str:
    functions = ctx.target.functions
    assert functions is not None and functions.compile_error is not None
    error = ctx.deploy_error()
    if error is None:
        raise Failed("the compilation phase to fail", "the broken function deployed and ran")
    if error.phase != "compilation":
        raise Failed("a failure in the compilation phase", f"a failure in the {error.phase} "
                     f"phase: {_short(error.termination_message)}")
    pattern = functions.compile_error.expect
    if pattern and not re.search(pattern, error.termination_message):
        raise Failed(f"a termination message matching {pattern!r}",
                     _short(error.termination_message) or "(empty)")
    return f"termination message: {_short(error.termination_message, 80)}"


@case("non-root", "full", "the runtime runs as a non-root user",
      "The runtime container runs as a non-root user", f"{README_FLOW}; Kubernetes Pod "
      "Security Standards (restricted: runAsNonRoot)",
      "add a user and `USER 1000:1000` to the Dockerfile; do not start as root and drop "
      "privileges later")
def check_non_root(ctx: CaseContext) -> str:
    processes = ctx.processes()
    root = [f"pid {pid} ({command})" for pid, uid, command in processes if uid == "0"]
    if root:
        raise Failed("every process of the runtime container with a non-zero uid",
                     "running as root: " + ", ".join(root[:5]))
    uids = sorted({uid for _, uid, _ in processes})
    return f"{len(processes)} processes, uid {', '.join(uids)}"


__all__ = ["CASES", "DEPLOYMENTS", "LEVELS", "SERVER", "Case", "CaseOutcome", "DeploymentSpec",
           "Failed", "Skipped", "Soft", "UnknownCaseError", "UnknownLevelError", "case",
           "get_case", "level_index", "run_order", "select_cases"]

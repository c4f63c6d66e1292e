"""Level custom: any HTTP server image serves, probes and stops."""

from __future__ import annotations

import time
from typing import Any, List

from ..model import (
    HEALTHZ_PARALLEL,
    K8S_PROBES,
    K8S_TERMINATION,
    KUBELESS_NEW_RUNTIME,
    KUBELESS_RUNTIMES,
    README_GETS,
    SERVER,
    SIGTERM_GRACE,
    CaseContext,
    Failed,
    case,
    parallel,
    statuses,
)

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


HEALTHZ_ROUNDS = 3
"""Rounds of parallel requests before slowness counts as a failure (load comes and goes)."""
HEALTHZ_BACKOFF = (1.0, 3.0)
"""Seconds to wait before the second and third rounds."""
LOADED_FACTOR = 4.0
"""On a loaded machine a round may take up to this many times a lone /healthz."""
SILENT_GAP = 0.75
"""Seconds without any answer while requests wait: the kernel dropped connections that did not
fit the listen backlog and the clients are waiting to retry them (TCP retries after 1 s)."""


def _silent_gap(responses: List[Any]) -> float:
    """The longest pause between two answers of requests that all started together."""
    times = sorted(r.seconds for r in responses)
    return max((b - a for a, b in zip(times, times[1:])), default=0.0)


def _lone_healthz(ctx: CaseContext, limit: float) -> float:
    """The median time of 3 sequential /healthz: how slow this machine is right now."""
    times = sorted(r.seconds for r in (ctx.call("GET", "/healthz", timeout=limit + 10)
                                      for _ in range(3)) if r.status == 200)
    return times[len(times) // 2] if times else 0.0


@case("healthz-parallel", "custom", f"/healthz keeps answering {HEALTHZ_PARALLEL} parallel "
      "requests",
      "The liveness probe must keep succeeding while the server is busy; requests should be "
      "served in parallel",
      f"{KUBELESS_NEW_RUNTIME} §2; {K8S_PROBES}",
      "serve requests concurrently (threads, an event loop or workers) and keep a listen "
      "backlog of at least 128; Python's http.server defaults to 5", deployment=SERVER)
def check_healthzparallel(ctx: CaseContext) -> str:
    """Robust to a loaded machine, not to a small listen backlog.

    A refused, reset or unanswered connection fails at once: a loaded machine is slow, it
    does not drop connections.  Otherwise up to HEALTHZ_ROUNDS rounds, and one good round
    passes.  A round is good when its slowest answer is within the probe's timeout or
    LOADED_FACTOR times a lone /healthz measured just before (whichever is larger) and no
    SILENT_GAP passes without an answer.  The gap is what gives a small backlog away whatever
    the load: the kernel drops the connections it cannot queue, the server answers the queued
    ones and then idles until the clients retry after 1 s, while a server that is merely slow
    keeps answering, one request after another.
    """
    limit = ctx.target.probe_timeout
    rounds = []
    for attempt in range(HEALTHZ_ROUNDS):
        if attempt:
            time.sleep(HEALTHZ_BACKOFF[min(attempt, len(HEALTHZ_BACKOFF)) - 1])
        lone = _lone_healthz(ctx, limit)
        allowed = max(limit, LOADED_FACTOR * lone)
        started = time.monotonic()
        responses = parallel(HEALTHZ_PARALLEL,
                             lambda i, wait=allowed + 10: ctx.call("GET", "/healthz",
                                                                   timeout=wait))
        total = time.monotonic() - started
        bad = [r for r in responses if r.status != 200]
        if bad:
            lost = sum(1 for r in bad if not r.status)
            raise Failed(f"{HEALTHZ_PARALLEL} x 200", statuses(responses) + (
                f" ({lost} connections refused, reset or unanswered: the server does not take "
                "parallel connections; a small listen backlog?)" if lost else ""))
        slowest = max(r.seconds for r in responses)
        gap = _silent_gap(responses)
        if slowest <= allowed and gap < SILENT_GAP:
            note = f"{HEALTHZ_PARALLEL} x 200 in {total:.2f} s, slowest {slowest:.3f} s"
            if allowed > limit:
                note += (f" (allowed {allowed:.2f} s: a lone /healthz took {lone:.3f} s on "
                         "this loaded machine)")
            if rounds:
                note += f" in round {attempt + 1}; before: " + "; ".join(rounds)
            return note
        slow = sum(1 for r in responses if r.seconds > allowed)
        rounds.append(f"round {attempt + 1}: {slow} slower than {allowed:.2f} s, slowest "
                      f"{slowest:.2f} s, {gap:.2f} s without any answer (a lone /healthz: "
                      f"{lone:.3f} s)")
    raise Failed(f"{HEALTHZ_PARALLEL} x 200, each within {limit:g} s (or {LOADED_FACTOR:g} x a "
                 f"lone /healthz on a loaded machine) and no pause of {SILENT_GAP:g} s without "
                 f"an answer, in one of {HEALTHZ_ROUNDS} rounds",
                 "; ".join(rounds) + "; a pause of about 1 s while requests wait is the TCP "
                 "retry of connections the kernel dropped: the listen backlog overflows")


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

"""Level custom: any HTTP server image serves, probes and stops."""

from __future__ import annotations

import time

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


@case("healthz-parallel", "custom", f"/healthz keeps answering {HEALTHZ_PARALLEL} parallel "
      "requests",
      "The liveness probe must keep succeeding while the server is busy; requests should be "
      "served in parallel",
      f"{KUBELESS_NEW_RUNTIME} §2; {K8S_PROBES}",
      "serve requests concurrently (threads, an event loop or workers) and keep a listen "
      "backlog of at least 128; Python's http.server defaults to 5", deployment=SERVER)
def check_healthzparallel(ctx: CaseContext) -> str:
    limit = ctx.target.probe_timeout
    started = time.monotonic()
    responses = parallel(HEALTHZ_PARALLEL,
                          lambda i: ctx.call("GET", "/healthz", timeout=limit + 10))
    total = time.monotonic() - started
    bad = [r for r in responses if r.status != 200]
    slow = [r for r in responses if r.status == 200 and r.seconds > limit]
    if bad or slow:
        got = statuses(responses)
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

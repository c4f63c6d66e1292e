"""Level full: FUNC_TIMEOUT answers 408, and the call is really stopped."""

from __future__ import annotations

import time
from typing import Any, Dict

from ..model import (
    KUBELESS_NEW_RUNTIME,
    KUBELESS_RUNTIMES,
    LATE_EXTRA,
    README_FLOW,
    SHORT_TIMEOUT,
    SIDE_EFFECT_MARGIN,
    CaseContext,
    Failed,
    Soft,
    case,
)

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

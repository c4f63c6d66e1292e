"""Level function: the function contract (load, data, event, context, errors, parallel calls)."""

from __future__ import annotations

import time

from ..function_sets import GREETING
from ..model import (
    KUBELESS_NEW_RUNTIME,
    KUBELESS_RUNTIMES,
    MAIN_TIMEOUT,
    MEMORY,
    PARALLEL_CALLS,
    PARALLEL_LIMIT,
    PARALLEL_SLEEP,
    README_CONFIG,
    README_FLOW,
    README_GETS,
    CaseContext,
    Failed,
    case,
    expect_json,
    parallel,
    short,
    statuses,
)

# --- level function -------------------------------------------------------------------------

@case("loads-handler", "function", "loads MOD_NAME/FUNC_HANDLER from /kubeless",
      "The file to load is named by MOD_NAME and the function by FUNC_HANDLER; the function "
      "lives in the install volume (KUBELESS_INSTALL_VOLUME, /kubeless)",
      f"{KUBELESS_NEW_RUNTIME} §2; {README_CONFIG}",
      "import $KUBELESS_INSTALL_VOLUME/$MOD_NAME<suffix> and call its $FUNC_HANDLER")
def check_loads_handler(ctx: CaseContext) -> str:
    data = expect_json(ctx.command("where"), "the conformance function's 'where' command")
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
    data = expect_json(response, "the echo of a JSON object")
    if not isinstance(data, dict) or data.get("type") != "object":
        kind = data.get("type") if isinstance(data, dict) else type(data).__name__
        raise Failed("event.data to be the parsed JSON object",
                     f"the function received it as {kind!r}: {short(data)!r}")
    if data.get("echo") != JSON_PAYLOAD:
        raise Failed(f"the same object back: {JSON_PAYLOAD!r}", short(repr(data.get("echo"))))
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
    data = expect_json(ctx.command("event", headers=sent), "the event the function saw")
    event = data.get("event") if isinstance(data, dict) else None
    if not isinstance(event, dict):
        raise Failed("the event fields", short(repr(data)))
    wrong = [f"{name}={event.get(name)!r}" for name, value in sent.items()
             if event.get(name) != value]
    if wrong:
        raise Failed(", ".join(f"{k}={v!r}" for k, v in sent.items()),
                     "the function saw " + ", ".join(wrong))
    return "all four event headers reached the event"


@case("context", "function", "context carries function-name, timeout, runtime, memory-limit",
      "The context parameter holds function-name, timeout, runtime and memory-limit",
      f"{KUBELESS_RUNTIMES}, Runtimes interface; {README_GETS}",
      "fill context as Kubeless does: function-name is the handler's function name "
      "(FUNC_HANDLER; func.__name__ in Python), not the deployment's; the rest from "
      "FUNC_TIMEOUT, FUNC_RUNTIME and FUNC_MEMORY_LIMIT")
def check_context(ctx: CaseContext) -> str:
    from ...quantity import QuantityError, parse_memory

    data = expect_json(ctx.command("context"), "the context the function saw")
    context = data.get("context") if isinstance(data, dict) else None
    if not isinstance(context, dict):
        raise Failed("the context fields", short(repr(data)))
    problems = []
    # Kubeless gives the handler's function name (Python: func.__name__, Node, Go and Java:
    # FUNC_HANDLER), never the deployment's name.
    functions = ctx.target.functions
    name = functions.handler.rpartition(".")[2] if functions is not None else ""
    if context.get("function-name") != name:
        deployed = ctx.deployment_name()
        why = " - the deployment's name; Kubeless gives the handler's" \
            if context.get("function-name") == deployed else ""
        problems.append(f"function-name={context.get('function-name')!r} (want {name!r}{why})")
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
def checkparallel(ctx: CaseContext) -> str:
    started = time.monotonic()
    responses = parallel(PARALLEL_CALLS, lambda i: ctx.command(
        "sleep", seconds=PARALLEL_SLEEP, timeout=PARALLEL_CALLS * PARALLEL_SLEEP + 20))
    total = time.monotonic() - started
    bad = [r for r in responses if r.status != 200]
    if bad:
        raise Failed(f"{PARALLEL_CALLS} x 200", statuses(responses))
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

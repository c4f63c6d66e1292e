"""The ASGI application of the runtime: request log, CORS, ``/healthz``, ``/metrics``, function.

:class:`FunctionApp` answers on the event loop: body limit, then a worker of
:mod:`.pool` (awaited, holding no thread), then metrics, CORS and one log
line. ``/healthz`` and ``/metrics`` never touch a worker, so they answer in
milliseconds however many calls are in flight. :func:`cors` and
:func:`request_logger` are the same two concerns as middlewares, for other ASGI
apps.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from .accesslog import RequestLog, combined_log_line
from .config import Config
from .event import wire_from_scope
from .metrics import FunctionMetrics
from .pool import PoolClosed, WorkerPool
from .worker import BAD_REQUEST, CRASH, OK, TIMEOUT

log = logging.getLogger("kubeless_runtime")

FUNCTION_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"})
_CORS_ALLOW_METHODS = b"GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"
_TEXT = b"text/plain; charset=utf-8"

Scope = Dict[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]
Headers = List[Tuple[bytes, bytes]]


def _header(scope: Scope, name: bytes) -> Optional[bytes]:
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


_ORIGIN = (b"access-control-allow-origin", b"*")


def _preflight(scope: Scope) -> Tuple[int, Headers, bytes]:
    requested = _header(scope, b"access-control-request-headers") or b"*"
    return 204, [_ORIGIN, (b"access-control-allow-methods", _CORS_ALLOW_METHODS),
                 (b"access-control-allow-headers", requested),
                 (b"access-control-max-age", b"86400")], b""


def _log_line(scope: Scope, status: int, size: int, seconds: float) -> str:
    referer = user_agent = ""
    for name, value in scope["headers"]:
        if name == b"referer":
            referer = value.decode("latin-1")
        elif name == b"user-agent":
            user_agent = value.decode("latin-1")
    target = scope.get("raw_path") or scope["path"].encode()
    if scope.get("query_string"):
        target += b"?" + scope["query_string"]
    client = scope.get("client") or ("-", 0)
    return combined_log_line(client[0], scope["method"], target.decode("latin-1"),
                             "HTTP/" + scope.get("http_version", "1.1"), status, size, referer,
                             user_agent, seconds)


def cors(app: ASGIApp) -> ASGIApp:
    """Answer CORS preflight and add ``Access-Control-Allow-Origin: *`` to every answer.

    For embedding other ASGI apps; the runtime's own app does the same inline.
    """

    async def middleware(scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            await _reply(send, *_preflight(scope))
            return

        async def with_origin(message: Dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if not any(name.lower() == b"access-control-allow-origin"
                           for name, _ in headers):
                    headers.append((b"access-control-allow-origin", b"*"))
                message = dict(message, headers=headers)
            await send(message)

        await app(scope, receive, with_origin)

    return middleware


def request_logger(app: ASGIApp, stream: Any = None) -> ASGIApp:
    """One Apache combined line per request (date, method, path, status, size, duration).

    For embedding other ASGI apps; the runtime's own app logs inline. The
    returned app has ``request_log`` (a :class:`RequestLog`: ``flush()``,
    ``start(loop)``) so a server can schedule flushes.
    """
    request_log = RequestLog(stream)

    async def middleware(scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        state = [500, 0]

        async def capture(message: Dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                state[0] = message["status"]
            else:
                state[1] += len(message.get("body", b""))
            await send(message)

        try:
            await app(scope, receive, capture)
        finally:
            request_log.write(_log_line(scope, state[0], state[1],
                                        time.perf_counter() - started))

    middleware.request_log = request_log  # type: ignore[attr-defined]
    return middleware


async def _reply(send: Callable, status: int, headers: Headers, body: bytes) -> None:
    headers.append((b"content-length", b"%d" % len(body)))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _text(status: int, message: str) -> Tuple[int, Headers, bytes]:
    return status, [(b"content-type", _TEXT)], (message + "\n").encode("utf-8")


class _Disconnected(Exception):
    pass


async def read_body(scope: Scope, receive: Callable, limit: int) -> Optional[bytes]:
    """The request body, or None when it is over ``limit`` (read no further than that)."""
    declared = _header(scope, b"content-length")
    if declared is not None and int(declared) > limit:
        return None
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        if not message.get("more_body"):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class FunctionApp:
    """The runtime's ASGI app: request log, CORS, ``/healthz``, ``/metrics``, the function.

    Logging and CORS are done inline rather than by the :func:`cors` and
    :func:`request_logger` middlewares: the HTTP process is the runtime's one
    single-threaded stage, and two wrapping layers per request were a
    measurable share of it. Methods the function cannot get are answered here
    in plain text: ``TRACE`` 405 (it would echo credentials back), anything
    else unknown 501.
    """

    def __init__(self, config: Config, pool: WorkerPool, metrics: FunctionMetrics,
                 log_stream: Any = None) -> None:
        self.limit = config.body_limit
        self.pool = pool
        self.metrics = metrics
        self.request_log = RequestLog(log_stream)

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        if scope["method"] == "OPTIONS":
            status, headers, body = _preflight(scope)
        else:
            try:
                status, headers, body = await self.answer(scope, receive)
            except _Disconnected:
                return
            for name, _ in headers:
                if name.lower() == b"access-control-allow-origin":
                    break
            else:
                headers.append(_ORIGIN)
        await _reply(send, status, headers, body)
        self.request_log.write(_log_line(scope, status, len(body),
                                         time.perf_counter() - started))

    async def answer(self, scope: Scope, receive: Callable) -> Tuple[int, Headers, bytes]:
        """Status, headers and body for any request but a CORS preflight."""
        method = scope["method"]
        path = scope["path"]
        if path == "/healthz" or path == "/metrics":
            if method in ("GET", "HEAD"):
                if path == "/healthz":
                    answer = 200, [(b"content-type", _TEXT)], b"OK"
                else:
                    body, content_type = self.metrics.exposition()
                    answer = 200, [(b"content-type", content_type.encode())], body
            else:
                answer = _text(405, f"{path} answers GET and HEAD only")
                answer[1].append((b"allow", b"GET, HEAD"))
        elif method in FUNCTION_METHODS:
            return await self.call(scope, method, receive)
        elif method == "TRACE":
            answer = _text(405, "TRACE is not allowed: the function answers GET, POST, PUT, "
                                "PATCH, DELETE, HEAD and OPTIONS")
            answer[1].append((b"allow", _CORS_ALLOW_METHODS))
        else:
            answer = _text(501, f"{method} is not implemented: the function answers GET, POST, "
                                "PUT, PATCH, DELETE, HEAD and OPTIONS")
        return answer

    async def call(self, scope: Scope, method: str,
                   receive: Callable) -> Tuple[int, Headers, bytes]:
        """Status, headers and body of one function call."""
        body = await read_body(scope, receive, self.limit)
        if body is None:
            return _text(413, f"Request body is larger than the limit of {self.limit} bytes "
                              "(set REQ_MB_LIMIT in MB, or FUNC_MEMFILE_MAX in bytes, to "
                              "raise it)")
        started = time.perf_counter()
        try:
            outcome = await self.pool.invoke(wire_from_scope(scope, body))
        except PoolClosed as exc:
            self.metrics.record(method, time.perf_counter() - started, failed=True)
            return _text(503, f"Service Unavailable: the runtime is shutting down ({exc}); "
                              "retry the call")
        if outcome.kind == BAD_REQUEST:
            return _text(400, outcome.detail)
        self.metrics.record(method, time.perf_counter() - started, failed=outcome.kind != OK)
        if outcome.kind == OK:
            reply = outcome.reply
            return reply.status, reply.headers, reply.body
        where = f"{method} {scope['path']}"
        if outcome.kind == TIMEOUT:
            log.error("%s: %s", where, outcome.detail)
            return _text(408, f"Timeout: {outcome.detail}")
        if outcome.kind == CRASH:
            log.error("%s: %s; a new worker replaces it", where, outcome.detail)
            return _text(500, f"Internal Server Error: {outcome.detail}")
        log.error("%s: the function raised %s\n%s", where, outcome.detail,
                  outcome.traceback.rstrip())
        return _text(500, "Internal Server Error: the function raised "
                          f"{outcome.detail.split(':', 1)[0]}; see the runtime's log")


def make_app(config: Config, pool: WorkerPool, metrics: FunctionMetrics,
             log_stream: Any = None) -> FunctionApp:
    """The runtime's ASGI app (request log, CORS, function), for embedding in another server.

    Its ``request_log`` must be flushed: ``app.request_log.start(loop)`` on a running loop.
    """
    return FunctionApp(config, pool, metrics, log_stream)


def configure_logging() -> None:
    """Runtime messages (tracebacks, timeouts) go to stderr, request lines to stdout."""
    logger = logging.getLogger("kubeless_runtime")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False

"""The WSGI application of the runtime: request log -> CORS -> function route or bottle.

A request goes: request log -> CORS -> :class:`FunctionApp` (body limit, then the worker pool
of :mod:`.pool`, then metrics) -> reply. ``/healthz`` and ``/metrics`` are bottle routes that
never touch a worker.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from http import HTTPStatus
from typing import Any, Callable, Iterable, List, Optional, Tuple

import bottle

from .config import Config
from .event import invocation_from_environ
from .metrics import FunctionMetrics
from .pool import PoolClosed, WorkerPool
from .worker import BAD_REQUEST, CRASH, OK, TIMEOUT

log = logging.getLogger("kubeless_runtime")

FUNCTION_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"})
_CORS_ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


def cors(app: WSGIApp) -> WSGIApp:
    """Answer CORS preflight and add ``Access-Control-Allow-Origin: *`` to every answer."""

    def middleware(environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "OPTIONS":
            requested = environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "*")
            start_response("204 No Content", [
                ("Access-Control-Allow-Origin", "*"),
                ("Access-Control-Allow-Methods", _CORS_ALLOW_METHODS),
                ("Access-Control-Allow-Headers", requested),
                ("Access-Control-Max-Age", "86400"),
                ("Content-Length", "0"),
            ])
            return [b""]

        def with_origin(status: str, headers: List[Tuple[str, str]], exc_info: Any = None):
            if not any(name.lower() == "access-control-allow-origin" for name, _ in headers):
                headers.append(("Access-Control-Allow-Origin", "*"))
            return start_response(status, headers, exc_info)

        return app(environ, with_origin)

    return middleware


class PeriodicFlushHandler(logging.StreamHandler):
    """A log handler that flushes a few times a second instead of after every line.

    One ``write`` per request is a system call in the HTTP process, and each
    system call there is a GIL hand-off between busy threads; batching the log
    lines keeps them all while removing that cost from the request path.
    """

    def __init__(self, stream: Any, interval: float = 0.2) -> None:
        super().__init__(stream)
        self.interval = interval
        threading.Thread(target=self._flush_forever, name="kubeless-log-flush",
                         daemon=True).start()

    def flush(self) -> None:
        """Called by ``emit`` after each line: deliberately a no-op, see the class doc."""

    def flush_now(self) -> None:
        with self.lock:
            try:
                self.stream.flush()
            except (OSError, ValueError):
                pass

    def _flush_forever(self) -> None:
        while True:
            time.sleep(self.interval)
            self.flush_now()

    def close(self) -> None:
        self.flush_now()
        super().close()


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_clock_cache = [-1, ""]


def _log_time(now: float) -> str:
    second = int(now)
    if _clock_cache[0] != second:
        local = time.localtime(second)
        _clock_cache[1] = time.strftime(
            f"%d/{_MONTHS[local.tm_mon - 1]}/%Y:%H:%M:%S %z", local)
        _clock_cache[0] = second
    return _clock_cache[1]


def combined_log_line(status_code: int, environ: dict, content_length: int,
                      rt_us: int = 0, **_: Any) -> str:
    """The line ``requestlogger.ApacheFormatter(with_response_time=True)`` writes.

    The same Apache combined format plus response time, with the query string
    kept in the request line and the timestamp formatted once per second
    rather than once per request.
    """
    path = environ.get("PATH_INFO", "")
    if environ.get("QUERY_STRING"):
        path += "?" + environ["QUERY_STRING"]
    return (f'{environ.get("REMOTE_ADDR", "-")} - - [{_log_time(time.time())}] '
            f'"{environ.get("REQUEST_METHOD", "")} {path} {environ.get("SERVER_PROTOCOL", "")}" '
            f'{status_code} {content_length} "{environ.get("HTTP_REFERER", "")}" '
            f'"{environ.get("HTTP_USER_AGENT", "")}" {rt_us // 1000000}/{rt_us % 1000000}')


def request_logger(app: WSGIApp, stream: Any = None) -> WSGIApp:
    """Apache combined log lines (date, method, path, status, size, duration) on stdout."""
    from requestlogger import WSGILogger

    if stream is None:
        stream = open(sys.stdout.fileno(), "w", buffering=1 << 16, encoding="utf-8",
                      errors="replace", closefd=False)
    handler = PeriodicFlushHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = WSGILogger(app, [handler], combined_log_line, propagate=False)
    logger.flush = handler.flush_now
    return logger


def _read_body(environ: dict, limit: int) -> Optional[bytes]:
    """The request body, or None when it is over ``limit`` (read no further than that)."""
    stream = environ["wsgi.input"]
    try:
        length = int(environ.get("CONTENT_LENGTH") or -1)
    except ValueError:
        length = -1
    if length > limit:
        return None
    if length >= 0:
        return stream.read(length) if length else b""
    body = stream.read(limit + 1)
    return None if len(body) > limit else body


_REASONS = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}
_TEXT = "text/plain; charset=utf-8"


def _status_line(code: int) -> str:
    return _REASONS.get(code) or f"{code} Unknown"


def make_app(metrics: FunctionMetrics) -> bottle.Bottle:
    """The bottle app for ``/healthz`` and ``/metrics``; neither touches a worker."""
    app = bottle.Bottle(catchall=True, autojson=False)

    @app.route("/healthz", method=["GET", "HEAD"])
    def healthz() -> str:
        bottle.response.content_type = _TEXT
        return "OK"

    @app.route("/metrics", method=["GET", "HEAD"])
    def prometheus() -> bytes:
        body, content_type = metrics.exposition()
        bottle.response.content_type = content_type
        return body

    return app


class FunctionApp:
    """Every other path and method goes to the function, as plain WSGI.

    The function route is the hot path, so it skips bottle's routing and
    response objects (a sizeable share of the HTTP process's time per call);
    the function still gets a real bottle request inside its worker.
    """

    def __init__(self, config: Config, pool: WorkerPool, metrics: FunctionMetrics,
                 fallback: WSGIApp) -> None:
        self.limit = config.body_limit
        self.pool = pool
        self.metrics = metrics
        self.fallback = fallback

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        if environ.get("PATH_INFO") in ("/healthz", "/metrics") or method not in FUNCTION_METHODS:
            return self.fallback(environ, start_response)
        status, headers, body = self.call(environ, method)
        headers.append(("Content-Length", str(len(body))))
        start_response(_status_line(status), headers)
        return [b"" if method == "HEAD" else body]

    @staticmethod
    def _text(status: int, message: str) -> Tuple[int, List[Tuple[str, str]], bytes]:
        return status, [("Content-Type", _TEXT)], (message + "\n").encode("utf-8")

    def call(self, environ: dict, method: str) -> Tuple[int, List[Tuple[str, str]], bytes]:
        """Status, headers and body of one function call."""
        body = _read_body(environ, self.limit)
        if body is None:
            return self._text(413, f"Request body is larger than the limit of {self.limit} bytes "
                                   "(set REQ_MB_LIMIT in MB, or FUNC_MEMFILE_MAX in bytes, to "
                                   "raise it)")
        started = time.perf_counter()
        try:
            outcome = self.pool.invoke(invocation_from_environ(environ, body))
        except PoolClosed:
            self.metrics.record(method, time.perf_counter() - started, failed=True)
            return self._text(503, "The runtime is shutting down; retry the call")
        if outcome.kind == BAD_REQUEST:
            return self._text(400, outcome.detail)
        self.metrics.record(method, time.perf_counter() - started, failed=outcome.kind != OK)
        if outcome.kind == OK:
            reply = outcome.reply
            headers = list(reply.headers)
            if not any(name.lower() == "content-type" for name, _ in headers):
                headers.append(("Content-Type", "text/html; charset=UTF-8"))
            return reply.status, headers, reply.body
        where = f"{method} {environ.get('PATH_INFO')}"
        if outcome.kind == TIMEOUT:
            log.error("%s: %s", where, outcome.detail)
            return self._text(408, f"Timeout: {outcome.detail}")
        if outcome.kind == CRASH:
            log.error("%s: %s; a new worker replaces it", where, outcome.detail)
            return self._text(500, f"Internal Server Error: {outcome.detail}")
        log.error("%s: the function raised %s\n%s", where, outcome.detail,
                  outcome.traceback.rstrip())
        return self._text(500, "Internal Server Error: the function raised "
                               f"{outcome.detail.split(':', 1)[0]}; see the runtime's log")


def make_wsgi(config: Config, pool: WorkerPool, metrics: FunctionMetrics,
              log_stream: Any = None) -> WSGIApp:
    """The full middleware stack, for embedding in another WSGI server."""
    app = FunctionApp(config, pool, metrics, make_app(metrics))
    return request_logger(cors(app), log_stream)


def configure_logging() -> None:
    """Runtime messages (tracebacks, timeouts) go to stderr, request lines to stdout."""
    logger = logging.getLogger("kubeless_runtime")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False

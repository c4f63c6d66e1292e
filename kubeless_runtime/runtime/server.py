"""The runtime's HTTP server: the ASGI app of :mod:`.app` on uvicorn's event loop, with a
SIGTERM drain bounded by ``KUBELESS_GRACE_PERIOD``.

``serve`` is what ``python -m kubeless_runtime`` runs in a runtime image. The
port is bound before the loop starts so a busy port is a one-line error, and
uvicorn runs on our loop (uvloop when installed) with its httptools protocol
subclassed by :mod:`.protocol`; its own signal handling and graceful shutdown
are not used because ours must end calls at the grace period with 503 and
exit before Kubernetes would kill the pod.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import time
from typing import Any, Optional

from .accesslog import combined_log_line
from .app import configure_logging, make_app
from .config import Config
from .metrics import FunctionMetrics
from .pool import WorkerPool
from .protocol import protocol_class

log = logging.getLogger("kubeless_runtime")
KEEP_ALIVE = 5.0
"""Seconds an idle keep-alive connection is kept open (uvicorn's default)."""
SHUTDOWN_MARGIN = 0.5
"""Seconds of the grace period kept for answering 503 and stopping workers."""


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop when installed (a faster loop for the same code), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, or an error that says which variable to change."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise OSError(f"Cannot listen on {host}:{port}: {exc}. "
                      "Set FUNC_PORT (or --port) to a free port.") from None
    sock.setblocking(False)
    return sock


class Runtime:
    """The pool plus the HTTP server, with a bounded graceful stop on SIGTERM."""

    def __init__(self, config: Config, pool: Optional[WorkerPool] = None) -> None:
        self.config = config
        self.metrics = FunctionMetrics()
        self.pool = pool or WorkerPool(config)
        self.app = make_app(config, self.pool, self.metrics)
        self.sock: Optional[socket.socket] = None
        self.server: Any = None
        self._stop: Optional[asyncio.Event] = None
        self._stop_requested_at = 0.0

    def start(self) -> None:
        """Load the function in a worker and bind the port; raises on a bad function."""
        if not self.pool.started:
            self.pool.start()
        try:
            self.sock = bind(self.config.host, self.config.port)
        except OSError:
            self.pool.abandon()
            raise

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def _log_rejection(self, client: Any, method: str, url: bytes, status: int,
                       size: int) -> None:
        remote = client[0] if client else "-"
        self.app.request_log.write(combined_log_line(
            remote, method, url.decode("latin-1") or "-", "HTTP/1.1", status, size))

    def _uvicorn(self) -> Any:
        import uvicorn

        config = uvicorn.Config(
            self.app, http=protocol_class(self.config.max_head_bytes, self._log_rejection),
            lifespan="off", access_log=False, log_config=None, proxy_headers=False,
            server_header=False, timeout_keep_alive=int(KEEP_ALIVE), ws="none",
            interface="asgi3")
        config.load()
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        return server

    def request_stop(self) -> None:
        """Stop accepting at once; the drain runs in :meth:`_main`."""
        if self._stop is None or self._stop.is_set():
            return
        self._stop_requested_at = time.monotonic()
        for server in getattr(self.server, "servers", ()):
            server.close()
        self._stop.set()

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.pool.attach(loop)
        self.app.request_log.start(loop)
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self.request_stop)
            except (NotImplementedError, RuntimeError):
                pass
        self.server = self._uvicorn()
        await self.server.on_tick(0)
        await self.server.startup(sockets=[self.sock])
        log.info("serving %s.%s on %s:%s (timeout %gs, %d calls at once, workers %d-%d)",
                 self.config.module_name, self.config.handler_name, self.config.host, self.port,
                 self.config.timeout, self.config.threads, self.pool.workers_min,
                 self.pool.workers_max)
        ticks = loop.create_task(self._tick())
        await self._stop.wait()
        ticks.cancel()
        await self._drain()

    async def _tick(self) -> None:
        counter = 0
        while True:
            await asyncio.sleep(1.0)
            counter += 10
            await self.server.on_tick(counter)

    async def _drain(self) -> None:
        """In-flight calls get the grace period less a margin; then 503 and the workers stop."""
        state = self.server.server_state
        for server in self.server.servers:
            server.close()
        for connection in list(state.connections):
            connection.shutdown()
        elapsed = time.monotonic() - self._stop_requested_at
        budget = max(0.0, self.config.grace - SHUTDOWN_MARGIN - elapsed)
        await self.pool.close(budget)
        deadline = time.monotonic() + min(0.3, max(0.05, self.config.grace / 10))
        while state.tasks and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for connection in list(state.connections):
            connection.transport.close()
        for task in list(state.tasks):
            task.cancel()

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT; in-flight calls finish within the grace period."""
        loop = new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main())
        finally:
            self.app.request_log.flush()
            try:
                pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
                for task in pending:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            finally:
                loop.close()
            remaining = self.config.grace - (time.monotonic() - self._stop_requested_at)
            self.pool.shutdown_blocking(max(0.1, min(2.0, remaining - 0.1)))
        log.info("stopped")
        return 0


def serve(config: Config, pool: Optional[WorkerPool] = None) -> int:
    """Run the runtime in the foreground until SIGTERM; what ``python -m kubeless_runtime`` does."""
    configure_logging()
    runtime = Runtime(config, pool)
    runtime.start()
    return runtime.run()

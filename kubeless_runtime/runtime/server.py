"""The runtime's HTTP server: the WSGI app of :mod:`.app` on cheroot, with a SIGTERM drain.

``serve`` is what ``python -m kubeless_runtime`` runs in a runtime image.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any, Optional

from .app import configure_logging, make_wsgi
from .config import Config
from .metrics import FunctionMetrics
from .pool import WorkerPool

log = logging.getLogger("kubeless_runtime")


class Runtime:
    """The pool plus the HTTP server, with a graceful stop on SIGTERM."""

    def __init__(self, config: Config, pool: Optional[WorkerPool] = None) -> None:
        self.config = config
        self.metrics = FunctionMetrics()
        self.pool = pool or WorkerPool(config)
        self.server: Any = None
        self._stop = threading.Event()

    def start(self) -> None:
        """Load the function in the warm workers and bind the port; raises on a bad function."""
        from cheroot.wsgi import Server

        if not self.pool.started:
            self.pool.start()
        app = make_wsgi(self.config, self.pool, self.metrics)
        self.server = Server((self.config.host, self.config.port), app,
                             numthreads=self.config.threads, request_queue_size=128,
                             shutdown_timeout=self.config.grace, server_name="kubeless-runtime")
        try:
            self.server.prepare()
        except OSError as exc:
            self.pool.close(0)
            raise OSError(f"Cannot listen on {self.config.host}:{self.config.port}: {exc}. "
                          "Set FUNC_PORT (or --port) to a free port.") from None

    @property
    def port(self) -> int:
        return self.server.bind_addr[1]

    def request_stop(self, *_: Any) -> None:
        self._stop.set()

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT; finish in-flight calls within the grace period."""
        serving = threading.Thread(target=self.server.serve, name="kubeless-http", daemon=True)
        serving.start()
        log.info("serving %s.%s on %s:%s (timeout %gs, workers %d-%d)",
                 self.config.module_name, self.config.handler_name, self.config.host, self.port,
                 self.config.timeout, self.config.workers_min, self.config.workers_max)
        while not self._stop.wait(0.5):
            if not serving.is_alive():
                break
        started = time.monotonic()
        self.server.stop()
        self.pool.close(max(0.0, self.config.grace - (time.monotonic() - started)))
        serving.join(5)
        flush = getattr(self.server.wsgi_app, "flush", None)
        if flush:
            flush()
        log.info("stopped")
        return 0

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)


def serve(config: Config, pool: Optional[WorkerPool] = None) -> int:
    """Run the runtime in the foreground until SIGTERM; what ``python -m kubeless_runtime`` does."""
    configure_logging()
    runtime = Runtime(config, pool)
    runtime.install_signal_handlers()
    runtime.start()
    return runtime.run()

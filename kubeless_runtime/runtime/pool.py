"""Call the function in a pool of pre-started worker processes, with hard timeouts.

Why processes and not threads: a Python thread cannot be stopped, so a
function that overruns ``FUNC_TIMEOUT`` would keep running (and keep writing
to databases) after its caller got 408. Why a pool and not a fork per call: a
fresh process per request re-imports the function every time and is what made
the original runtime slow. Each worker imports the function once, serves one
call at a time, and is killed (with its process group) when a call overruns,
crashes it or hangs; only that worker dies, and a new one takes its place.

The pool grows on demand up to ``workers_max`` (one per server thread by
default, so I/O-bound functions are not capped at the core count) and shrinks
back to ``workers_min`` after ``worker_idle`` seconds without work. Workers
come from a ``forkserver`` that has already imported this module, so growing
costs a fork plus the function's own import, not a new interpreter.
"""

from __future__ import annotations

import logging
import multiprocessing
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Deque, List, Optional

from .channel import Channel
from .config import Config
from .event import Invocation, Reply
from .loader import FunctionLoadError
from .worker import CRASH, OK, TIMEOUT, WorkerProcess, worker_main

log = logging.getLogger("kubeless_runtime")


@dataclass
class Outcome:
    """How one call ended: ``kind`` is ok, error, timeout, crash or bad-request.

    bad-request means the request could not become an event (malformed JSON);
    the function was not called.
    """

    kind: str
    reply: Optional[Reply] = None
    detail: str = ""
    traceback: str = ""


class PoolClosed(RuntimeError):
    """The pool is shutting down and takes no new calls."""


class WorkerPool:
    """A bounded, self-healing pool of processes that each hold the function."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(["kubeless_runtime.runtime.worker", "bottle"])
        self._idle: Deque[WorkerProcess] = deque()
        self._cond = threading.Condition()
        self._count = 0
        self._busy = 0
        self._closed = False
        self.started = False

    @property
    def size(self) -> int:
        return self._count

    def start(self) -> None:
        """Load the function in one worker, then warm the rest in the background.

        Raises :class:`FunctionLoadError` when the function cannot load, so a
        broken function stops start-up; ``/healthz`` can answer as soon as one
        worker holds the function.
        """
        with self._cond:
            self._count += 1
        try:
            first = self._spawn()
        except BaseException:
            with self._cond:
                self._count -= 1
            raise
        self._add_idle(first)
        for _ in range(self.config.workers_min - 1):
            with self._cond:
                self._count += 1
            threading.Thread(target=self._warm_one, name="kubeless-warm", daemon=True).start()
        threading.Thread(target=self._reap_idle, name="kubeless-reaper", daemon=True).start()
        self.started = True

    def start_in_background(self) -> Callable[[], "WorkerPool"]:
        """Start while the caller does other work (imports the HTTP stack, say).

        Returns a function that waits for the start and re-raises its error.
        """
        errors: List[BaseException] = []

        def run() -> None:
            try:
                self.start()
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                errors.append(exc)

        thread = threading.Thread(target=run, name="kubeless-pool-start", daemon=True)
        thread.start()

        def wait() -> "WorkerPool":
            thread.join()
            if errors:
                raise errors[0]
            return self

        return wait

    def _spawn(self) -> WorkerProcess:
        """Start one worker and wait until it has loaded the function."""
        parent, child = socket.socketpair()
        process = self._ctx.Process(target=worker_main, args=(child, self.config),
                                    name="kubeless-worker", daemon=True)
        try:
            process.start()
        finally:
            child.close()
        worker = WorkerProcess(process, Channel(parent))
        load_timeout = max(self.config.timeout, 60.0)
        try:
            status, detail = worker.conn.recv(load_timeout)
        except TimeoutError:
            worker.kill()
            raise FunctionLoadError(
                f"Loading {self.config.module_name} did not finish within {load_timeout:g} s; "
                "its module-level code hangs. Move slow work into the handler or raise "
                "FUNC_TIMEOUT.") from None
        except (EOFError, OSError):
            raise FunctionLoadError(
                f"Loading {self.config.module_name} killed the worker process: "
                f"{worker.describe_exit()}. Check the module-level code of the function.") from None
        if status != "ready":
            worker.reap(2.0)
            raise FunctionLoadError(detail)
        return worker

    def _add_idle(self, worker: WorkerProcess) -> None:
        with self._cond:
            if self._closed:
                self._count -= 1
                closed = True
            else:
                self._idle.append(worker)
                self._cond.notify()
                closed = False
        if closed:
            self._stop_worker(worker)

    def _warm_one(self) -> None:
        try:
            worker = self._spawn()
        except (FunctionLoadError, OSError) as exc:
            log.error("could not start a warm worker: %s", exc)
            with self._cond:
                self._count -= 1
                self._cond.notify()
            return
        self._add_idle(worker)

    def _acquire(self) -> WorkerProcess:
        while True:
            with self._cond:
                while True:
                    if self._closed:
                        raise PoolClosed("the runtime is shutting down")
                    if self._idle:
                        self._busy += 1
                        return self._idle.pop()
                    if self._count < self.config.workers_max:
                        self._count += 1
                        break
                    self._cond.wait()
            try:
                worker = self._spawn()
            except BaseException:
                with self._cond:
                    self._count -= 1
                    self._cond.notify()
                raise
            with self._cond:
                self._busy += 1
            return worker

    def _release(self, worker: WorkerProcess, keep: bool) -> None:
        with self._cond:
            self._busy -= 1
            if keep and not self._closed:
                worker.last_used = time.monotonic()
                self._idle.append(worker)
            else:
                self._count -= 1
            self._cond.notify()
        if not keep:
            worker.kill()

    def invoke(self, invocation: Invocation) -> Outcome:
        """Run one call; never raises for anything the function does."""
        for attempt in (1, 2):
            try:
                worker = self._acquire()
            except FunctionLoadError as exc:
                return Outcome(CRASH, detail=f"a new worker could not load the function: {exc}")
            try:
                worker.conn.send(invocation)
                break
            except OSError:
                detail = worker.describe_exit()
                self._release(worker, keep=False)
                if attempt == 2:
                    return Outcome(CRASH, detail=f"the function could not be called: {detail}")
                log.warning("an idle worker had died (%s); using another", detail)
        timeout = self.config.timeout
        try:
            message = worker.conn.recv(timeout)
        except TimeoutError:
            self._release(worker, keep=False)
            return Outcome(TIMEOUT, detail=f"the function did not finish within {timeout:g} s "
                                           "(FUNC_TIMEOUT) and was stopped")
        except (EOFError, OSError):
            detail = worker.describe_exit()
            self._release(worker, keep=False)
            return Outcome(CRASH, detail=f"the function crashed: {detail}")
        self._release(worker, keep=True)
        if message[0] == OK:
            return Outcome(OK, reply=message[1])
        return Outcome(message[0], detail=message[1], traceback=message[2])

    def _reap_idle(self) -> None:
        period = min(max(self.config.worker_idle / 4, 0.05), 5.0)
        while True:
            time.sleep(period)
            stale = []
            with self._cond:
                if self._closed:
                    return
                now = time.monotonic()
                while (self._count > self.config.workers_min and self._idle
                       and now - self._idle[0].last_used > self.config.worker_idle):
                    stale.append(self._idle.popleft())
                    self._count -= 1
            for worker in stale:
                self._stop_worker(worker)

    @staticmethod
    def _stop_worker(worker: WorkerProcess) -> None:
        try:
            worker.conn.send(None)
        except (OSError, ValueError):
            pass
        worker.process.join(2.0)
        if worker.process.is_alive():
            worker.kill()
        else:
            worker.reap(0)

    def close(self, grace: float = 5.0) -> None:
        """Let running calls finish for up to ``grace`` seconds, then stop every worker."""
        deadline = time.monotonic() + grace
        with self._cond:
            self._closed = True
            while self._busy and time.monotonic() < deadline:
                self._cond.wait(max(0.0, deadline - time.monotonic()))
            idle, self._idle = list(self._idle), deque()
            self._count -= len(idle)
        for worker in idle:
            self._stop_worker(worker)

"""Call the function in a pool of pre-started worker processes, with hard timeouts.

Why processes and not threads: a Python thread cannot be stopped, so a
function that overruns ``FUNC_TIMEOUT`` would keep running (and keep writing
to databases) after its caller got 408. Why a pool and not a fork per call: a
fresh process per request re-imports the function every time and is what made
the original runtime slow. Each worker imports the function once, serves one
call at a time, and is killed (with its process group) when a call overruns,
crashes it or hangs; only that worker dies, and a new one takes its place.

The pool lives on the HTTP server's event loop: a call waiting for its worker
is a future, not a blocked thread, so ``/healthz`` is answered however many
calls are in flight. Only what must block (forking a worker and waiting for it
to import the function, reaping a killed one) runs in a small thread pool.
At most ``threads`` calls (``CHERRYPY_NUMTHREADS``) run at once; the pool grows
on demand up to ``workers_max`` and shrinks back to ``workers_min`` after
``worker_idle`` seconds without work. Workers come from a ``forkserver`` that
has already imported this module, so growing costs a fork plus the function's
own import, not a new interpreter. With ``KUBELESS_WORKER_COMMAND`` set, workers are
that command instead (a Ruby or PHP launcher, say), spoken to in the frame protocol of
``WORKER_PROTOCOL.md`` (:mod:`.frames`); everything else here is the same for them.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Deque, List, Optional, Set, Union

from ..errors import KubelessRuntimeError
from .channel import Channel, ChannelClosed, LoopChannel
from .config import Config
from .event import Invocation, Reply
from .loader import FunctionLoadError
from .worker import CRASH, OK, TIMEOUT, WorkerProcess, worker_main

if TYPE_CHECKING:
    import asyncio

log = logging.getLogger("kubeless_runtime")


@dataclass
class Outcome:
    """How one call ended: ``kind`` is ok, error, timeout, crash or bad-request.

    bad-request means the request could not become an event (malformed or too
    deeply nested JSON); the function was not called. ``reply`` is what the
    worker sent: header pairs as bytes, a content type always present.
    """

    kind: str
    reply: Optional[Reply] = None
    detail: str = ""
    traceback: str = ""


class WorkerStartError(KubelessRuntimeError):
    """The runtime could not start a worker process (file or process limits, memory).

    Not the function's fault, so never reported as a load error of the function.
    """

    code = "worker-start"


class EmbeddedWithoutMainGuardError(KubelessRuntimeError):
    """A pool was started while a worker process imported the embedding script."""

    code = "missing-main-guard"


def _main_script() -> Optional[str]:
    """The embedding script that worker processes re-import, if ``__main__`` is one."""
    import sys

    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not path or getattr(main, "__package__", None) == "kubeless_runtime":
        return None
    return str(path)


class PoolClosed(RuntimeError):
    """The pool is shutting down and takes no new calls (answered 503)."""


class WorkerPool:
    """A bounded, self-healing pool of processes that each hold the function.

    :meth:`start` (blocking, before the loop runs) loads the function in one
    worker so a broken function stops start-up; :meth:`attach` hands the pool
    to the running loop, which warms the rest; :meth:`invoke` is a coroutine.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(["kubeless_runtime.runtime.worker", "bottle"])
        self._idle: Deque[WorkerProcess] = deque()
        self._waiters: Deque[asyncio.Future] = deque()
        self._working: Set[WorkerProcess] = set()
        self._count = 0
        self._busy = 0
        self._limit = config.threads
        self._closed = False
        self._drained: Optional[asyncio.Event] = None
        self._threads: Set[threading.Thread] = set()
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.started = False
        self._first: Optional[WorkerProcess] = None
        self.workers_max = config.workers_max
        self.workers_min = config.workers_min

    @property
    def size(self) -> int:
        """Workers alive or being started."""
        return self._count

    @property
    def busy(self) -> int:
        """Calls holding a slot (running in a worker or about to)."""
        return self._busy

    def start(self) -> None:
        """Load the function in one worker; raises :class:`FunctionLoadError` if it cannot."""
        if getattr(multiprocessing.current_process(), "_inheriting", False):
            raise EmbeddedWithoutMainGuardError(
                f"a WorkerPool was started while a worker process was importing "
                f"{_main_script() or 'the main module'}; worker processes import the main "
                "script, so start the pool under `if __name__ == '__main__':`")
        self._first = self._spawn()
        self._count = 1
        self.started = True
        if self.config.worker_command:
            self._fit_to_memory(self._first)

    def _fit_to_memory(self, worker: WorkerProcess) -> None:
        """Lower the worker maximum to what the container's memory limit holds.

        Workers in another language share nothing (a Ruby worker is ~16 MB of its own,
        a forked Python worker a fraction of that), so ten of them can exceed a 128 Mi
        limit and the kernel would kill workers as fast as the pool starts them.
        """
        from .frames import cgroup_memory_limit, private_memory

        limit = cgroup_memory_limit()
        per_worker = private_memory(worker.process.pid)
        if not limit or not per_worker:
            return
        room = limit * 0.85 - (private_memory(os.getpid()) or 0)
        fits = max(1, int(room // (per_worker * 1.25)))  # a call may grow its worker
        if fits < self.workers_max:
            log.warning("at most %d workers (KUBELESS_WORKERS_MAX=%d lowered): each takes %.0f MB "
                        "and the container's memory limit is %.0f MB; raise the function's "
                        "memory to run more at once", fits, self.workers_max, per_worker / 1e6,
                        limit / 1e6)
            self.workers_max = fits
            self.workers_min = min(self.workers_min, fits)

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

    def abandon(self) -> None:
        """Stop the worker :meth:`start` loaded when the server will not run after all."""
        first, self._first = self._first, None
        if first is not None:
            first.kill()

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Serve calls on ``loop`` (the running loop's thread); warms ``workers_min``."""
        # asyncio is imported here, not with the module: ``serve`` starts the first worker
        # right after importing this module, and asyncio's import would delay it.
        import asyncio

        if not self.started:
            self.start()
        self.loop = loop
        self._drained = asyncio.Event()
        first, self._first = self._first, None
        if first is not None:
            self._adopt(first)
            self._idle.append(first)
        for _ in range(self.workers_min - self._count):
            self._count += 1
            loop.create_task(self._warm_one())
        period = min(max(self.config.worker_idle / 4, 0.05), 5.0)
        loop.call_later(period, self._reap_idle, period)

    def _start_worker(self) -> WorkerProcess:
        if self.config.worker_command:
            from .frames import CommandWorker

            return CommandWorker.start(self.config)
        try:
            parent, child = socket.socketpair()
        except OSError as exc:
            raise WorkerStartError(f"cannot start a worker process: {exc.strerror or exc}; "
                                   "raise the container's open-file limit (ulimit -n) or lower "
                                   "KUBELESS_WORKERS_MAX") from None
        process = self._ctx.Process(target=worker_main, args=(child, self.config),
                                    name="kubeless-worker", daemon=True)
        try:
            process.start()
        except OSError as exc:
            parent.close()
            raise WorkerStartError(f"cannot start a worker process: {exc.strerror or exc}; "
                                   "raise the container's process or open-file limit, or lower "
                                   "KUBELESS_WORKERS_MAX") from None
        finally:
            child.close()
        return WorkerProcess(process, Channel(parent))

    def _spawn(self) -> WorkerProcess:
        """Start one worker and wait until it has loaded the function (blocking)."""
        worker = self._start_worker()
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
            exit_text = worker.describe_exit()
            script = _main_script()
            # Exit code 1 before "ready": an uncaught exception while the child bootstrapped
            # (worker_main reports every error of the function's own import itself).
            if script is not None and worker.process.exitcode == 1:
                raise EmbeddedWithoutMainGuardError(
                    f"the worker process stopped before loading {self.config.module_name} "
                    f"({exit_text}); worker processes import {script}, so the "
                    "code that starts the pool must be under `if __name__ == '__main__':` "
                    "(its error is on stderr above)") from None
            raise FunctionLoadError(
                f"Loading {self.config.module_name} killed the worker process: "
                f"{exit_text}. Check the module-level code of the function"
                + (f" and the worker command (KUBELESS_WORKER_COMMAND="
                   f"{self.config.worker_command!r}); its output is in the log above."
                   if self.config.worker_command else ".")) from None
        if status != "ready":
            worker.reap(2.0)
            raise FunctionLoadError(detail)
        return worker

    def _adopt(self, worker: WorkerProcess) -> None:
        worker.conn = LoopChannel(worker.conn, self.loop)

    def _in_thread(self, func: Callable, *args: object) -> "asyncio.Future":
        """Run blocking ``func`` in a daemon thread; its result as a future of the loop.

        Daemon threads, not an executor: the interpreter joins executor threads at
        exit, and a worker still loading the function must not hold the process
        past its grace period.
        """
        loop = self.loop
        future = loop.create_future()

        def settle(value: object, error: Optional[BaseException]) -> None:
            if future.done():
                return
            if error is None:
                future.set_result(value)
            else:
                future.set_exception(error)

        def run() -> None:
            try:
                value, error = func(*args), None
            except BaseException as exc:  # noqa: BLE001 - handed to the loop
                value, error = None, exc
            finally:
                self._threads.discard(threading.current_thread())
            if not loop.is_closed():
                try:
                    loop.call_soon_threadsafe(settle, value, error)
                except RuntimeError:
                    pass

        thread = threading.Thread(target=run, name="kubeless-pool", daemon=True)
        self._threads.add(thread)
        thread.start()
        return future

    async def _spawn_async(self) -> WorkerProcess:
        worker = await self._in_thread(self._spawn)
        self._adopt(worker)
        return worker

    async def _warm_one(self) -> None:
        try:
            worker = await self._spawn_async()
        except (KubelessRuntimeError, OSError) as exc:
            log.error("could not start a warm worker: %s", exc)
            self._count -= 1
            return
        if self._closed:
            self._count -= 1
            self._stop_worker(worker)
            return
        self._idle.append(worker)
        self._dispatch()

    def _dispatch(self) -> None:
        """Hand idle (or new) workers to waiting calls while slots allow."""
        waiters = self._waiters
        while waiters and self._busy < self._limit:
            if waiters[0].done():
                waiters.popleft()
                continue
            if self._idle:
                self._busy += 1
                waiters.popleft().set_result(self._idle.pop())
            elif self._count < self.workers_max:
                self._busy += 1
                self._count += 1
                self.loop.create_task(self._spawn_for(waiters.popleft()))
            else:
                return

    async def _spawn_for(self, waiter: asyncio.Future) -> None:
        try:
            worker = await self._spawn_async()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting call
            self._busy -= 1
            self._count -= 1
            if not waiter.done():
                waiter.set_exception(exc if isinstance(exc, KubelessRuntimeError)
                                     else WorkerStartError(f"cannot start a worker: {exc}"))
            self._after_release()
            return
        if waiter.done():
            self._busy -= 1
            if self._closed:
                self._count -= 1
                self._stop_worker(worker)
            else:
                worker.last_used = time.monotonic()
                self._idle.append(worker)
            self._after_release()
        else:
            waiter.set_result(worker)

    async def _acquire(self) -> WorkerProcess:
        if self._closed:
            raise PoolClosed("the runtime is shutting down")
        if self._busy < self._limit and not self._waiters:
            if self._idle:
                self._busy += 1
                return self._idle.pop()
        waiter = self.loop.create_future()
        self._waiters.append(waiter)
        self._dispatch()
        try:
            return await waiter
        except BaseException:  # cancelled: a worker already handed over goes back
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._release(waiter.result(), keep=True)
            raise

    def _release(self, worker: WorkerProcess, keep: bool) -> None:
        self._busy -= 1
        self._working.discard(worker)
        if keep and not self._closed and not worker.conn.closed:
            worker.last_used = time.monotonic()
            self._idle.append(worker)
        else:
            self._count -= 1
            self._kill(worker)
        self._after_release()

    def _after_release(self) -> None:
        if self._closed:
            if self._busy <= 0 and self._drained is not None:
                self._drained.set()
        else:
            self._dispatch()

    def _kill(self, worker: WorkerProcess) -> None:
        """SIGKILL now (on the loop), reap in a thread: a dead worker never blocks a call."""
        worker.conn.detach()
        worker.signal_kill()
        self._in_thread(worker.reap, 2.0)

    async def _describe_exit(self, worker: WorkerProcess) -> str:
        return await self._in_thread(worker.describe_exit)

    async def invoke(self, invocation: Union[Invocation, tuple]) -> Outcome:
        """Run one call (an Invocation, or :func:`.event.wire_from_scope`'s tuple).

        Never raises for anything the function does.

        Raises :class:`PoolClosed` when the runtime is shutting down, also for
        a call whose worker was stopped at the end of the grace period.
        """
        for attempt in (1, 2):
            try:
                worker = await self._acquire()
            except FunctionLoadError as exc:
                return Outcome(CRASH, detail=f"a new worker could not load the function: {exc}")
            except KubelessRuntimeError as exc:
                log.error("%s", exc)
                return Outcome(CRASH, detail=f"the runtime could not start a worker ({exc.code})"
                                             "; see the runtime's log")
            self._working.add(worker)
            try:
                await worker.conn.send(invocation)
                break
            except OSError:
                detail = await self._describe_exit(worker)
                self._release(worker, keep=False)
                if attempt == 2:
                    return Outcome(CRASH, detail=f"the function could not be called: {detail}")
                log.warning("an idle worker had died (%s); using another", detail)
        timeout = self.config.timeout
        try:
            message = await worker.conn.recv(timeout)
        except TimeoutError:
            self._release(worker, keep=False)
            return Outcome(TIMEOUT, detail=f"the function did not finish within {timeout:g} s "
                                           "(FUNC_TIMEOUT) and was stopped")
        except PoolClosed:
            self._release(worker, keep=False)
            raise
        except (ChannelClosed, EOFError, OSError):
            detail = await self._describe_exit(worker)
            self._release(worker, keep=False)
            return Outcome(CRASH, detail=f"the function crashed: {detail}")
        except BaseException:  # cancelled at shutdown: the worker's state is unknown
            self._release(worker, keep=False)
            raise
        self._release(worker, keep=True)
        if message[0] == OK:
            status, headers, body = message[1]
            return Outcome(OK, reply=Reply(status, headers, body))
        return Outcome(message[0], detail=message[1], traceback=message[2])

    def _reap_idle(self, period: float) -> None:
        if self._closed:
            return
        now = time.monotonic()
        while (self._count > self.workers_min and self._idle
               and now - self._idle[0].last_used > self.config.worker_idle):
            self._count -= 1
            self._stop_worker(self._idle.popleft())
        self.loop.call_later(period, self._reap_idle, period)

    def _stop_worker(self, worker: WorkerProcess) -> None:
        """Ask an idle worker to exit; kill it if it does not within 2 s (in a thread)."""
        worker.conn.detach()
        worker.conn.send_nowait(None)
        self._in_thread(worker.stop, 2.0)

    async def close(self, grace: float) -> None:
        """Take no new calls; give running ones ``grace`` seconds, then stop every worker.

        Calls still waiting for a worker, and calls whose worker is stopped
        at the deadline, raise :class:`PoolClosed` (their callers get 503).
        """
        import asyncio

        self._closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(PoolClosed("the runtime is shutting down"))
        while self._idle:
            self._count -= 1
            self._stop_worker(self._idle.pop())
        if self._busy > 0 and self._drained is not None:
            try:
                await asyncio.wait_for(self._drained.wait(), max(grace, 0.0))
            except asyncio.TimeoutError:
                pass
        for worker in list(self._working):
            worker.conn.abort(PoolClosed("the grace period (KUBELESS_GRACE_PERIOD) ended "
                                         "before the call finished"))
        await asyncio.sleep(0)

    def shutdown_blocking(self, wait: float = 3.0) -> None:
        """Wait, at most ``wait`` seconds in all, for stops and reaps still running in threads."""
        deadline = time.monotonic() + wait
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))


__all__ = ["EmbeddedWithoutMainGuardError", "Outcome", "PoolClosed", "WorkerPool",
           "WorkerStartError"]

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
import os
import pickle
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Deque, List, Optional

from .config import Config
from .event import BadRequest, Invocation, Reply, build_event, reply_from_result
from .loader import FunctionLoadError, load_function

log = logging.getLogger("kubeless_runtime")
_HEADER = struct.Struct("!I")
_TIMEVAL = struct.Struct("@ll")

OK, ERROR, TIMEOUT, CRASH, BAD_REQUEST = "ok", "error", "timeout", "crash", "bad-request"


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


class ChannelClosed(EOFError):
    """The other end of a worker channel went away."""


class Channel:
    """Length-prefixed pickles over a blocking socketpair.

    Leaner than ``multiprocessing.Connection`` plus ``poll``: a call costs one
    ``sendall`` and usually one ``recv``. The deadline is the kernel's
    ``SO_RCVTIMEO``, so waiting for the worker is a single system call, one
    point where the HTTP process hands the GIL to another thread; those
    hand-offs, not Python code, dominate its CPU time under concurrent load.
    """

    __slots__ = ("sock", "_buffer", "_timeout")

    def __init__(self, sock: socket.socket) -> None:
        sock.settimeout(None)
        self.sock = sock
        self._buffer = bytearray()
        self._timeout: Optional[float] = None

    def send(self, obj: Any) -> None:
        payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        self.sock.sendall(_HEADER.pack(len(payload)) + payload)

    def _set_timeout(self, timeout: Optional[float]) -> None:
        if timeout != self._timeout:
            seconds = 0.0 if timeout is None else max(timeout, 0.000001)
            whole = int(seconds)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                                 _TIMEVAL.pack(whole, int((seconds - whole) * 1e6)))
            self._timeout = timeout

    def recv(self, timeout: Optional[float] = None) -> Any:
        """The next message; ``TimeoutError`` after ``timeout`` seconds without one."""
        buffer = self._buffer
        deadline = None if timeout is None else time.monotonic() + timeout
        self._set_timeout(timeout)
        needed = _HEADER.size
        while True:
            if len(buffer) >= _HEADER.size:
                needed = _HEADER.size + _HEADER.unpack_from(buffer)[0]
                if len(buffer) >= needed:
                    message = pickle.loads(bytes(buffer[_HEADER.size:needed]))
                    del buffer[:needed]
                    return message
            try:
                chunk = self.sock.recv(max(65536, needed - len(buffer)))
            except BlockingIOError:
                raise TimeoutError from None
            except OSError as exc:
                raise ChannelClosed(str(exc)) from None
            if not chunk:
                raise ChannelClosed("the worker closed its end")
            buffer += chunk
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                self._set_timeout(remaining)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def _prefer_me_for_the_oom_killer() -> None:
    """When the container runs out of memory, let the kernel kill a worker, not the server.

    Raising one's own ``oom_score_adj`` needs no privilege; a killed worker is
    replaced and its call answered 500, while a killed HTTP process is an outage.
    """
    try:
        with open("/proc/self/oom_score_adj", "w") as handle:
            handle.write("500")
    except OSError:
        pass


def _worker_main(sock: socket.socket, config: Config) -> None:
    """Body of a worker process: load once, then answer calls until told to stop."""
    import bottle

    conn = Channel(sock)
    os.setpgid(0, 0)
    _prefer_me_for_the_oom_killer()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)
        except (AttributeError, ValueError):
            pass
    try:
        func = load_function(config.function_dir, config.module_name, config.handler_name,
                             config.site_dirs)
    except FunctionLoadError as exc:
        conn.send(("load-error", str(exc)))
        return
    except BaseException as exc:  # noqa: BLE001 - report anything, then exit
        conn.send(("load-error", f"Loading the function failed: {type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", os.getpid()))
    context = config.context
    while True:
        try:
            invocation = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if invocation is None:
            return
        try:
            event = build_event(invocation, config.body_limit)
        except BadRequest as exc:
            conn.send((BAD_REQUEST, str(exc), ""))
            continue
        try:
            bottle.response.bind()
            result = func(event, dict(context))
            message = (OK, reply_from_result(result, bottle.response))
        except bottle.HTTPResponse as response:
            message = (OK, reply_from_result(response))
        except BaseException as exc:  # noqa: BLE001 - SystemExit from a function is its error too
            if isinstance(exc, KeyboardInterrupt):
                return
            message = (ERROR, f"{type(exc).__name__}: {exc}", traceback.format_exc())
        try:
            conn.send(message)
        except (OSError, ValueError):
            return


class _Worker:
    __slots__ = ("process", "conn", "last_used")

    def __init__(self, process: Any, conn: Channel) -> None:
        self.process = process
        self.conn = conn
        self.last_used = time.monotonic()

    def kill(self) -> None:
        """SIGKILL the worker and anything it started in its process group."""
        for kill in (os.killpg, os.kill):
            try:
                kill(self.process.pid, signal.SIGKILL)
                break
            except (ProcessLookupError, PermissionError, OSError):
                continue
        self.reap(2.0)

    def reap(self, timeout: float) -> None:
        self.process.join(timeout)
        self.conn.close()

    def describe_exit(self) -> str:
        self.process.join(1.0)
        code = self.process.exitcode
        if code is None:
            return "its worker process stopped answering"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            hint = " (out of memory?)" if name == "SIGKILL" else ""
            return f"its worker process was killed by {name}{hint}"
        return f"its worker process exited with code {code}"


class WorkerPool:
    """A bounded, self-healing pool of processes that each hold the function."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(["kubeless_runtime.invoke", "bottle"])
        self._idle: Deque[_Worker] = deque()
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

    def _spawn(self) -> _Worker:
        """Start one worker and wait until it has loaded the function."""
        parent, child = socket.socketpair()
        process = self._ctx.Process(target=_worker_main, args=(child, self.config),
                                    name="kubeless-worker", daemon=True)
        try:
            process.start()
        finally:
            child.close()
        worker = _Worker(process, Channel(parent))
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

    def _add_idle(self, worker: _Worker) -> None:
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

    def _acquire(self) -> _Worker:
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

    def _release(self, worker: _Worker, keep: bool) -> None:
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
    def _stop_worker(worker: _Worker) -> None:
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

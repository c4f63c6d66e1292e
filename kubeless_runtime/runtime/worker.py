"""A worker process: load the function once, then answer calls until told to stop.

Runs in a process forked from the pool's ``forkserver``; see :mod:`.pool` for why.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
import traceback
from typing import Any

from .channel import Channel
from .config import Config
from .event import (
    BadRequest,
    build_event,
    invocation_from_wire,
    reply_from_result,
    wire_reply,
)
from .loader import FunctionLoadError, load_function

OK, ERROR, TIMEOUT, CRASH, BAD_REQUEST = "ok", "error", "timeout", "crash", "bad-request"


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


def function_context(config: Config, func: Any) -> dict:
    """The context Kubeless gives: ``function-name`` is ``func.__name__``, not the deployment."""
    context = config.context
    context["function-name"] = getattr(func, "__name__", None) or config.handler_name
    return context


def _never_preempt_the_server() -> None:
    """Run as ``SCHED_BATCH``: a worker waking up no longer preempts the HTTP process.

    Each call wakes its worker; under the default policy the woken worker
    usually preempts the HTTP process in the middle of its ``send``, which then
    waits for a time slice with its event loop stalled (in the profile: tens of
    microseconds per ``send`` and ``recv``). Batch tasks get the same CPU share
    but do not preempt on wake-up. Needs no privilege; ignored where missing.
    """
    try:
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    except (AttributeError, OSError):
        pass


def worker_main(sock: socket.socket, config: Config) -> None:
    """Body of a worker process: load once, then answer calls until told to stop."""
    import bottle

    conn = Channel(sock)
    os.setpgid(0, 0)
    _prefer_me_for_the_oom_killer()
    _never_preempt_the_server()
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
    context = function_context(config, func)
    while True:
        try:
            invocation = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if invocation is None:
            return
        try:
            event = build_event(invocation_from_wire(invocation), config.body_limit)
        except BadRequest as exc:
            conn.send((BAD_REQUEST, str(exc), ""))
            continue
        except Exception as exc:  # noqa: BLE001 - a request must never kill the worker
            conn.send((BAD_REQUEST, f"The request could not become an event: "
                                    f"{type(exc).__name__}: {exc}", ""))
            continue
        try:
            bottle.response.bind()
            result = func(event, dict(context))
            message = (OK, wire_reply(reply_from_result(result, bottle.response)))
        except bottle.HTTPResponse as response:
            message = (OK, wire_reply(reply_from_result(response)))
        except BaseException as exc:  # noqa: BLE001 - SystemExit from a function is its error too
            if isinstance(exc, KeyboardInterrupt):
                return
            message = (ERROR, f"{type(exc).__name__}: {exc}", traceback.format_exc())
        try:
            conn.send(message)
        except (OSError, ValueError):
            return


class WorkerProcess:
    __slots__ = ("process", "conn", "last_used")

    def __init__(self, process: Any, conn: Channel) -> None:
        self.process = process
        self.conn = conn
        self.last_used = time.monotonic()

    def signal_kill(self) -> None:
        """SIGKILL the worker and anything it started in its process group; returns at once."""
        for kill in (os.killpg, os.kill):
            try:
                kill(self.process.pid, signal.SIGKILL)
                break
            except (ProcessLookupError, PermissionError, OSError):
                continue

    def kill(self) -> None:
        self.signal_kill()
        self.reap(2.0)

    def stop(self, timeout: float) -> None:
        """Wait for a worker told to stop; kill it if it has not exited in ``timeout``."""
        self.process.join(timeout)
        if self.process.is_alive():
            self.kill()
        else:
            self.reap(0)

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

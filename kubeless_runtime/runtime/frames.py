"""Workers in any language: the frame protocol of ``WORKER_PROTOCOL.md`` and the worker command.

When ``KUBELESS_WORKER_COMMAND`` is set (a runtime image sets it), the pool starts that
command instead of forking a Python worker, hands it one end of a socketpair (its file
descriptor number in ``KUBELESS_WORKER_FD``) and speaks frames over it: an 8-byte prefix
(the lengths of a JSON header and of a body), the header, the raw body. :data:`FRAMES`
turns the pool's messages into frames and back, so the pool, the timeouts and the HTTP app
are the same for every language.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import struct
import subprocess
from typing import Any, Dict, List, Optional, Tuple

from .channel import INCOMPLETE, Channel
from .config import Config
from .event import EVENT_HEADERS
from .loader import FunctionLoadError
from .worker import BAD_REQUEST, ERROR, OK, WorkerProcess

PREFIX = struct.Struct("!II")
MAX_HEADER = 16 * 1024 * 1024
"""Largest JSON header a worker may send (its body is bounded by its own size field only)."""
_TEXT_HTML = (b"content-type", b"text/html; charset=UTF-8")
_EVENT_NAMES = frozenset(EVENT_HEADERS)


def frame(header: Dict[str, Any], body: bytes = b"") -> bytes:
    """One frame: the prefix, ``header`` as compact JSON, ``body``."""
    data = json.dumps(header, separators=(",", ":")).encode()
    return PREFIX.pack(len(data), len(body)) + data + body


def read_frame(buffer: bytearray) -> Any:
    """``(header, body)`` of the first whole frame, removed from ``buffer``; or INCOMPLETE.

    Raises ValueError for a frame that breaks the protocol.
    """
    if len(buffer) < PREFIX.size:
        return INCOMPLETE
    head, size = PREFIX.unpack_from(buffer)
    if head > MAX_HEADER:
        raise ValueError(f"a frame header of {head} bytes (at most {MAX_HEADER})")
    end = PREFIX.size + head + size
    if len(buffer) < end:
        return INCOMPLETE
    try:
        header = json.loads(bytes(buffer[PREFIX.size:PREFIX.size + head]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"a frame header that is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise ValueError("a frame header that is not a JSON object")
    body = bytes(buffer[PREFIX.size + head:end])
    del buffer[:end]
    return header, body


def call_header(wire: tuple) -> Tuple[Dict[str, Any], bytes]:
    """The ``call`` frame of :func:`.event.wire_from_scope`'s tuple."""
    method, path, query, version, raw_headers, client, server, scheme, body = wire
    headers: List[Tuple[str, str]] = []
    event: Dict[str, Optional[str]] = dict.fromkeys(EVENT_HEADERS)
    for raw_name, raw_value in raw_headers:
        name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
        headers.append((name, value))
        if name in _EVENT_NAMES and event[name] is None:
            event[name] = value
    client = client or ("", 0)
    server = server or ("", 0)
    return {"type": "call", "method": method, "path": path,
            "query": query.decode("latin-1"), "version": version, "scheme": scheme,
            "headers": headers, "remote_addr": str(client[0]), "remote_port": client[1],
            "server_name": str(server[0]), "server_port": server[1], "event": event}, body


def _reply(header: Dict[str, Any], body: bytes) -> tuple:
    try:
        status = int(header.get("status", 200))
        if not 100 <= status <= 599:
            raise ValueError(f"status {status}")
        headers = [(str(name).encode("latin-1"), str(value).encode("latin-1"))
                   for name, value in header.get("headers") or ()]
    except (TypeError, ValueError, UnicodeEncodeError) as exc:
        return ERROR, f"ReplyError: the worker's reply has no HTTP form ({exc})", ""
    for name, _ in headers:
        if name.lower() == b"content-type":
            break
    else:
        headers.append(_TEXT_HTML)
    return OK, (status, headers, body)


class FrameCodec:
    """The pool's messages as frames (see :mod:`.channel` for the other codec)."""

    @staticmethod
    def encode(obj: Any) -> bytes:
        if obj is None:
            return frame({"type": "stop"})
        if obj[0] == "load":
            return frame(obj[1])
        header, body = call_header(obj)
        return frame(header, body)

    @staticmethod
    def take(buffer: bytearray) -> Any:
        got = read_frame(buffer)
        if got is INCOMPLETE:
            return got
        header, body = got
        kind = header.get("type")
        message = str(header.get("message", ""))
        if kind == "reply":
            return _reply(header, body)
        if kind == "error":
            return ERROR, message or "Error", str(header.get("traceback", ""))
        if kind == "bad-request":
            return BAD_REQUEST, message, ""
        if kind == "ready":
            return "ready", header.get("pid")
        if kind == "load-error":
            return "load-error", message
        raise ValueError(f"a frame of unknown type {kind!r}")


FRAMES = FrameCodec()


def load_frame(config: Config) -> Dict[str, Any]:
    """The first frame a worker gets: what to load and the context it passes to every call."""
    return {"type": "load", "function_dir": str(config.function_dir),
            "module": config.module_name, "handler": config.handler_name,
            "context": config.context, "body_limit": config.body_limit}


class CommandWorker(WorkerProcess):
    """A worker started from ``KUBELESS_WORKER_COMMAND``, in its own process group."""

    __slots__ = ()

    @classmethod
    def start(cls, config: Config) -> "CommandWorker":
        from .pool import WorkerStartError

        argv = shlex.split(config.worker_command)
        try:
            parent, child = socket.socketpair()
        except OSError as exc:
            raise WorkerStartError(f"cannot start a worker process: {exc.strerror or exc}; "
                                   "raise the container's open-file limit") from None
        try:
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, pass_fds=(child.fileno(),),
                env=dict(os.environ, KUBELESS_WORKER_FD=str(child.fileno())),
                start_new_session=True)  # its own process group: a timeout kills it all
        except OSError as exc:
            parent.close()
            if not isinstance(exc, (FileNotFoundError, PermissionError)):
                raise WorkerStartError(f"cannot start a worker process: {exc.strerror or exc}; "
                                       "raise the container's process or open-file limit, or "
                                       "lower KUBELESS_WORKERS_MAX") from None
            raise FunctionLoadError(
                f"The worker command {config.worker_command!r} (KUBELESS_WORKER_COMMAND) "
                f"could not start: {exc}. Set KUBELESS_WORKER_COMMAND to a command of the "
                "runtime image.") from None
        finally:
            child.close()
        _demote(process.pid)
        worker = cls(process, Channel(parent, FRAMES))
        worker.conn.send(("load", load_frame(config)))
        return worker

    def stop(self, timeout: float) -> None:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal_kill()
        self.reap(2.0)

    def reap(self, timeout: float) -> None:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        self.conn.close()

    def describe_exit(self) -> str:
        try:
            code = self.process.wait(1.0)
        except subprocess.TimeoutExpired:
            return "its worker process stopped answering"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            hint = " (out of memory?)" if name == "SIGKILL" else ""
            return f"its worker process was killed by {name}{hint}"
        return f"its worker process exited with code {code}"


def cgroup_memory_limit() -> Optional[int]:
    """The container's memory limit in bytes (cgroup v2, else v1); None when unlimited."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as handle:
                value = handle.read().strip()
        except OSError:
            continue
        if value.isdigit() and int(value) < 1 << 50:
            return int(value)
        return None
    return None


def private_memory(pid: int) -> Optional[int]:
    """Bytes a process holds of its own (RssAnon), or None when unknown."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _demote(pid: int) -> None:
    """What a Python worker does to itself (see :mod:`.worker`): OOM-kill me first, never
    preempt the server. Both need no privilege for a process of one's own user."""
    try:
        with open(f"/proc/{pid}/oom_score_adj", "w") as handle:
            handle.write("500")
    except OSError:
        pass
    try:
        os.sched_setscheduler(pid, os.SCHED_BATCH, os.sched_param(0))
    except (AttributeError, OSError):
        pass


__all__ = ["FRAMES", "CommandWorker", "call_header", "frame", "load_frame", "read_frame"]

"""The byte channel between the HTTP process and one worker process.

Length-prefixed pickles over a blocking socketpair; Python workers use this private encoding
(other languages' workers speak the documented frame protocol instead).
"""

from __future__ import annotations

import pickle
import socket
import struct
import time
from typing import Any, Optional

_HEADER = struct.Struct("!I")
_TIMEVAL = struct.Struct("@ll")


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

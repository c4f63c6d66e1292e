"""The byte channel between the HTTP process and one worker process.

Length-prefixed pickles over a socketpair; Python workers use this private encoding
(other languages' workers speak the documented frame protocol instead). The worker's end
blocks (:class:`Channel`); the HTTP process's end is driven by its event loop
(:class:`LoopChannel`).
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
    """Length-prefixed pickles over a blocking socketpair: the worker's end.

    Leaner than ``multiprocessing.Connection`` plus ``poll``: a message costs
    one ``sendall`` and usually one ``recv``, and the deadline is the kernel's
    ``SO_RCVTIMEO``. The HTTP process uses it only while a new worker loads the
    function (in a thread), then wraps the socket in a :class:`LoopChannel`.
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


class LoopChannel:
    """The HTTP process's end of a worker channel, driven by the event loop.

    Waiting for a worker holds no thread: the socket stays registered with
    the loop for as long as the worker lives, a reply resolves a future, and
    the deadline is a ``call_later`` timer. Registration is permanent rather
    than per call because the two ``epoll_ctl`` calls it would cost per
    request are a measurable share of the hop to the worker.
    """

    __slots__ = ("sock", "loop", "_buffer", "_waiter", "closed")

    def __init__(self, channel: Channel, loop: Any) -> None:
        self.sock = channel.sock
        self.sock.setblocking(False)
        self.loop = loop
        self._buffer = channel._buffer
        self._waiter: Any = None
        self.closed = False
        loop.add_reader(self.sock.fileno(), self._readable)

    def _message(self) -> Any:
        buffer = self._buffer
        if len(buffer) < _HEADER.size:
            return _INCOMPLETE
        needed = _HEADER.size + _HEADER.unpack_from(buffer)[0]
        if len(buffer) < needed:
            return _INCOMPLETE
        message = pickle.loads(bytes(buffer[_HEADER.size:needed]))
        del buffer[:needed]
        return message

    def _readable(self) -> None:
        try:
            chunk = self.sock.recv(262144)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._lost(str(exc))
            return
        if not chunk:
            self._lost("the worker closed its end")
            return
        self._buffer += chunk
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            message = self._message()
            if message is not _INCOMPLETE:
                waiter.set_result(message)

    def _lost(self, why: str) -> None:
        self.detach()
        self.closed = True
        self.abort(ChannelClosed(why))

    def abort(self, exc: BaseException) -> None:
        """Make a pending :meth:`recv` raise ``exc`` (used at shutdown and on loss)."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    async def send(self, obj: Any) -> None:
        data = _frame(obj)
        try:
            sent = self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        if sent < len(data):
            await self.loop.sock_sendall(self.sock, memoryview(data)[sent:])

    def send_nowait(self, obj: Any) -> None:
        """Best effort, for the tiny stop message."""
        try:
            self.sock.send(_frame(obj))
        except OSError:
            pass

    async def recv(self, timeout: float) -> Any:
        """The next message; ``TimeoutError`` after ``timeout`` seconds without one."""
        message = self._message()
        if message is not _INCOMPLETE:
            return message
        if self.closed:
            raise ChannelClosed("the worker closed its end")
        waiter = self.loop.create_future()
        self._waiter = waiter
        timer = self.loop.call_later(timeout, _expire, waiter)
        try:
            return await waiter
        finally:
            timer.cancel()
            self._waiter = None

    def detach(self) -> None:
        """Stop watching the socket; call from the loop's thread."""
        if not self.closed:
            try:
                self.loop.remove_reader(self.sock.fileno())
            except (OSError, ValueError):
                pass

    def close(self) -> None:
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass


_INCOMPLETE = object()


def _frame(obj: Any) -> bytes:
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(payload)) + payload


def _expire(waiter: Any) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())

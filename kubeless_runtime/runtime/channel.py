"""The byte channel between the HTTP process and one worker process.

Length-prefixed messages over a socketpair. Python workers use a private encoding, pickles
(:data:`PICKLES`); workers in other languages speak the documented frame protocol
(``WORKER_PROTOCOL.md``, :mod:`.frames`), plugged in as another codec. The worker's end
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


class PickleCodec:
    """The Python workers' private encoding: a 4-byte length, then a pickle."""

    @staticmethod
    def encode(obj: Any) -> bytes:
        payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        return _HEADER.pack(len(payload)) + payload

    @staticmethod
    def take(buffer: bytearray) -> Any:
        """The first whole message, removed from ``buffer``; :data:`INCOMPLETE` if none."""
        if len(buffer) < _HEADER.size:
            return INCOMPLETE
        needed = _HEADER.size + _HEADER.unpack_from(buffer)[0]
        if len(buffer) < needed:
            return INCOMPLETE
        message = pickle.loads(bytes(buffer[_HEADER.size:needed]))
        del buffer[:needed]
        return message


INCOMPLETE = object()
PICKLES = PickleCodec()


class Channel:
    """Length-prefixed pickles over a blocking socketpair: the worker's end.

    Leaner than ``multiprocessing.Connection`` plus ``poll``: a message costs
    one ``sendall`` and usually one ``recv``, and the deadline is the kernel's
    ``SO_RCVTIMEO``. The HTTP process uses it only while a new worker loads the
    function (in a thread), then wraps the socket in a :class:`LoopChannel`.
    """

    __slots__ = ("sock", "codec", "_buffer", "_timeout")

    def __init__(self, sock: socket.socket, codec: Any = PICKLES) -> None:
        sock.settimeout(None)
        self.sock = sock
        self.codec = codec
        self._buffer = bytearray()
        self._timeout: Optional[float] = None

    def send(self, obj: Any) -> None:
        self.sock.sendall(self.codec.encode(obj))

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
        take = self.codec.take
        deadline = None if timeout is None else time.monotonic() + timeout
        self._set_timeout(timeout)
        while True:
            try:
                message = take(buffer)
            except ValueError as exc:
                raise ChannelClosed(f"the worker broke the protocol: {exc}") from None
            if message is not INCOMPLETE:
                return message
            try:
                chunk = self.sock.recv(262144)
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

    __slots__ = ("sock", "loop", "codec", "_buffer", "_waiter", "closed")

    def __init__(self, channel: Channel, loop: Any) -> None:
        self.sock = channel.sock
        self.sock.setblocking(False)
        self.loop = loop
        self.codec = channel.codec
        self._buffer = channel._buffer
        self._waiter: Any = None
        self.closed = False
        loop.add_reader(self.sock.fileno(), self._readable)

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
            try:
                message = self.codec.take(self._buffer)
            except ValueError as exc:  # a worker breaking the protocol is treated as lost
                self._lost(f"the worker broke the protocol: {exc}")
                return
            if message is not INCOMPLETE:
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
        data = self.codec.encode(obj)
        try:
            sent = self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        if sent < len(data):
            await self.loop.sock_sendall(self.sock, memoryview(data)[sent:])

    def send_nowait(self, obj: Any) -> None:
        """Best effort, for the tiny stop message."""
        try:
            self.sock.send(self.codec.encode(obj))
        except OSError:
            pass

    async def recv(self, timeout: float) -> Any:
        """The next message; ``TimeoutError`` after ``timeout`` seconds without one."""
        try:
            message = self.codec.take(self._buffer)
        except ValueError as exc:
            self._lost(f"the worker broke the protocol: {exc}")
            raise ChannelClosed(str(exc)) from None
        if message is not INCOMPLETE:
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


def _expire(waiter: Any) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())

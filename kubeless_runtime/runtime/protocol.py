"""Strict HTTP/1.1 on uvicorn's httptools protocol: limits and timeouts, no parser of our own.

llhttp (under httptools) already refuses ``Content-Length`` beside
``Transfer-Encoding``, duplicate, list-valued or negative ``Content-Length`` and
unknown methods; this subclass turns those refusals into the right status and
adds what a parser cannot know: how big a request head may be, how many
headers, how long a client may take to send its head, and that HTTP/1.1 needs
``Host``. A rejected request is answered in plain text with ``Connection:
close`` and logged like any other.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Callable, Optional

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .config import DEFAULT_MAX_HEAD_BYTES

MAX_HEADERS = 100
HEAD_TIMEOUT = 5.0
"""Seconds from a request's first byte (or the connection's opening) to the end of its head."""
LINGER = 2.0
"""Seconds a rejected connection keeps discarding input before it is closed."""


class _Reject(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _CorkedTransport:
    """Coalesces the writes of one loop iteration into one ``send``.

    uvicorn writes a response's head and body separately, and uvloop sends
    each at once: two system calls and two TCP segments per answer. Joining
    them in a ``call_soon`` saves one of each on the HTTP process, the
    runtime's single-threaded stage.
    """

    __slots__ = ("_transport", "_loop", "_pending")

    def __init__(self, transport: Any, loop: Any) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(data)

    def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            self._transport.write(data)

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class StrictHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits above; see the module doc."""

    max_head_bytes = DEFAULT_MAX_HEAD_BYTES
    max_headers = MAX_HEADERS
    head_timeout = HEAD_TIMEOUT
    log_rejection: Optional[Callable[..., None]] = None

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = _CorkedTransport(transport, self.loop)  # type: ignore[assignment]
        self._in_head = True
        self._head_bytes = 0
        self._header_count = 0
        self._rejected = False
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _cancel_head_timer(self) -> None:
        timer = getattr(self, "_head_timer", None)
        if timer is not None:
            timer.cancel()
            self._head_timer = None

    def data_received(self, data: bytes) -> None:
        if self._rejected:
            return
        self._unset_keepalive_if_required()
        if self._in_head:
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserInvalidMethodError:
            self._reject(501, "Not Implemented: unknown request method; the function answers "
                              "GET, POST, PUT, PATCH, DELETE, HEAD and OPTIONS", known=False)
            return
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, _Reject):
                self._reject(cause.status, cause.message)
            else:
                self._reject(400, "Bad Request: the request could not be read")
            return
        except httptools.HttpParserUpgrade:
            self._reject(501, "Not Implemented: this server does not switch protocols or tunnel "
                              "(CONNECT, Upgrade)")
            return
        except httptools.HttpParserError as exc:
            self._reject(400, f"Bad Request: {exc}")
            return
        if self._in_head and self._head_bytes > self.max_head_bytes:
            self._reject(431, f"Request Header Fields Too Large: the request head is over "
                              f"{self.max_head_bytes} bytes (KUBELESS_MAX_HEAD_BYTES)")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._header_count = 0
        if getattr(self, "_head_timer", None) is None:
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.max_headers:
            raise _Reject(431, f"Request Header Fields Too Large: more than {self.max_headers} "
                               "headers")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        self._cancel_head_timer()
        head = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if head > self.max_head_bytes:
            raise _Reject(431, f"Request Header Fields Too Large: the request head is over "
                               f"{self.max_head_bytes} bytes (KUBELESS_MAX_HEAD_BYTES)")
        if self.parser.get_method() == b"CONNECT":
            raise _Reject(501, "Not Implemented: this server does not tunnel (CONNECT)")
        if self.parser.get_http_version() == "1.1" and not any(
                name == b"host" for name, _ in self.headers):
            raise _Reject(400, "Bad Request: an HTTP/1.1 request must have a Host header")
        super().on_headers_complete()

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            self._reject(408, f"Request Timeout: the request head did not arrive within "
                              f"{self.head_timeout:g} s")

    def _reject(self, status: int, message: str, known: bool = True) -> None:
        self._rejected = True
        self._cancel_head_timer()
        body = (message + "\n").encode("utf-8")
        phrase = HTTPStatus(status).phrase.encode()
        head = [b"HTTP/1.1 %d %s\r\n" % (status, phrase)]
        for name, value in self.server_state.default_headers:
            head.append(name + b": " + value + b"\r\n")
        head.append(b"content-type: text/plain; charset=utf-8\r\n"
                    b"access-control-allow-origin: *\r\n"
                    b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body))
        transport = self.transport
        if not transport.is_closing():
            transport.write(b"".join(head) + body)
            # Closing with unread input would send a reset that can destroy the answer at
            # the client: send FIN, discard what still comes, close after a short linger.
            if transport.can_write_eof():
                transport.write_eof()
                self.loop.call_later(LINGER, transport.close)
            else:
                transport.close()
        if self.log_rejection is not None:
            url = getattr(self, "url", b"")
            method = "-"
            if known and url:  # llhttp has read the method once the target has begun
                method = self.parser.get_method().decode("latin-1")
            self.log_rejection(self.client, method, url, status, len(body))


def protocol_class(max_head_bytes: int, log_rejection: Optional[Callable[..., None]] = None,
                   head_timeout: float = HEAD_TIMEOUT) -> type:
    """A :class:`StrictHttpToolsProtocol` with these limits, for uvicorn's ``http=`` setting."""
    return type("KubelessHttpProtocol", (StrictHttpToolsProtocol,), {
        "max_head_bytes": max_head_bytes, "head_timeout": head_timeout,
        "log_rejection": staticmethod(log_rejection) if log_rejection else None})



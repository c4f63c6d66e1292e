"""A small, bounded HTTP client for the conformance suite, loopback only.

Why not ``urllib``/``requests``: the suite must see what a runtime really did, including
things a friendly client hides: a connection closed without an answer (a server that died),
an early 413 while the body is still being sent, the exact bytes of a body.  Every call has a
timeout and never raises for a network problem; it returns a :class:`Response` whose
``status`` is 0 and whose ``error`` says what happened.  Only ``http://127.0.0.1:PORT`` URLs
are accepted: the suite talks to published loopback ports, never to a container's address.
"""

from __future__ import annotations

import http.client
import json
import select
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple
from urllib.parse import urlsplit

DEFAULT_TIMEOUT = 30.0
CHUNK = 64 * 1024


class NotLoopbackError(ValueError):
    """The suite was asked to call something other than http://127.0.0.1:PORT."""


@dataclass
class Response:
    """What came back: ``status`` 0 means no HTTP answer (``error`` says why)."""

    status: int
    body: bytes = b""
    headers: Dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    error: str = ""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON; ValueError when it is not JSON."""
        return json.loads(self.body.decode("utf-8"))

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    def describe(self, limit: int = 200) -> str:
        """One line for a report: ``HTTP 500 'Internal ...' in 0.02 s`` or the error."""
        if not self.status:
            return f"no HTTP answer ({self.error}) after {self.seconds:.2f} s"
        body = self.body[:limit].decode("utf-8", "replace")
        more = f"... ({len(self.body)} bytes)" if len(self.body) > limit else ""
        return f"HTTP {self.status} {body!r}{more} in {self.seconds:.2f} s"


def _split(url: str) -> Tuple[str, int, str]:
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname != "127.0.0.1" or not parts.port:
        raise NotLoopbackError(f"{url!r}: the conformance suite only calls "
                               "http://127.0.0.1:PORT (a published loopback port)")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.hostname, parts.port, path


def request(url: str, method: str = "GET", body: Optional[bytes] = None,
            headers: Optional[Mapping[str, str]] = None,
            timeout: float = DEFAULT_TIMEOUT) -> Response:
    """One request on a fresh connection; never raises for network errors."""
    host, port, path = _split(url)
    started = time.monotonic()
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        send_headers = {"Connection": "close"}
        send_headers.update(headers or {})
        if body is not None and not any(k.lower() == "content-length" for k in send_headers):
            send_headers["Content-Length"] = str(len(body))
        connection.request(method, path, body=body, headers=send_headers)
        answer = connection.getresponse()
        data = answer.read()
        return Response(answer.status, data, {k.lower(): v for k, v in answer.getheaders()},
                        time.monotonic() - started)
    except (OSError, http.client.HTTPException) as exc:
        return Response(0, seconds=time.monotonic() - started, error=_describe_error(exc))
    finally:
        connection.close()


def request_json(url: str, payload: Any, method: str = "POST",
                 headers: Optional[Mapping[str, str]] = None,
                 timeout: float = DEFAULT_TIMEOUT) -> Response:
    """``request`` with a JSON body and ``Content-Type: application/json``."""
    send = {"Content-Type": "application/json"}
    send.update(headers or {})
    return request(url, method, json.dumps(payload).encode(), send, timeout)


def send_large_body(url: str, size: int, headers: Optional[Mapping[str, str]] = None,
                    timeout: float = DEFAULT_TIMEOUT) -> Response:
    """POST ``size`` bytes, stopping early if the server answers before reading them all.

    Why a raw socket: a server refusing an oversized body (413) usually answers and closes
    without reading it; a normal client keeps writing, gets EPIPE or a reset, and loses the
    answer.  Here the answer is read as soon as it is there.
    """
    host, port, path = _split(url)
    started = time.monotonic()
    deadline = started + timeout
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close",
             f"Content-Length: {size}"]
    extra = {"Content-Type": "application/octet-stream"}
    extra.update(headers or {})
    lines += [f"{k}: {v}" for k, v in extra.items()]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    received = b""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(head)
            sent = 0
            chunk = b"x" * CHUNK
            while sent < size and time.monotonic() < deadline:
                readable, writable, _ = select.select([sock], [sock], [], 1.0)
                if readable:
                    break  # the server answered (or closed) before taking the whole body
                if writable:
                    try:
                        sent += sock.send(chunk[: min(CHUNK, size - sent)])
                    except OSError:
                        break
            while time.monotonic() < deadline:
                sock.settimeout(max(0.05, deadline - time.monotonic()))
                try:
                    data = sock.recv(CHUNK)
                except OSError as exc:
                    if received:
                        break
                    return Response(0, seconds=time.monotonic() - started,
                                    error=_describe_error(exc))
                if not data:
                    break
                received += data
                if _complete(received):
                    break
    except OSError as exc:
        return Response(0, seconds=time.monotonic() - started, error=_describe_error(exc))
    return _parse_raw(received, time.monotonic() - started)


def _complete(raw: bytes) -> bool:
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                return len(body) >= int(value.strip())
            except ValueError:
                return False
    return False


def _parse_raw(raw: bytes, seconds: float) -> Response:
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2) if lines and lines[0] else []
    if not sep or len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
        what = "the connection closed without an answer" if not raw else \
            f"not an HTTP answer: {raw[:80]!r}"
        return Response(0, seconds=seconds, error=what)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    try:
        status = int(parts[1])
    except ValueError:
        return Response(0, seconds=seconds, error=f"bad status line {lines[0]!r}")
    return Response(status, body, headers, seconds)


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout) or isinstance(exc, TimeoutError):
        return "timed out waiting for the answer"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused: nothing listens on the port"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "the server closed the connection without answering"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
        return "the connection was reset: the server went away mid-request"
    return f"{type(exc).__name__}: {exc}"


__all__ = ["NotLoopbackError", "Response", "request", "request_json", "send_large_body"]

"""The Kubeless event model: what a function receives and how its answer is sent.

The HTTP side (main process) turns an ASGI request (or a WSGI one, for other
servers) into a picklable :class:`Invocation` carrying a WSGI-style environ;
the worker side turns that back into the ``event`` dict with a real ``bottle``
request in ``extensions``, calls the function, and turns whatever it returned
into a picklable :class:`Reply`. Both halves are plain functions so another
server can reuse them.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

EVENT_HEADERS = ("event-id", "event-type", "event-time", "event-namespace")
MAX_JSON_DEPTH = 512
"""Deepest nesting of arrays and objects a JSON body may have; deeper is answered 400."""
_JSON_NESTING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_WSGI_SCALARS = (str, int, float, bool, tuple)


class BadRequest(ValueError):
    """The request cannot be turned into an event (answered 400)."""


class ReplyError(TypeError):
    """The function returned something that has no HTTP form (answered 500)."""


@dataclass
class Invocation:
    """One call of the function, small enough to pickle to a worker."""

    environ: Dict[str, Any]
    body: bytes
    event_headers: Dict[str, Optional[str]]


@dataclass
class Reply:
    """The HTTP answer a function produced."""

    status: int = 200
    headers: List[Tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def is_json(content_type: Optional[str]) -> bool:
    """``application/json`` with or without parameters such as ``; charset=utf-8``."""
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


def json_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``body`` nests arrays/objects deeper than ``limit`` (brackets in strings skipped).

    Python's parser recurses per level, so a deep enough body would exhaust
    the worker's stack; this scan is iterative and, for ordinary bodies with
    fewer brackets than the limit, one pair of ``bytes.count`` calls.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for match in _JSON_NESTING.finditer(body):
        token = match.group()
        if token == b"[" or token == b"{":
            depth += 1
            if depth > limit:
                return True
        elif token == b"]" or token == b"}":
            depth -= 1
    return False


def parse_data(content_type: Optional[str], body: bytes) -> Any:
    """JSON bodies become objects, anything else stays raw bytes, as Kubeless does."""
    if not is_json(content_type):
        return body
    if not body.strip():
        return None
    if json_too_deep(body):
        raise BadRequest(f"The JSON body nests arrays or objects more than {MAX_JSON_DEPTH} "
                         "levels deep, which this runtime refuses; flatten the data.")
    try:
        return json.loads(body)
    except RecursionError:
        raise BadRequest("The JSON body is nested too deeply to parse; flatten the data.") \
            from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"Malformed JSON body ({exc}); the request says Content-Type: "
                         f"{content_type}, so the body must be valid JSON.") from None


def invocation_from_environ(environ: Mapping[str, Any], body: bytes) -> Invocation:
    """Snapshot a WSGI request; drops the stream and server objects that cannot pickle."""
    snapshot = {k: v for k, v in environ.items()
                if isinstance(v, _WSGI_SCALARS) and not k.startswith(("bottle.", "wsgi."))}
    snapshot["wsgi.url_scheme"] = environ.get("wsgi.url_scheme", "http")
    snapshot["CONTENT_LENGTH"] = str(len(body))
    snapshot.pop("HTTP_TRANSFER_ENCODING", None)
    headers = {name: environ.get("HTTP_" + name.upper().replace("-", "_"))
               for name in EVENT_HEADERS}
    return Invocation(environ=snapshot, body=body, event_headers=headers)


def _environ_key(raw_name: bytes) -> str:
    return "HTTP_" + raw_name.decode("latin-1").upper().replace("-", "_")


_ENVIRON_KEYS: Dict[bytes, str] = {b"content-type": "CONTENT_TYPE", b"content-length": "",
                                    b"transfer-encoding": ""}
"""ASGI header name -> environ key ("" to drop); a bounded cache, header names repeat."""
_EVENT_KEYS = {name: _environ_key(name.encode()) for name in EVENT_HEADERS}
_EVENT_ENVIRON = frozenset(_EVENT_KEYS.values())


def invocation_from_scope(scope: Mapping[str, Any], body: bytes) -> Invocation:
    """Snapshot an ASGI HTTP request as the WSGI-style environ a bottle request reads."""
    server = scope.get("server") or ("", 0)
    client = scope.get("client") or ("", 0)
    path = scope["path"]
    environ: Dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": "",
        "PATH_INFO": path if path.isascii() else path.encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_PROTOCOL": "HTTP/" + scope.get("http_version", "1.1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "REMOTE_ADDR": str(client[0]),
        "REMOTE_PORT": str(client[1]),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "CONTENT_LENGTH": str(len(body)),
    }
    events: Dict[str, Optional[str]] = {}
    for raw_name, raw_value in scope["headers"]:
        key = _ENVIRON_KEYS.get(raw_name)
        if key is None:
            key = _environ_key(raw_name)
            if len(_ENVIRON_KEYS) < 4096:
                _ENVIRON_KEYS[raw_name] = key
        if not key:
            continue
        value = raw_value.decode("latin-1")
        if key == "CONTENT_TYPE":
            environ[key] = value
            continue
        if key in _EVENT_ENVIRON and key not in events:
            events[key] = value
        environ[key] = environ[key] + "," + value if key in environ else value
    return Invocation(environ=environ, body=body,
                      event_headers={name: events.get(key) for name, key in _EVENT_KEYS.items()})


def wire_from_scope(scope: Mapping[str, Any], body: bytes) -> tuple:
    """The request as the HTTP process sends it to a worker: a plain tuple.

    The HTTP process is the runtime's one single-threaded stage, so the work
    of turning headers into a WSGI-style environ is left to the worker
    (:func:`invocation_from_wire`), which runs in parallel with it.
    """
    return (scope["method"], scope["path"], scope.get("query_string", b""),
            scope.get("http_version", "1.1"), scope["headers"], scope.get("client"),
            scope.get("server"), scope.get("scheme", "http"), body)


def invocation_from_wire(wire: Any) -> Invocation:
    """An :class:`Invocation` from :func:`wire_from_scope`'s tuple (or an Invocation as is)."""
    if isinstance(wire, Invocation):
        return wire
    method, path, query, version, headers, client, server, scheme, body = wire
    scope = {"method": method, "path": path, "query_string": query, "http_version": version,
             "headers": headers, "client": client, "server": server, "scheme": scheme}
    return invocation_from_scope(scope, body)


def wire_reply(reply: Reply) -> tuple:
    """``(status, headers, body)`` ready for ASGI: header pairs as latin-1 bytes, a content type
    always present (``text/html`` when the function set none, as Kubeless answers)."""
    headers = [(name.encode("latin-1"), str(value).encode("latin-1"))
               for name, value in reply.headers]
    for name, _ in headers:
        if name.lower() == b"content-type":
            break
    else:
        headers.append((b"content-type", b"text/html; charset=UTF-8"))
    return reply.status, headers, reply.body


def build_event(invocation: Invocation, body_limit: int) -> Dict[str, Any]:
    """The ``event`` dict, with a real bottle request rebuilt from the snapshot.

    The body is parsed here, in the worker, once: the HTTP process only
    forwards bytes. Raises :class:`BadRequest` for malformed JSON.
    """
    import bottle

    data = parse_data(invocation.environ.get("CONTENT_TYPE"), invocation.body)
    environ = dict(invocation.environ)
    environ["wsgi.input"] = io.BytesIO(invocation.body)
    environ["wsgi.errors"] = io.StringIO()
    if bottle.BaseRequest.MEMFILE_MAX < body_limit:
        bottle.BaseRequest.MEMFILE_MAX = body_limit
    request = bottle.BaseRequest(environ)
    event = {"data": data}
    event.update(invocation.event_headers)
    event["extensions"] = {"request": request}
    return event


def _body_bytes(value: Any) -> Tuple[bytes, Optional[str]]:
    if value is None:
        return b"", None
    if isinstance(value, bytes):
        return value, None
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value), None
    if isinstance(value, str):
        return value.encode("utf-8"), "text/html; charset=UTF-8"
    if isinstance(value, (dict, list, tuple, int, float, bool)):
        try:
            return json.dumps(value).encode("utf-8"), "application/json"
        except (TypeError, ValueError) as exc:
            raise ReplyError(f"the function returned a {type(value).__name__} that is not "
                             f"JSON-serializable ({exc}); return str, bytes, or a dict/list of "
                             "plain values") from None
    raise ReplyError(f"the function returned a {type(value).__name__}, which has no HTTP form; "
                     "return str, bytes, dict, list, a number, a bool, None or a "
                     "bottle.HTTPResponse")


def reply_from_result(result: Any, response: Any = None) -> Reply:
    """Turn a function's return value into a :class:`Reply`.

    ``response`` is the worker's ``bottle.response``: status and headers a
    function set on it are kept, as they would be under bottle itself.
    """
    import bottle

    if isinstance(result, bottle.HTTPResponse):
        headers = [(k, v) for k, v in result.headerlist if k.lower() != "content-length"]
        body, default_type = _body_bytes(result.body)
        if body and not any(k.lower() == "content-type" for k, _ in headers) and default_type:
            headers.append(("Content-Type", default_type))
        return Reply(status=result.status_code, headers=headers, body=body)
    status, headers, custom_type = 200, [], None
    # An untouched bottle.response (the common case) adds nothing; computing its header list
    # is a sizeable share of a worker's time per call.
    if response is not None and (response._headers or response._cookies is not None
                                 or response._status_code != 200):
        status = response.status_code
        headers = [(k, v) for k, v in response.headerlist
                   if k.lower() not in ("content-type", "content-length")]
        custom_type = response.headers.get("Content-Type")
    body, default_type = _body_bytes(result)
    content_type = custom_type or default_type
    if content_type:
        headers.append(("Content-Type", content_type))
    return Reply(status=status, headers=headers, body=body)

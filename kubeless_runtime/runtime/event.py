"""The Kubeless event model: what a function receives and how its answer is sent.

The HTTP side (main process) turns a WSGI request into a picklable
:class:`Invocation`; the worker side turns that back into the ``event`` dict
with a real ``bottle`` request in ``extensions``, calls the function, and
turns whatever it returned into a picklable :class:`Reply`. Both halves are
plain functions so another server can reuse them.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

EVENT_HEADERS = ("event-id", "event-type", "event-time", "event-namespace")
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


def parse_data(content_type: Optional[str], body: bytes) -> Any:
    """JSON bodies become objects, anything else stays raw bytes, as Kubeless does."""
    if not is_json(content_type):
        return body
    if not body.strip():
        return None
    try:
        return json.loads(body)
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
    if response is not None:
        status = response.status_code
        headers = [(k, v) for k, v in response.headerlist
                   if k.lower() not in ("content-type", "content-length")]
        custom_type = response.headers.get("Content-Type")
    body, default_type = _body_bytes(result)
    content_type = custom_type or default_type
    if content_type:
        headers.append(("Content-Type", content_type))
    return Reply(status=status, headers=headers, body=body)

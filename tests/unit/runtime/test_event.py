import io
import json
import pickle

import bottle
import pytest

from kubeless_runtime.runtime.event import (
    BadRequest,
    ReplyError,
    build_event,
    invocation_from_environ,
    is_json,
    parse_data,
    reply_from_result,
)


def environ(**extra):
    base = {"REQUEST_METHOD": "POST", "PATH_INFO": "/p", "QUERY_STRING": "a=1",
            "SERVER_NAME": "localhost", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.input": io.BytesIO(), "wsgi.url_scheme": "http", "HTTP_EVENT_ID": "e1",
            "HTTP_EVENT_NAMESPACE": "ns", "bottle.app": object()}
    base.update(extra)
    return base


@pytest.mark.parametrize("value, expected", [
    ("application/json", True), ("application/json; charset=utf-8", True),
    ("Application/JSON", True), ("text/plain", False), (None, False), ("", False),
    ("application/jsonp", False),
])
def test_is_json(value, expected):
    assert is_json(value) is expected


def test_parse_data_keeps_non_json_bytes_and_parses_json():
    assert parse_data("text/plain", b"\xff\x00") == b"\xff\x00"
    assert parse_data("application/json; charset=utf-8", b'{"a": 1}') == {"a": 1}
    assert parse_data("application/json", b"  ") is None
    with pytest.raises(BadRequest, match="Malformed JSON body"):
        parse_data("application/json", b"{nope")


def test_invocation_is_picklable_and_rebuilds_a_bottle_request():
    invocation = invocation_from_environ(environ(CONTENT_TYPE="application/json"), b'{"x": 2}')
    invocation = pickle.loads(pickle.dumps(invocation))
    assert invocation.event_headers["event-id"] == "e1"
    assert invocation.event_headers["event-type"] is None
    event = build_event(invocation, 1 << 20)
    assert event["data"] == {"x": 2}
    assert event["event-namespace"] == "ns"
    request = event["extensions"]["request"]
    assert isinstance(request, bottle.BaseRequest)
    assert request.json == {"x": 2}
    assert request.query["a"] == "1"
    assert request.method == "POST" and request.path == "/p"
    assert request.body.read() == b'{"x": 2}'


def test_reply_types():
    assert reply_from_result("hi").body == b"hi"
    assert reply_from_result(b"\x00").body == b"\x00"
    as_json = reply_from_result({"a": [1]})
    assert json.loads(as_json.body) == {"a": [1]}
    assert ("Content-Type", "application/json") in as_json.headers
    assert reply_from_result(None).body == b""
    assert reply_from_result(3).body == b"3"
    response = reply_from_result(bottle.HTTPResponse("made", status=201, headers={"X-A": "b"}))
    assert response.status == 201 and ("X-A", "b") in response.headers


def test_unsendable_results_say_what_to_return():
    with pytest.raises(ReplyError, match="returned a set"):
        reply_from_result({1, 2})
    with pytest.raises(ReplyError, match="not JSON-serializable"):
        reply_from_result({"when": object()})


def test_malformed_json_is_refused_when_the_event_is_built():
    invocation = invocation_from_environ(environ(CONTENT_TYPE="application/json"), b"{bad")
    with pytest.raises(BadRequest, match="Malformed JSON"):
        build_event(invocation, 1 << 20)


def test_json_nesting_beyond_the_limit_is_a_bad_request_without_recursing():
    import pytest

    from kubeless_runtime.runtime.event import MAX_JSON_DEPTH, BadRequest, parse_data

    ok = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert parse_data("application/json", ok) is not None
    with pytest.raises(BadRequest, match=str(MAX_JSON_DEPTH)):
        parse_data("application/json", b"[" * 100_000 + b"]" * 100_000)
    brackets_in_strings = b'{"a": "' + b"[" * 2000 + b'"}'
    assert parse_data("application/json", brackets_in_strings) == {"a": "[" * 2000}


def test_wire_round_trip_builds_the_environ_in_the_worker():
    from kubeless_runtime.runtime.event import invocation_from_wire, wire_from_scope

    scope = {"method": "POST", "path": "/a b", "query_string": b"x=1", "http_version": "1.1",
             "headers": [(b"content-type", b"text/plain"), (b"event-id", b"e1"),
                         (b"x-many", b"1"), (b"x-many", b"2")],
             "client": ("127.0.0.1", 5), "server": ("127.0.0.1", 80), "scheme": "http"}
    invocation = invocation_from_wire(wire_from_scope(scope, b"body"))
    assert invocation.environ["PATH_INFO"] == "/a b"
    assert invocation.environ["QUERY_STRING"] == "x=1"
    assert invocation.environ["CONTENT_TYPE"] == "text/plain"
    assert invocation.environ["CONTENT_LENGTH"] == "4"
    assert invocation.environ["HTTP_X_MANY"] == "1,2"
    assert invocation.event_headers["event-id"] == "e1"

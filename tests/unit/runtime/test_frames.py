"""The frame codec of WORKER_PROTOCOL.md, without processes."""

import json

import pytest

from kubeless_runtime.runtime.channel import INCOMPLETE
from kubeless_runtime.runtime.frames import FRAMES, PREFIX, frame, read_frame
from kubeless_runtime.runtime.worker import BAD_REQUEST, ERROR, OK


def test_call_frame_carries_the_request_and_event_fields():
    wire = ("POST", "/a b", b"x=1", "1.1", [(b"event-id", b"e1"), (b"x-two", b"2"),
                                             (b"event-id", b"e2")],
            ("10.0.0.1", 5), ("h", 8080), "http", b"\x00body")
    data = bytearray(FRAMES.encode(wire))
    head, size = PREFIX.unpack_from(data)
    header = json.loads(bytes(data[PREFIX.size:PREFIX.size + head]))
    assert bytes(data[PREFIX.size + head:]) == b"\x00body" and size == 5
    assert header["type"] == "call" and header["path"] == "/a b" and header["query"] == "x=1"
    assert header["headers"] == [["event-id", "e1"], ["x-two", "2"], ["event-id", "e2"]]
    assert header["event"] == {"event-id": "e1", "event-type": None, "event-time": None,
                               "event-namespace": None}
    assert header["remote_addr"] == "10.0.0.1"


def test_replies_become_the_pools_messages():
    buffer = bytearray(frame({"type": "reply", "status": 201, "headers": [["X-A", "1"]]}, b"hi"))
    buffer += frame({"type": "error", "message": "E: x", "traceback": "tb"})
    buffer += frame({"type": "bad-request", "message": "bad"})
    default_type = (b"content-type", b"text/html; charset=UTF-8")
    assert FRAMES.take(buffer) == (OK, (201, [(b"X-A", b"1"), default_type], b"hi"))
    assert FRAMES.take(buffer) == (ERROR, "E: x", "tb")
    assert FRAMES.take(buffer) == (BAD_REQUEST, "bad", "")
    assert FRAMES.take(buffer) is INCOMPLETE and buffer == bytearray()


def test_partial_frames_wait_and_bad_replies_are_errors():
    whole = frame({"type": "reply", "status": 99}, b"x")
    buffer = bytearray(whole[:-1])
    assert FRAMES.take(buffer) is INCOMPLETE
    buffer += whole[-1:]
    kind, detail, _ = FRAMES.take(buffer)
    assert kind == ERROR and "status 99" in detail


@pytest.mark.parametrize("data", [PREFIX.pack(3, 0) + b"{x}", PREFIX.pack(2, 0) + b"[]",
                                  frame({"type": "nonsense"})])
def test_protocol_breaches_raise(data):
    with pytest.raises(ValueError):
        FRAMES.take(bytearray(data))


def test_stop_and_load_frames():
    header, body = read_frame(bytearray(FRAMES.encode(None)))
    assert header == {"type": "stop"} and body == b""
    header, _ = read_frame(bytearray(FRAMES.encode(("load", {"type": "load", "module": "m"}))))
    assert header["module"] == "m"

"""The event-driven front: strict parsing, slow clients, a probe that never starves, SIGTERM.

Raw sockets where a client library would fix the request up for us.
"""

from __future__ import annotations

import http.client
import json
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

PID = """
import os, time

def handler(event, context):
    seconds = float(event['extensions']['request'].query.get('sleep', '0'))
    time.sleep(seconds)
    return str(os.getpid())
"""


def exchange(port: int, raw: bytes, timeout: float = 5.0) -> tuple:
    """Send ``raw``, read until the server closes (or ``timeout``); (status, body, closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        data, closed = b"", False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                closed = True
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else None
    return status, head.lower(), body, closed


def test_content_length_with_transfer_encoding_is_400_and_closed(serve):
    server = serve(PID)
    raw = (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"
           b"\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
    status, head, body, closed = exchange(server.port, raw)
    assert status == 400 and closed
    assert body.count(b"HTTP/1.1") == 0, "the smuggled request was not served"
    assert "/smuggled" not in server.stdout()


@pytest.mark.parametrize("lengths", [(b"5", b"6"), (b"-1",), (b"5, 6",)])
def test_bad_content_length_is_400_at_once(serve, lengths):
    server = serve(PID)
    headers = b"".join(b"Content-Length: " + n + b"\r\n" for n in lengths)
    started = time.monotonic()
    status, _, _, closed = exchange(server.port, b"POST / HTTP/1.1\r\nHost: x\r\n" + headers
                                    + b"\r\nhello")
    assert status == 400 and closed
    assert time.monotonic() - started < 1.0


def test_request_head_over_the_limit_is_431(serve):
    server = serve(PID)
    big = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (65 * 1024) + b"\r\n\r\n"
    status, head, body, closed = exchange(server.port, big)
    assert status == 431 and closed
    assert b"KUBELESS_MAX_HEAD_BYTES" in body
    endless = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1024 * 1024)
    assert exchange(server.port, endless)[0] == 431, "a head that never ends is cut at the limit"
    assert server.get("/").status_code == 200


def test_head_limit_is_configurable(serve):
    server = serve(PID, env={"KUBELESS_MAX_HEAD_BYTES": "4096"})
    assert server.get("/", headers={"X-Mid": "a" * 3000}).status_code == 200
    assert server.get("/", headers={"X-Mid": "a" * 5000}).status_code == 431


def test_too_many_headers_is_431(serve):
    server = serve(PID)
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(150))
    status, _, body, closed = exchange(server.port, b"GET / HTTP/1.1\r\nHost: x\r\n" + many
                                       + b"\r\n")
    assert status == 431 and closed and b"headers" in body


def test_http11_without_host_is_400_http10_is_served(serve):
    server = serve(PID)
    assert exchange(server.port, b"GET / HTTP/1.1\r\n\r\n")[0] == 400
    assert exchange(server.port, b"GET / HTTP/1.0\r\n\r\n")[0] == 200


@pytest.mark.parametrize("method, status", [(b"TRACE", 405), (b"FOO", 501), (b"PROPFIND", 501),
                                            (b"CONNECT", 501)])
def test_trace_and_unknown_methods_get_plain_text(serve, method, status):
    server = serve(PID)
    target = b"x:80" if method == b"CONNECT" else b"/"
    got, head, body, _ = exchange(server.port, method + b" " + target
                                  + b" HTTP/1.1\r\nHost: x\r\n\r\n", timeout=2)
    assert got == status
    assert b"content-type: text/plain" in head
    assert b"<" not in body
    assert server.metric("function_calls_total", method.decode()) == 0


def test_a_head_that_does_not_arrive_in_time_is_408_and_closed(serve):
    server = serve(PID)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        data = b""
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        elapsed = time.monotonic() - started
    assert data.startswith(b"HTTP/1.1 408")
    assert 4.5 < elapsed < 7, elapsed


def test_slow_header_clients_cost_other_clients_nothing(serve):
    server = serve(PID)
    slow = []
    for _ in range(50):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(b"GET / HTTP/1.1\r\n")
        slow.append(sock)
    try:
        worst = 0.0
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            for sock in slow:
                sock.sendall(b"X")
            started = time.monotonic()
            assert server.get("/", timeout=5).status_code == 200
            assert server.get("/healthz", timeout=5).status_code == 200
            worst = max(worst, time.monotonic() - started)
            time.sleep(0.1)
        assert worst < 0.5, f"a good call took {worst:.3f} s beside 50 slow clients"
    finally:
        for sock in slow:
            sock.close()


def test_keep_alive_holds_at_64_connections(serve):
    server = serve(PID)
    closes = []

    def client(_):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        statuses = []
        for _ in range(5):
            conn.request("GET", "/")
            answer = conn.getresponse()
            answer.read()
            statuses.append(answer.status)
            if (answer.getheader("connection") or "").lower() == "close":
                closes.append(1)
        conn.close()
        return statuses

    with ThreadPoolExecutor(64) as pool:
        results = list(pool.map(client, range(64)))
    assert all(s == [200] * 5 for s in results)
    assert not closes, f"{len(closes)} answers closed the connection"


def test_healthz_and_metrics_answer_at_once_while_every_worker_is_busy(serve):
    server = serve(PID, env={"CHERRYPY_NUMTHREADS": "2", "KUBELESS_WORKERS_MIN": "2"})
    with ThreadPoolExecutor(4) as pool:
        busy = [pool.submit(server.get, "/", params={"sleep": "3"}) for _ in range(4)]
        time.sleep(0.5)
        slowest = 0.0
        for path in ["/healthz", "/metrics"] * 10:
            started = time.monotonic()
            assert server.get(path, timeout=2).status_code == 200
            slowest = max(slowest, time.monotonic() - started)
        assert slowest < 0.2, f"slowest /healthz or /metrics: {slowest:.3f} s"
        assert [f.result().status_code for f in busy] == [200] * 4


def test_deep_json_is_400_before_the_function_and_the_worker_lives(serve):
    server = serve(PID, env={"KUBELESS_WORKERS_MIN": "1", "KUBELESS_WORKERS_MAX": "1"})
    pid = server.get("/").text
    deep = "[" * 100_000 + "]" * 100_000
    answer = server.post("/", data=deep, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and "512" in answer.text
    assert server.post("/", data="[" * 513 + "]" * 513,
                       headers={"Content-Type": "application/json"}).status_code == 400
    ok = server.post("/", data=json.dumps([[[["fine"]]]]),
                     headers={"Content-Type": "application/json"})
    assert ok.status_code == 200
    assert server.get("/").text == pid, "the worker survived"
    assert server.metric("function_calls_total", "POST") == 1


def test_sigterm_stops_accepting_finishes_calls_and_exits_within_the_grace_period(serve):
    server = serve(PID, env={"KUBELESS_GRACE_PERIOD": "2", "FUNC_TIMEOUT": "30"})
    results = {}

    def call(name, seconds):
        try:
            results[name] = server.get("/", params={"sleep": seconds}, timeout=20).status_code
        except requests.RequestException as exc:
            results[name] = exc

    threads = [threading.Thread(target=call, args=("long", "15")),
               threading.Thread(target=call, args=("short", "0.7"))]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    server.process.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    time.sleep(0.1)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
    assert server.process.wait(10) == 0
    exited = time.monotonic() - sent
    for thread in threads:
        thread.join(10)
    assert results == {"long": 503, "short": 200}
    assert exited < 2.0, f"exited {exited:.2f} s after SIGTERM with a 2-s grace period"


def test_rejected_requests_are_logged_like_any_other(serve):
    server = serve(PID)
    exchange(server.port, b"GET /nohost HTTP/1.1\r\n\r\n")
    exchange(server.port, b"FOO / HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.5)
    lines = server.stdout().splitlines()
    assert any('"GET /nohost HTTP/1.1" 400' in line for line in lines), lines
    assert any('"- - HTTP/1.1" 501' in line for line in lines), lines

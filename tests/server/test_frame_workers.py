"""The server fronting a worker in another language (KUBELESS_WORKER_COMMAND, WORKER_PROTOCOL.md).

The worker is tests/server/frame_worker.py: Python, but speaking only the documented frames.
"""

import shlex
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .conftest import start_server

WORKER = f"{shlex.quote(sys.executable)} {Path(__file__).with_name('frame_worker.py')}"


@pytest.fixture
def frames(tmp_path):
    servers = []

    def factory(module="fn", **env):
        env = {"KUBELESS_WORKER_COMMAND": WORKER, "FUNC_NAME": "hello", **env}
        server = start_server(tmp_path, "", module=module, env=env)
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.stop()


def test_call_event_context_and_reply(frames):
    server = frames()
    answer = server.request("PUT", "/a/b?x=1", data=b"\x00\xffdata",
                            headers={"Event-Id": "id-1", "Event-Type": "t"})
    assert answer.status_code == 201, answer.text
    assert answer.headers["X-Worker"] == "frames"
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    seen = answer.json()
    assert (seen["method"], seen["path"], seen["query"]) == ("PUT", "/a/b", "x=1")
    assert seen["body"] == "\x00\xffdata"
    assert seen["event"] == {"event-id": "id-1", "event-type": "t", "event-time": None,
                             "event-namespace": None}
    assert seen["context"] == {"function-name": "handler", "timeout": "5",
                               "runtime": "python3.11", "memory-limit": "128Mi"}
    assert ["event-id", "id-1"] in seen["headers"]
    assert server.request("OPTIONS", "/").status_code == 204
    assert server.post(data=b"x" * (1024 * 1024 + 1)).status_code == 413
    server.stop()  # the request log is flushed in batches; at the latest on exit
    assert 'PUT /a/b?x=1 HTTP/1.1" 201' in server.stdout()


def test_errors_crashes_and_bad_requests(frames):
    server = frames()
    answer = server.post(data=b"raise")
    assert answer.status_code == 500 and "RuntimeError" in answer.text
    assert "Traceback: asked to raise" in server.stderr()
    assert server.post(data=b"bad").status_code == 400
    crashed = server.post(data=b"exit")
    assert crashed.status_code == 500 and "exited with code 3" in crashed.text
    assert server.get().status_code == 201
    assert server.metric("function_failures_total", "POST") == 2
    assert server.metric("function_calls_total", "POST") == 2  # a 400 never reached it


def test_hard_timeout_kills_only_that_worker(frames):
    server = frames(FUNC_TIMEOUT="1")
    started = time.monotonic()
    assert server.post(data=b"sleep3").status_code == 408
    assert time.monotonic() - started < 2.5
    assert server.get().status_code == 201
    time.sleep(2.5)
    assert "slept" not in server.stdout()


def test_calls_run_in_parallel_and_healthz_answers(frames):
    server = frames(KUBELESS_WORKERS_MIN="2", KUBELESS_WORKERS_MAX="8")
    with ThreadPoolExecutor(8) as pool:
        started = time.monotonic()
        calls = [pool.submit(server.post, data=b"sleep1") for _ in range(8)]
        assert server.get("/healthz").status_code == 200
        assert all(call.result().status_code == 201 for call in calls)
    assert time.monotonic() - started < 3.5
    assert len({call.result().json()["pid"] for call in calls}) == 8


def test_load_error_stops_start_up_with_the_workers_text(tmp_path):
    server = start_server(tmp_path, "", module="broken", wait=False,
                          env={"KUBELESS_WORKER_COMMAND": WORKER})
    assert server.process.wait(20) != 0
    message = (tmp_path / "termination-log").read_text()
    assert "broken.x line 3: broken on purpose" in message


def test_missing_worker_command_is_a_clear_load_error(tmp_path):
    server = start_server(tmp_path, "", wait=False,
                          env={"KUBELESS_WORKER_COMMAND": "/nonexistent/worker --x"})
    assert server.process.wait(20) != 0
    assert "KUBELESS_WORKER_COMMAND" in (tmp_path / "termination-log").read_text()


def test_sigterm_lets_a_running_call_finish(frames):
    server = frames()
    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(server.post, data=b"sleep1")
        time.sleep(0.3)
        server.process.send_signal(signal.SIGTERM)
        assert call.result().status_code == 201
    assert server.process.wait(10) == 0


def test_worker_maximum_fits_the_memory_limit(monkeypatch, tmp_path):
    from kubeless_runtime.runtime import frames
    from kubeless_runtime.runtime.config import from_env
    from kubeless_runtime.runtime.pool import WorkerPool

    monkeypatch.setattr(frames, "cgroup_memory_limit", lambda: 128 * 2**20)
    monkeypatch.setattr(frames, "private_memory", lambda pid: 16 * 10**6)
    pool = WorkerPool(from_env({"KUBELESS_WORKER_COMMAND": WORKER, "MOD_NAME": "fn",
                                "FUNC_HANDLER": "handler", "KUBELESS_INSTALL_VOLUME": str(tmp_path),
                                "KUBELESS_WORKERS_MAX": "10"}))
    pool.start()
    try:
        assert pool.workers_max == 4  # (0.85 * 128 MiB - 16 MB) / (1.25 * 16 MB)
        assert pool.workers_min == 2
    finally:
        pool.abandon()

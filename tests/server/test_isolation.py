"""Hard timeouts, crashes, parallelism, preloading, start-up errors and SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from .conftest import free_port, start_server

SLOW = """
import os, time

def handler(event, context):
    req = event['extensions']['request']
    seconds = float(req.query.get('sleep', '0'))
    marker = req.query.get('marker')
    time.sleep(seconds)
    if marker:
        open(marker, 'w').write('ran past the deadline')
    if req.query.get('exit'):
        os._exit(3)
    if req.query.get('segv'):
        import ctypes
        ctypes.string_at(0)
    if req.query.get('spin'):
        while True:
            pass
    return 'slept %s' % seconds
"""


def test_timeout_is_408_and_the_function_is_really_stopped(serve, tmp_path):
    server = serve(SLOW, env={"FUNC_TIMEOUT": "1"})
    marker = tmp_path / "side-effect"
    started = time.monotonic()
    answer = server.get("/", params={"sleep": "2", "marker": str(marker)})
    assert answer.status_code == 408
    assert time.monotonic() - started < 1.9
    assert "FUNC_TIMEOUT" in answer.text
    time.sleep(2)
    assert not marker.exists(), "the function kept running after its 408"
    assert server.get("/").text == "slept 0.0"
    assert server.metric("function_failures_total", "GET") == 1


def test_busy_loop_is_stopped_too(serve):
    server = serve(SLOW, env={"FUNC_TIMEOUT": "0.5"})
    assert server.get("/", params={"spin": "1"}).status_code == 408
    assert server.get("/").status_code == 200


def test_crashes_give_500_and_the_next_call_succeeds(serve):
    server = serve(SLOW)
    crashed = server.get("/", params={"exit": "1"})
    assert crashed.status_code == 500
    assert "exited with code 3" in crashed.text
    segv = server.get("/", params={"segv": "1"})
    assert segv.status_code == 500
    assert "SIGSEGV" in segv.text
    assert server.get("/").text == "slept 0.0"
    assert server.metric("function_failures_total", "GET") == 2


def test_out_of_memory_kills_only_that_worker(serve):
    server = serve("""
import resource

def handler(event, context):
    if event['extensions']['request'].query.get('hog'):
        resource.setrlimit(resource.RLIMIT_AS, (256 * 1024 * 1024, 256 * 1024 * 1024))
        hog = bytearray(512 * 1024 * 1024)
        return str(len(hog))
    return 'alive'
""")
    hog = server.get("/", params={"hog": "1"})
    assert hog.status_code == 500
    assert "MemoryError" in hog.text
    assert server.get("/").text == "alive"


def test_one_worker_dying_does_not_touch_calls_in_other_workers(serve, tmp_path):
    server = serve(SLOW, env={"FUNC_TIMEOUT": "1.5"})
    with ThreadPoolExecutor(4) as pool:
        survivors = [pool.submit(server.get, "/", params={"sleep": "1"}) for _ in range(2)]
        time.sleep(0.2)
        crash = pool.submit(server.get, "/", params={"exit": "1"})
        hang = pool.submit(server.get, "/", params={"sleep": "5"})
        assert crash.result().status_code == 500
        assert [f.result().text for f in survivors] == ["slept 1.0", "slept 1.0"]
        assert hang.result().status_code == 408


def test_eight_one_second_calls_run_in_parallel(serve):
    server = serve(SLOW)
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: server.get("/", params={"sleep": "1"}), range(8)))
    elapsed = time.monotonic() - started
    assert [a.text for a in answers] == ["slept 1.0"] * 8
    assert elapsed < 2.0, f"8 parallel 1-s calls took {elapsed:.2f} s"


def test_module_level_code_runs_once_per_worker(serve, tmp_path):
    loads = tmp_path / "loads"
    server = serve(f"""
open({str(loads)!r}, 'a').write('loaded\\n')
MODEL = {{'weights': 42}}

def handler(event, context):
    return str(MODEL['weights'])
""", env={"KUBELESS_WORKERS_MIN": "1", "KUBELESS_WORKERS_MAX": "1"})
    for _ in range(5):
        assert server.get("/").text == "42"
    assert loads.read_text().count("loaded") == 1


def _start_failure(tmp_path, source, handler="handler", module="func"):
    server = start_server(tmp_path, source, handler=handler, module=module, wait=False)
    code = server.process.wait(30)
    termination = tmp_path / "termination-log"
    return code, server.stderr(), termination.read_text() if termination.exists() else ""


def test_syntax_error_stops_startup_with_file_and_line(tmp_path):
    code, err, termination = _start_failure(tmp_path, "def handler(event, context)\n    return 1\n")
    assert code != 0
    assert "Syntax error" in err and "func.py, line 1" in err
    assert "Syntax error" in termination and "func.py, line 1" in termination


def test_missing_handler_names_what_the_module_defines(tmp_path):
    code, err, _ = _start_failure(tmp_path, "def other(event, context):\n    return 1\n")
    assert code != 0
    assert "no function 'handler'" in err and "other" in err


def test_failing_import_names_the_dependency(tmp_path):
    code, err, _ = _start_failure(tmp_path, "import not_a_real_module_xyz\n"
                                            "def handler(event, context):\n    return 1\n")
    assert code != 0
    assert "not_a_real_module_xyz" in err and "requirements.txt" in err and "line 1" in err


def test_missing_module_lists_the_folder(tmp_path):
    server = start_server(tmp_path, "def handler(e, c):\n    return 1\n", module="present",
                          env={"MOD_NAME": "absent"}, wait=False)
    assert server.process.wait(30) != 0
    err = server.stderr()
    assert "absent.py does not exist" in err and "present.py" in err and "MOD_NAME" in err


def test_not_callable_handler(tmp_path):
    code, err, _ = _start_failure(tmp_path, "handler = 42\n")
    assert code != 0
    assert "'handler' is a int, not a function" in err


def test_sigterm_finishes_in_flight_calls_and_exits_0(serve):
    server = serve(SLOW)
    with ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(server.get, "/", params={"sleep": "1"})
        time.sleep(0.3)
        server.process.send_signal(signal.SIGTERM)
        assert in_flight.result().text == "slept 1.0"
    assert server.process.wait(15) == 0


def test_cli_serve_from_file(tmp_path):
    port = free_port()
    example = Path(__file__).resolve().parents[2] / "examples" / "python" / "helloget.py"
    process = subprocess.Popen([sys.executable, "-m", "kubeless_runtime", "serve",
                                "--from-file", str(example),
                                "--handler", "helloget.foo", "--port", str(port),
                                "--timeout", "3"], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        assert answer.text == "hello world"
    finally:
        process.terminate()
        assert process.wait(15) == 0


def test_cli_serve_installs_dependencies_into_a_private_folder(tmp_path):
    """`--dependencies` pip-installs into a cache folder that only the function sees."""
    function = tmp_path / "withdeps.py"
    function.write_text("import yaml\n\ndef handler(event, context):\n"
                        "    return {'file': yaml.__file__, 'parsed': yaml.safe_load('a: 1')}\n")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("PyYAML\n")
    port = free_port()
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    process = subprocess.Popen([sys.executable, "-m", "kubeless_runtime", "serve",
                                "--from-file", str(function), "--handler", "withdeps.handler",
                                "--dependencies", str(requirements), "--port", str(port)],
                               env=env, stderr=subprocess.PIPE, text=True)
    try:
        answer = None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and process.poll() is None:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/", timeout=5).json()
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        assert answer is not None, process.stderr.read() if process.poll() is not None else ""
        assert answer["parsed"] == {"a": 1}
        assert answer["file"].startswith(str(tmp_path / "cache" / "kubeless-runtime" / "deps"))
    finally:
        process.terminate()
        assert process.wait(15) == 0

"""The worker pool in-process, on an event loop: growth on demand, shrinking when idle, healing."""

import asyncio
import time

import pytest

from kubeless_runtime.runtime.config import from_env
from kubeless_runtime.runtime.event import Invocation
from kubeless_runtime.runtime.loader import FunctionLoadError
from kubeless_runtime.runtime.pool import WorkerPool
from kubeless_runtime.runtime.worker import CRASH, OK, TIMEOUT

SOURCE = """
import os, time

def handler(event, context):
    cmd = event['data']
    if cmd == b'exit':
        os._exit(1)
    if cmd.startswith(b'sleep'):
        time.sleep(float(cmd[5:]))
    return str(os.getpid())
"""


async def acall(pool, data=b""):
    return await pool.invoke(Invocation(environ={"REQUEST_METHOD": "POST", "PATH_INFO": "/"},
                                        body=data, event_headers={}))


@pytest.fixture
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture
def make_pool(tmp_path, loop):
    pools = []

    def factory(source=SOURCE, **env):
        (tmp_path / "fn.py").write_text(source)
        values = {"MOD_NAME": "fn", "FUNC_HANDLER": "handler",
                  "KUBELESS_INSTALL_VOLUME": str(tmp_path), "FUNC_TIMEOUT": "5"}
        values.update(env)
        pool = WorkerPool(from_env(values))
        pools.append(pool)
        pool.start()
        pool.attach(loop)
        return pool

    yield factory
    for pool in pools:
        if pool.loop is not None:
            loop.run_until_complete(pool.close(0))
        pool.shutdown_blocking()


def call(pool, data=b""):
    return pool.loop.run_until_complete(acall(pool, data))


def parallel(pool, data, n):
    async def run():
        return await asyncio.gather(*(acall(pool, data) for _ in range(n)))
    return pool.loop.run_until_complete(run())


def wait(pool, seconds):
    pool.loop.run_until_complete(asyncio.sleep(seconds))


def test_grows_on_demand_and_shrinks_to_the_warm_minimum(make_pool):
    pool = make_pool(KUBELESS_WORKERS_MIN="1", KUBELESS_WORKERS_MAX="4",
                     KUBELESS_WORKER_IDLE="0.5")
    assert pool.size == 1
    outcomes = parallel(pool, b"sleep1.5", 4)
    assert [o.kind for o in outcomes] == [OK] * 4, [o.detail for o in outcomes]
    assert len({o.reply.body for o in outcomes}) == 4, "four calls ran in four workers"
    deadline = time.monotonic() + 20
    while pool.size > 1 and time.monotonic() < deadline:
        wait(pool, 0.1)
    assert pool.size == 1, f"{pool.size} workers left after 20 s"


def test_never_exceeds_the_maximum(make_pool):
    pool = make_pool(KUBELESS_WORKERS_MIN="1", KUBELESS_WORKERS_MAX="2")
    outcomes = parallel(pool, b"sleep0.2", 6)
    assert {o.kind for o in outcomes} == {OK}
    assert len({o.reply.body for o in outcomes}) <= 2
    assert pool.size <= 2


def test_replaces_crashed_and_timed_out_workers(make_pool):
    pool = make_pool(KUBELESS_WORKERS_MIN="1", KUBELESS_WORKERS_MAX="1", FUNC_TIMEOUT="0.5")
    first = call(pool).reply.body
    assert call(pool, b"exit").kind == CRASH
    second = call(pool).reply.body
    assert second != first
    assert call(pool, b"sleep3").kind == TIMEOUT
    third = call(pool)
    assert third.kind == OK and third.reply.body not in (first, second)
    assert pool.size == 1


def test_a_worker_that_died_while_idle_is_replaced_without_failing_the_call(make_pool):
    import os
    import signal

    pool = make_pool(KUBELESS_WORKERS_MIN="1", KUBELESS_WORKERS_MAX="1")
    pid = int(call(pool).reply.body)
    os.kill(pid, signal.SIGKILL)
    wait(pool, 0.2)
    outcome = call(pool)
    assert outcome.kind == OK and int(outcome.reply.body) != pid


def test_at_most_threads_calls_run_at_once(make_pool):
    pool = make_pool(KUBELESS_WORKERS_MIN="1", KUBELESS_WORKERS_MAX="4", CHERRYPY_NUMTHREADS="2")
    started = time.monotonic()
    outcomes = parallel(pool, b"sleep0.5", 4)
    assert {o.kind for o in outcomes} == {OK}
    assert time.monotonic() - started >= 0.95, "CHERRYPY_NUMTHREADS=2 lets two calls run at once"
    assert pool.size <= 2


def test_close_answers_calls_still_running_at_the_deadline(make_pool):
    from kubeless_runtime.runtime.pool import PoolClosed

    pool = make_pool(KUBELESS_WORKERS_MIN="1", KUBELESS_WORKERS_MAX="2")

    async def run():
        slow = asyncio.ensure_future(acall(pool, b"sleep5"))
        quick = asyncio.ensure_future(acall(pool, b"sleep0.2"))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        await pool.close(1.0)
        assert time.monotonic() - started < 1.5
        assert (await quick).kind == OK
        with pytest.raises(PoolClosed):
            await slow
        with pytest.raises(PoolClosed):
            await acall(pool)
    pool.loop.run_until_complete(run())


def test_start_raises_the_load_error(make_pool):
    with pytest.raises(FunctionLoadError, match="Syntax error"):
        make_pool("def handler(:\n")


def test_workers_are_the_oom_killers_first_choice(make_pool):
    pool = make_pool("def handler(event, context):\n"
                     "    return open('/proc/self/oom_score_adj').read().strip()\n",
                     KUBELESS_WORKERS_MIN="1")
    assert call(pool).reply.body == b"500"


def test_workers_run_as_batch_tasks_so_they_never_preempt_the_server(make_pool):
    pool = make_pool("import os\n\ndef handler(event, context):\n"
                     "    return str(os.sched_getscheduler(0))\n", KUBELESS_WORKERS_MIN="1")
    import os

    assert int(call(pool).reply.body) == os.SCHED_BATCH



EMBED = """
import sys
from kubeless_runtime.runtime.config import from_env
from kubeless_runtime.runtime.pool import WorkerPool


def main():
    pool = WorkerPool(from_env({"MOD_NAME": "fn", "FUNC_HANDLER": "handler",
                                "KUBELESS_INSTALL_VOLUME": sys.argv[1]}))
    try:
        pool.start()
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}")
        sys.exit(3)
    print("started")
    pool.abandon()


"""


@pytest.mark.parametrize("guarded", [False, True])
def test_a_pool_embedded_without_a_main_guard_says_so(tmp_path, guarded):
    import subprocess
    import sys

    (tmp_path / "fn.py").write_text(SOURCE)
    script = tmp_path / "embed.py"
    start = "if __name__ == '__main__':\n    main()\n" if guarded else "main()\n"
    script.write_text(EMBED + start)
    done = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True,
                          text=True, timeout=60)
    if guarded:
        assert done.stdout.strip() == "started", done.stdout + done.stderr
        return
    assert done.returncode == 3, done.stdout + done.stderr
    assert "EmbeddedWithoutMainGuardError" in done.stdout
    assert "if __name__ == '__main__'" in done.stdout
    assert "module-level code of the function" not in done.stdout


def test_a_worker_that_cannot_be_started_is_not_the_functions_fault(tmp_path, monkeypatch, loop):
    from kubeless_runtime.runtime import pool as pool_module

    (tmp_path / "fn.py").write_text(SOURCE)
    pool = WorkerPool(from_env({"MOD_NAME": "fn", "FUNC_HANDLER": "handler",
                                "KUBELESS_INSTALL_VOLUME": str(tmp_path),
                                "KUBELESS_WORKERS_MIN": "1", "KUBELESS_WORKERS_MAX": "2"}))
    pool.start()
    pool.attach(loop)

    def no_more_files():
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(pool_module.socket, "socketpair", no_more_files)

    async def two_calls():
        return await asyncio.gather(acall(pool, b"sleep0.3"), acall(pool, b"sleep0.3"))

    try:
        outcomes = loop.run_until_complete(two_calls())
        assert sorted(outcome.kind for outcome in outcomes) == [CRASH, OK], outcomes
        crash = next(o for o in outcomes if o.kind == CRASH)
        assert "worker-start" in crash.detail and "load the function" not in crash.detail
    finally:
        loop.run_until_complete(pool.close(0))

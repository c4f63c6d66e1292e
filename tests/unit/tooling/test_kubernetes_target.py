"""target.py's failure reporting without a cluster: pod statuses as the API returns them."""

from __future__ import annotations

import time
from types import SimpleNamespace as NS

import pytest

from kubeless_runtime.tooling.deploy import DeployError
from kubeless_runtime.tooling.kubernetes.target import _Waiter


def status(name, *, terminated=None, last=None, waiting=None, running=False, ready=False):
    return NS(name=name, image=f"img/{name}", ready=ready, restart_count=0,
              state=NS(terminated=terminated, waiting=waiting,
                       running=NS() if running else None),
              last_state=NS(terminated=last, waiting=None, running=None))


def pod(init=(), containers=()):
    return NS(metadata=NS(name="fn-abc", deletion_timestamp=None),
              status=NS(init_container_statuses=list(init),
                        container_statuses=list(containers)))


class FakeCluster:
    def __init__(self, pods, logs="line 1\nline 2\n"):
        self._pods, self._logs, self.asked = pods, logs, []

    def pods(self, name):
        return self._pods

    def logs(self, pod, container, tail=None, previous=False):
        self.asked.append((container, previous))
        return self._logs


def wait(cluster, seconds=0.0):
    return _Waiter(cluster, "fn", 900, lambda line: None).wait_ready(time.monotonic() + seconds)


def test_failed_init_container_reports_its_phase_and_termination_message():
    failed = NS(exit_code=1, message="pip install -r /kubeless/requirements.txt failed (exit 1):",
                reason="Error")
    cluster = FakeCluster([pod(init=[status("prepare", running=False),
                                     status("installation", last=failed)])])
    with pytest.raises(DeployError) as info:
        wait(cluster)
    assert info.value.phase == "installation"
    assert info.value.code == "deploy-phase-failed"
    assert "exit code 1: pip install -r /kubeless/requirements.txt failed" in str(info.value)
    assert "line 2" in info.value.log_tail
    assert cluster.asked == [("installation", False)]


def test_empty_termination_message_falls_back_to_the_logs():
    failed = NS(exit_code=2, message="", reason="Error")
    cluster = FakeCluster([pod(init=[status("compilation", terminated=failed)])],
                          logs="main.go:3: syntax error\n")
    with pytest.raises(DeployError) as info:
        wait(cluster)
    assert info.value.phase == "compilation"
    assert "main.go:3: syntax error" in info.value.termination_message


def test_crashing_runtime_reads_the_previous_logs():
    failed = NS(exit_code=137, message="", reason="OOMKilled")
    cluster = FakeCluster([pod(containers=[status("fn", last=failed)])])
    with pytest.raises(DeployError) as info:
        wait(cluster)
    assert info.value.phase == "runtime" and "OOMKilled" in str(info.value)
    assert cluster.asked == [("fn", True)]


def test_missing_image_names_the_reason():
    waiting = NS(reason="ErrImageNeverPull", message="image x not present")
    cluster = FakeCluster([pod(init=[status("prepare", waiting=waiting)])])
    with pytest.raises(DeployError, match="ErrImageNeverPull"):
        wait(cluster)


def test_ready_pod_is_returned_and_a_slow_one_times_out():
    ready = pod(init=[status("prepare", terminated=NS(exit_code=0, message="", reason=""))],
                containers=[status("fn", running=True, ready=True)])
    assert wait(FakeCluster([ready])) is ready
    slow = pod(containers=[status("fn", running=True, ready=False)])
    with pytest.raises(DeployError, match="not ready"):
        wait(FakeCluster([slow]), seconds=0.0)

"""Conformance verdicts that must match what Kubeless's own images really do: the context's
function-name, metrics of methods an image refuses, other method label values, level custom
with only an image, and healthz-parallel on a loaded machine."""

from __future__ import annotations

import dataclasses
import json
import threading
from typing import Any, Dict, List

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from kubeless_runtime.cli import main
from kubeless_runtime.conformance import cases as cases_mod
from kubeless_runtime.conformance import httpclient
from kubeless_runtime.conformance.cases import Failed
from kubeless_runtime.conformance.cases import server as server_cases
from kubeless_runtime.conformance.runner import Target, resolve_target
from kubeless_runtime.tooling.catalog import load_catalog


class Ctx:
    """Just enough of CaseContext: canned answers to commands and calls."""

    def __init__(self, runtime: str = "python3.11") -> None:
        self.target = resolve_target(Target(runtime, "img", level="full"), load_catalog())
        self.memos: Dict[str, Any] = {}
        self.answers: Dict[str, Any] = {}

    def deployment_name(self) -> str:
        return "kc-1a2b3c-main"

    def token(self) -> str:
        return "feedbeef"

    def memo(self, name: str, compute: Any) -> Any:
        if name not in self.memos:
            self.memos[name] = compute()
        return self.memos[name]

    def command(self, name: str, **fields: Any) -> httpclient.Response:
        return self.answers[name](fields)


# --- context: function-name is the handler's name, as Kubeless gives it ------------------------

def context_ctx(function_name: str) -> Ctx:
    ctx = Ctx()
    body = {"context": {"function-name": function_name, "timeout": "30",
                        "runtime": "python3.11", "memory-limit": "256Mi"}}
    ctx.answers["context"] = lambda _: httpclient.Response(200, json.dumps(body).encode())
    return ctx


def test_context_expects_the_handlers_name_as_kubeless_gives():
    check = cases_mod.get_case("context").check
    handler = context_ctx("x").target.functions.handler.rpartition(".")[2]
    assert check(context_ctx(handler)) == "all four as deployed"
    with pytest.raises(Failed, match="the deployment's name; Kubeless gives the handler's"):
        check(context_ctx("kc-1a2b3c-main"))


# --- metrics: count what the image accepted, say which label values it used --------------------

class MetricsCtx(Ctx):
    """An image whose /metrics counts calls under ``label(method)``; ``refuse`` methods get 405."""

    def __init__(self, refuse=(), label=lambda method: method, count_refused=False) -> None:
        super().__init__()
        self.registry = CollectorRegistry()
        self.calls = Counter("function_calls", "c", ["method"], registry=self.registry)
        self.failures = Counter("function_failures", "f", ["method"], registry=self.registry)
        self.duration = Histogram("function_duration_seconds", "d", ["method"],
                                  registry=self.registry)
        self.refuse, self.label, self.count_refused = set(refuse), label, count_refused

    def _answer(self, method: str, failed: bool) -> httpclient.Response:
        refused = method in self.refuse
        if not refused or self.count_refused:
            label = self.label(method)
            self.calls.labels(label).inc()
            self.duration.labels(label).observe(0.01)
            if failed:
                self.failures.labels(label).inc()
        return httpclient.Response(405 if refused else 500 if failed else 200)

    def command(self, name: str, **fields: Any) -> httpclient.Response:
        return self._answer(fields.get("method", "POST"), name == "raise")

    def call(self, method: str = "GET", path: str = "/", **_: Any) -> httpclient.Response:
        if path == "/metrics":
            return httpclient.Response(200, generate_latest(self.registry))
        return self._answer(method, False)


METRIC_CASES = ("metrics-calls", "metrics-failures", "metrics-duration")


@pytest.mark.parametrize("case", METRIC_CASES)
def test_a_method_answered_405_is_not_charged(case):
    ctx = MetricsCtx(refuse={"PUT"})  # Kubeless's Python runtime does not route PUT
    note = cases_mod.get_case(case).check(ctx)
    assert "PUT" not in note.split("(")[0] and "not counted: 1 PUT answered 405" in note
    assert note.startswith("counted GET: +")


def test_an_accepted_method_must_still_be_counted():
    ctx = MetricsCtx(refuse={"PUT"}, count_refused=False)
    ctx.label = lambda method: "GET" if method == "POST" else method  # miscounts POST
    with pytest.raises(Failed, match="grew by"):
        cases_mod.get_case("metrics-calls").check(ctx)


def test_other_method_label_values_are_named():
    ctx = MetricsCtx(label=lambda method: f"probe-{method}")  # Kubeless's Node image
    with pytest.raises(Failed) as info:
        cases_mod.get_case("metrics-calls").check(ctx)
    got = info.value.got
    assert "grew by GET: 0" in got
    assert "method label values seen: probe-GET: +3, probe-POST: +3, probe-PUT: +1" in got


def test_every_call_refused_is_a_failure_not_a_vacuous_pass():
    with pytest.raises(Failed, match="answered 405/501"):
        cases_mod.get_case("metrics-calls").check(MetricsCtx(refuse={"GET", "POST", "PUT"}))


# --- level custom needs only --image -------------------------------------------------------------

def test_level_custom_needs_only_the_image(monkeypatch, capsys):
    from kubeless_runtime.conformance import runner as runner_mod
    from kubeless_runtime.conformance.report import Report

    seen = []

    class FakeRunner:
        def __init__(self, target, progress=None):
            seen.append(target)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

        def run(self):
            target = seen[-1]
            return Report(runtime=target.runtime, image=target.image, level=target.level,
                          init_image=None, hard_timeouts_claimed=False, started=0.0,
                          seconds=0.0, notes=[], results=[])

    monkeypatch.setattr(runner_mod, "Runner", FakeRunner)
    assert main(["conformance", "--image", "bitnami/tomcat:9.0", "--level", "custom", "-q"]) == 0
    assert seen[0].runtime == "custom" and seen[0].image == "bitnami/tomcat:9.0"
    assert main(["conformance", "--image", "img"]) == 2  # level function needs the runtime
    assert "a custom image needs only --image with --level custom" in capsys.readouterr().err


# --- healthz-parallel: robust to a loaded machine, not to a listen backlog of 5 ------------------

class HealthCtx(Ctx):
    """Each round is 3 lone /healthz calls, then HEALTHZ_PARALLEL parallel ones."""

    def __init__(self, rounds: List[Any]) -> None:
        super().__init__()
        self.target = dataclasses.replace(self.target, probe_timeout=1.0)  # Kubernetes' default
        self.rounds = rounds  # per round: (lone seconds, [parallel answers as seconds or Response])
        self.lock = threading.Lock()
        self.count = 0

    def call(self, method: str = "GET", path: str = "/", **_: Any) -> httpclient.Response:
        per_round = 3 + server_cases.HEALTHZ_PARALLEL
        with self.lock:
            n, self.count = self.count, self.count + 1
        lone, answers = self.rounds[min(n // per_round, len(self.rounds) - 1)]
        position = n % per_round
        if position < 3:
            return httpclient.Response(200, b"OK", seconds=lone)
        answer = answers[(position - 3) % len(answers)]
        if isinstance(answer, httpclient.Response):
            return answer
        return httpclient.Response(200, b"OK", seconds=answer)


def backlog_of_5() -> List[float]:
    """Latencies a listen backlog of 5 gave 50 simultaneous connections here (measured): the
    kernel drops what it cannot queue, the clients retry after 1 s, then 2 s more."""
    return [0.005 + 0.001 * i for i in range(20)] + [1.02 + 0.01 * i for i in range(27)] + \
        [2.047] * 3


@pytest.fixture
def healthz(monkeypatch):
    monkeypatch.setattr(server_cases, "HEALTHZ_BACKOFF", (0.0, 0.0))
    return cases_mod.get_case("healthz-parallel").check


def test_healthz_parallel_allows_a_loaded_machine(healthz):
    # probe timeout 1 s; a slow machine answers one after another, up to 1.5 s
    note = healthz(HealthCtx([(0.4, [0.03 * i for i in range(1, 51)])]))
    assert "a lone /healthz took 0.400 s on this loaded machine" in note


def test_healthz_parallel_retries_a_passing_spike(healthz):
    note = healthz(HealthCtx([(0.02, [0.1] * 45 + [2.5] * 5), (0.02, [0.05] * 50)]))
    assert "in round 2; before: round 1: 5 slower than 1.00 s" in note


@pytest.mark.parametrize("lone", [0.002, 0.6])
def test_healthz_parallel_fails_a_listen_backlog_of_5_idle_or_loaded(healthz, lone):
    # the slowest answer (2.05 s) is within the Python catalog's probe timeout (3 s) and, on a
    # loaded machine, within 4 x a lone /healthz: only the silent pause gives it away
    ctx = HealthCtx([(lone, backlog_of_5())])
    ctx.target = dataclasses.replace(ctx.target, probe_timeout=3.0)
    with pytest.raises(Failed) as info:
        healthz(ctx)
    assert "round 3" in info.value.got and "listen backlog overflows" in info.value.got
    assert ctx.count == 3 * (3 + server_cases.HEALTHZ_PARALLEL), "bounded: three rounds"


def test_healthz_parallel_fails_at_once_on_a_reset_connection(healthz):
    reset = httpclient.Response(0, error="the connection was reset", seconds=0.01)
    ctx = HealthCtx([(0.01, [0.02] * 49 + [reset])])
    with pytest.raises(Failed) as info:
        healthz(ctx)
    assert "1 connections refused, reset or unanswered" in info.value.got
    assert ctx.count == 3 + server_cases.HEALTHZ_PARALLEL, "no retry for a dropped connection"

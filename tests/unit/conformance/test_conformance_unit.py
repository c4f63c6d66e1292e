"""The conformance suite without a Docker engine: reports, metrics deltas, case selection,
claims, the conformance functions, the HTTP client and the pytest/CLI wiring."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from kubeless_runtime.cli import main
from kubeless_runtime.conformance import cases as cases_mod
from kubeless_runtime.conformance import httpclient, model
from kubeless_runtime.conformance.cases import (
    CASES,
    LEVELS,
    Failed,
    Soft,
    UnknownCaseError,
    UnknownLevelError,
    operations,
    select_cases,
    timeouts,
)
from kubeless_runtime.conformance.function_sets import (
    FUNCTIONS_DIR,
    GREETING,
    CompileErrorSpec,
    FunctionSetError,
    language_of,
    languages,
    load_function_set,
)
from kubeless_runtime.conformance.promtext import (
    ExpositionError,
    check_deltas,
    missing_method_label,
    parse,
    similar_names,
)
from kubeless_runtime.conformance.report import (
    ERROR,
    FAIL,
    JSON_SCHEMA,
    PASS,
    SKIP,
    SOFT,
    CaseResult,
    Report,
    format_table,
    to_dict,
    to_junit_xml,
    write_json,
    write_junit,
)
from kubeless_runtime.conformance.runner import Target, catalog_hard_timeouts, resolve_target
from kubeless_runtime.tooling.catalog import load_catalog

# --- reports ------------------------------------------------------------------------------

def sample_report() -> Report:
    return Report(runtime="python3.11", image="myorg/python:1.2", level="full",
                  init_image="myorg/python-init:1.2", hard_timeouts_claimed=True,
                  started=1_700_000_000.0, seconds=12.5, notes=["hard timeouts: catalog"],
                  results=[
                      CaseResult("healthz", "custom", "/healthz answers", PASS, 0.01,
                                 detail="3 x 200"),
                      CaseResult("exception", "function", "an exception gives 500", FAIL, 0.3,
                                 expected="500, then 200", got="no HTTP answer <&>",
                                 clause='Exceptions "should" be caught',
                                 reference="Kubeless docs/implementing-new-runtime.md 2",
                                 fix="catch every exception"),
                      CaseResult("timeout-hard", "full", "stopped", SOFT, 4.0,
                                 detail="does not stop the function", expected="nothing",
                                 got="done marker"),
                      CaseResult("compile-error", "full", "compile", SKIP, 0.0,
                                 detail="python3.11 has no compilation phase"),
                      CaseResult("dependencies", "full", "deps", ERROR, 1.0,
                                 detail="could not run: installation image missing"),
                  ])


def test_table_shows_rows_failure_details_and_summary():
    text = format_table(sample_report(), width=100)
    lines = text.splitlines()
    assert lines[0] == ("Kubeless runtime conformance of myorg/python:1.2 (runtime python3.11), "
                        "level full")
    assert lines[1:3] == ["installation image: myorg/python-init:1.2", "hard timeouts: catalog"]
    header = next(line for line in lines if line.startswith("CASE"))
    assert header.split() == ["CASE", "LEVEL", "RESULT", "SECONDS", "NOTE"]
    row = next(line for line in lines if line.startswith("exception "))
    assert row.split()[:4] == ["exception", "function", "FAIL", "0.30"]
    block = "\n".join(lines[lines.index(row) + 1:lines.index(row) + 5])
    assert "expected 500, then 200" in block and "got      no HTTP answer <&>" in block
    assert 'contract Kubeless docs/implementing-new-runtime.md 2: "Exceptions' in block
    assert "fix      catch every exception" in block
    assert any(line.split()[:3] == ["timeout-hard", "full", "soft"] for line in lines)
    assert any(line.split()[:3] == ["dependencies", "full", "ERROR"] for line in lines)
    assert lines[-1] == ("5 cases: 1 passed, 1 failed, 1 error, 1 soft, 1 skipped in 12.5 s: "
                         "DOES NOT CONFORM at level full")
    assert all(len(line) <= 100 for line in lines[1:])


def test_long_notes_are_cut_in_the_row_and_skip_reasons_shown_in_full():
    report = Report("python3.11", "img", "full", results=[
        CaseResult("compile-error", "full", "t", SKIP, detail="word " * 40)])
    lines = format_table(report, width=80).splitlines()
    row = next(line for line in lines if line.startswith("compile-error"))
    assert row.endswith("...") and len(row) <= 80
    reason = "\n".join(line for line in lines if line.startswith("    "))
    assert reason.count("word") == 40


def test_exit_code_follows_failures_not_skips_or_soft_results():
    report = sample_report()
    assert not report.ok and report.exit_code == 1
    report.results = [r for r in report.results if r.status in (PASS, SKIP, SOFT)]
    assert report.ok and report.exit_code == 0
    assert report.summary().endswith("CONFORMS at level full")


def test_junit_xml_counts_and_elements(tmp_path):
    path = write_junit(sample_report(), tmp_path / "report.xml")
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"),
            suite.get("skipped")) == ("5", "1", "1", "1")
    assert suite.get("timestamp") == "2023-11-14T22:13:20"
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["image"] == "myorg/python:1.2"
    assert properties["hard_timeouts_claimed"] == "true"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert list(cases) == ["healthz", "exception", "timeout-hard", "compile-error",
                           "dependencies"]
    assert cases["exception"].get("classname") == "conformance.function"
    failure = cases["exception"].find("failure")
    assert failure is not None
    assert failure.get("message") == "expected 500, then 200; got no HTTP answer <&>"
    assert "fix: catch every exception" in (failure.text or "")
    assert cases["compile-error"].find("skipped").get("message").startswith("python3.11 has")
    assert cases["dependencies"].find("error") is not None
    soft = cases["timeout-hard"]
    assert soft.find("failure") is None and soft.find("skipped") is None
    assert soft.find("system-out").text.startswith("SOFT (informational")
    assert cases["healthz"].find("system-out").text == "3 x 200"


def test_json_report_is_stable_and_complete(tmp_path):
    path = write_json(sample_report(), tmp_path / "report.json")
    data = json.loads(path.read_text())
    assert data == to_dict(sample_report())
    assert data["schema"] == JSON_SCHEMA
    assert data["ok"] is False
    assert data["summary"] == {"total": 5, "passed": 1, "failed": 1, "errors": 1, "soft": 1,
                               "skipped": 1}
    assert data["started"] == "2023-11-14T22:13:20+00:00"
    first = data["cases"][1]
    assert set(first) == {"case_id", "level", "title", "status", "seconds", "detail",
                          "expected", "got", "clause", "reference", "fix"}
    assert first["status"] == FAIL and first["got"] == "no HTTP answer <&>"


def test_xml_survives_control_characters_in_output():
    report = Report("r", "i", "custom", results=[
        CaseResult("healthz", "custom", "t", FAIL, got="body 'ok\\x00' \u2713")])
    ET.fromstring(to_junit_xml(report).split("\n", 1)[1])


# --- metrics parsing and deltas -----------------------------------------------------------

class Metrics:
    """A prometheus_client registry shaped like a runtime's /metrics."""

    def __init__(self, calls: str = "function_calls") -> None:
        self.registry = CollectorRegistry()
        self.calls = Counter(calls, "calls", ["method"], registry=self.registry)
        self.failures = Counter("function_failures", "failures", ["method"],
                                registry=self.registry)
        self.duration = Histogram("function_duration_seconds", "d", ["method"],
                                  registry=self.registry)

    def call(self, method: str, failed: bool = False, seconds: float = 0.01) -> None:
        self.calls.labels(method).inc()
        self.duration.labels(method).observe(seconds)
        if failed:
            self.failures.labels(method).inc()

    def text(self) -> str:
        return generate_latest(self.registry).decode()


def test_deltas_per_method_after_known_calls():
    metrics = Metrics()
    metrics.call("GET")  # before: earlier traffic must not count
    before = parse(metrics.text())
    for _ in range(3):
        metrics.call("GET")
    metrics.call("POST")
    metrics.call("POST", failed=True)
    after = parse(metrics.text())
    assert check_deltas(before, after, "function_calls_total", {"GET": 3, "POST": 2}).ok
    failures = check_deltas(before, after, "function_failures_total", {"GET": 0, "POST": 1})
    assert failures.ok and failures.describe() == "GET: 0, POST: 1"
    count = check_deltas(before, after, "function_duration_seconds_count",
                         {"get": 3, "post": 2})
    assert count.ok, "method labels compare case-insensitively"
    wrong = check_deltas(before, after, "function_calls_total", {"GET": 2, "PUT": 1})
    assert not wrong.ok and wrong.describe() == "GET: 3, PUT: 0"
    assert wrong.describe_expected() == "GET: +2, PUT: +1"
    assert after.kind("function_duration_seconds_count") == "histogram"
    assert after.kind("function_calls_total") == "counter"


def test_histogram_buckets_are_not_summed_and_missing_series_are_zero():
    metrics = Metrics()
    metrics.call("GET", seconds=0.001)
    scrape = parse(metrics.text())
    assert scrape.value("function_duration_seconds_bucket", "GET") == 1.0  # +Inf only
    assert scrape.value("function_calls_total", "DELETE") == 0.0
    assert scrape.has("function_calls_total") and not scrape.has("function_invocations_total")


def test_a_renamed_metric_is_reported_with_its_look_alike():
    metrics = Metrics(calls="function_invocations")
    metrics.call("GET")
    scrape = parse(metrics.text())
    assert not scrape.has("function_calls_total")
    near = similar_names(scrape, "function_calls_total",
                         exclude=["function_failures_total"])
    assert near[0] == "function_invocations_total"
    assert not any(name.endswith("_created") for name in near)


def test_label_name_must_be_method():
    text = ("# TYPE function_calls_total counter\n"
            'function_calls_total{verb="GET"} 1\n')
    scrape = parse(text)
    assert "no 'method' label" in missing_method_label(scrape, "function_calls_total")
    assert missing_method_label(parse(Metrics().text()), "function_calls_total") is None


@pytest.mark.parametrize("text", ["<html>not found</html>", 'x{method="GET" 1\n',
                                  "function_calls_total{method=GET} 1\n"])
def test_text_that_is_not_prometheus_exposition_is_refused(text):
    with pytest.raises(ExpositionError):
        parse(text)


# --- case selection -------------------------------------------------------------------------

def test_levels_nest_and_every_case_has_its_documentation():
    custom, function, full = (select_cases(level) for level in LEVELS)
    assert {c.id for c in custom} == {"listen-8080", "healthz", "healthz-parallel", "sigterm"}
    assert {c.id for c in custom} < {c.id for c in function} < {c.id for c in full}
    assert {c.id for c in full} == {c.id for c in CASES}
    assert len({c.id for c in CASES}) == len(CASES)
    for item in CASES:
        assert item.title and item.clause and item.reference and item.fix, item.id
        assert item.deployment in set(model.DEPLOYMENTS) | {model.SERVER}


def test_destructive_cases_run_last():
    for level in LEVELS:
        order = [c.id for c in select_cases(level)]
        assert order[-1] == "sigterm", level
        assert order[0] == "listen-8080"


def test_selecting_cases_by_id():
    assert [c.id for c in select_cases("full", ["sigterm", "healthz", "metrics-calls"])] == [
        "healthz", "metrics-calls", "sigterm"]
    with pytest.raises(UnknownCaseError, match="at level full; run with --level full"):
        select_cases("function", ["metrics-calls"])
    with pytest.raises(UnknownCaseError, match="no case 'nope'"):
        select_cases("full", ["nope"])
    with pytest.raises(UnknownLevelError, match="levels are custom, function, full"):
        select_cases("everything")


# --- targets and claims ---------------------------------------------------------------------

def test_hard_timeout_claims_come_from_the_catalog_or_the_flag():
    catalog = load_catalog()
    assert catalog_hard_timeouts(catalog, "python3.11") is True
    assert catalog_hard_timeouts(catalog, "nosuch1.0") is None
    resolved = resolve_target(Target("python3.11", "img"), catalog)
    assert resolved.hard_timeouts_claimed and "hardTimeouts=true" in resolved.claim_source
    assert resolved.init_image == catalog.runtime("python3.11").image("installation").image
    assert resolved.probe_timeout == 3.0
    assert resolved.functions is not None and resolved.functions.language == "python"
    override = resolve_target(Target("python3.11", "img", hard_timeouts=False), catalog)
    assert not override.hard_timeouts_claimed and override.claim_source == "--hard-timeouts"
    unknown = resolve_target(Target("python3.12-myorg", "img"), catalog)
    assert unknown.spec is None and not unknown.hard_timeouts_claimed
    assert unknown.functions is not None and unknown.probe_timeout == 1.0
    assert unknown.init_image is None


def test_a_language_without_functions_runs_only_level_custom():
    catalog = load_catalog()
    custom = resolve_target(Target("custom", "img", level="custom"), catalog)
    assert custom.functions is None and "no conformance functions" in custom.functions_error
    with pytest.raises(FunctionSetError, match="Run --level custom, or add a folder"):
        resolve_target(Target("custom", "img", level="function"), catalog)


@pytest.mark.parametrize("runtime, language", [
    ("python3.11", "python"), ("nodejs20", "nodejs"), ("nodejs_distroless20", "nodejs"),
    ("go1.10", "go"), ("custom", "custom")])
def test_language_of_a_runtime_name(runtime, language):
    assert language_of(runtime) == language


def test_every_language_folder_loads():
    assert {"python", "nodejs"} <= set(languages())
    for language in languages():
        functions = load_function_set(language)
        assert functions.source.is_file() and functions.module == "conformance"
        assert functions.dependencies is not None and functions.dependency_version


def test_a_broken_manifest_is_refused_with_its_file_name(tmp_path):
    (tmp_path / "lang").mkdir()
    (tmp_path / "lang" / "conformance.json").write_text('{"source": "missing.x", '
                                                        '"handler": "m.f"}')
    with pytest.raises(FunctionSetError, match="missing.x"):
        load_function_set("lang", base=tmp_path)


# --- the Python conformance function --------------------------------------------------------

@pytest.fixture
def function(tmp_path, monkeypatch) -> Any:
    spec = importlib.util.spec_from_file_location(
        "conformance_fn", FUNCTIONS_DIR / "python" / "conformance.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "MARKER_DIR", str(tmp_path))
    return module


def test_function_answers_every_kind_of_request(function):
    handler = function.handler
    context = {"function-name": "f", "timeout": "30", "runtime": "python3.11",
               "memory-limit": "256Mi"}
    assert handler({"data": b""}, context) == GREETING
    assert handler({"data": None}, context) == GREETING
    assert handler({"data": b"\x00\xff"}, context) == b"\x00\xff"
    assert handler({"data": {"a": [1]}}, context) == {"echo": {"a": [1]}, "type": "object"}
    event = {"data": {"conformance": "event"}, "event-id": "1", "event-type": "t",
             "event-time": "now", "event-namespace": "ns"}
    assert handler(event, context)["event"] == {"event-id": "1", "event-type": "t",
                                                "event-time": "now", "event-namespace": "ns"}
    assert handler({"data": {"conformance": "context"}}, context) == {"context": context}
    assert handler({"data": {"conformance": "sleep", "seconds": 0}}, context) == {"slept": 0.0}
    with pytest.raises(RuntimeError, match="deliberate"):
        handler({"data": {"conformance": "raise"}}, context)
    with pytest.raises(ValueError, match="unknown conformance command"):
        handler({"data": {"conformance": "nope"}}, context)


def test_function_late_command_leaves_markers_and_refuses_bad_tokens(function, tmp_path, capsys):
    result = function.handler({"data": {"conformance": "late", "token": "abc123",
                                        "seconds": 0}}, {})
    assert "after the deadline" in result
    assert capsys.readouterr().out.split("\n")[:2] == ["kubeless-conformance start abc123",
                                                       "kubeless-conformance done abc123"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "kubeless-conformance-abc123.done", "kubeless-conformance-abc123.start"]
    with pytest.raises(ValueError, match="token"):
        function.handler({"data": {"conformance": "late", "token": "../etc"}}, {})


# --- checks with a fake context ---------------------------------------------------------------

class FakeContext:
    """Just enough of CaseContext for checks that only look at canned observations."""

    def __init__(self, claimed: bool, evidence: Dict[str, str], status: int = 408,
                 seconds: float = 0.1) -> None:
        self.target = resolve_target(
            Target("python3.11", "img", hard_timeouts=claimed, level="full"), load_catalog())
        self.evidence = evidence
        self.status = status
        self.seconds = seconds
        self.memos: Dict[str, Any] = {}

    def token(self) -> str:
        return "feedbeef"

    def memo(self, name: str, compute: Any) -> Any:
        if name not in self.memos:
            self.memos[name] = compute()
        return self.memos[name]

    def command(self, name: str, **fields: Any) -> httpclient.Response:
        return httpclient.Response(self.status, b"Timeout", seconds=self.seconds)

    def side_effects(self, token: str) -> Dict[str, str]:
        return self.evidence


def fast_late_call(monkeypatch):
    monkeypatch.setattr(timeouts, "SHORT_TIMEOUT", 0)
    monkeypatch.setattr(timeouts, "LATE_EXTRA", 0)
    monkeypatch.setattr(timeouts, "SIDE_EFFECT_MARGIN", 0)


@pytest.mark.parametrize("claimed, evidence, outcome", [
    (True, {"start": "stdout"}, "pass"),
    (False, {"start": "stdout"}, "pass"),
    (True, {"start": "stdout", "done": "stdout"}, "fail"),
    (False, {"start": "stdout", "done": "/tmp file"}, "soft"),
    (True, {}, "fail"),
    (False, {}, "soft"),
])
def test_hard_timeout_verdict_depends_on_the_claim(monkeypatch, claimed, evidence, outcome):
    fast_late_call(monkeypatch)
    ctx = FakeContext(claimed, evidence)
    check = cases_mod.get_case("timeout-hard").check
    if outcome == "pass":
        note = check(ctx)
        assert "stopped at the deadline" in note
        assert ("without claiming" in note) is (not claimed)
    elif outcome == "fail":
        with pytest.raises(Failed):
            check(ctx)
    else:
        with pytest.raises(Soft) as info:
            check(ctx)
        assert "informational" in info.value.message


def test_the_408_must_come_at_the_deadline(monkeypatch):
    fast_late_call(monkeypatch)
    check = cases_mod.get_case("timeout-408").check
    assert "408 after" in check(FakeContext(True, {}))
    with pytest.raises(Failed, match="HTTP 408"):
        check(FakeContext(True, {}, status=200))
    with pytest.raises(Failed, match="only when the function finished"):
        check(FakeContext(True, {}, seconds=5.0))


class CompileContext:
    """A target whose language has a compile-error source, and a canned deploy outcome."""

    def __init__(self, error: Any, tmp_path: Path) -> None:
        source = tmp_path / "broken.go"
        source.write_text("package kubeless\nfunc Handler() { undefinedThing() }\n")
        resolved = resolve_target(Target("python3.11", "img", level="full"), load_catalog())
        functions = dataclasses.replace(resolved.functions, compile_error=CompileErrorSpec(
            source, "broken.Handler", r"undefined: undefinedThing"))
        self.target = dataclasses.replace(resolved, functions=functions)
        self.error = error

    def deploy_error(self) -> Any:
        return self.error


def test_compile_error_must_reach_the_termination_log(tmp_path):
    from kubeless_runtime.tooling.deploy import DeployError

    check = cases_mod.get_case("compile-error").check
    good = DeployError("compilation", "broken.go:2: undefined: undefinedThing")
    assert "undefined: undefinedThing" in check(CompileContext(good, tmp_path))
    with pytest.raises(Failed, match="the broken function deployed and ran"):
        check(CompileContext(None, tmp_path))
    with pytest.raises(Failed, match="a failure in the runtime phase"):
        check(CompileContext(DeployError("runtime", "exited 1"), tmp_path))
    with pytest.raises(Failed, match="matching"):
        check(CompileContext(DeployError("compilation", "exit code 2: (no output)"), tmp_path))


def test_compile_error_applies_only_to_runtimes_with_a_compilation_phase():
    applies = cases_mod.get_case("compile-error").applies
    python = resolve_target(Target("python3.11", "img", level="full"), load_catalog())
    assert "has no compilation phase" in applies(python)
    unknown = resolve_target(Target("go1.10", "img", level="custom"), load_catalog())
    assert "not in the catalog" in applies(unknown)


@pytest.mark.parametrize("line, problem", [
    ('172.17.0.1 - - [27/Nov/2026:14:39:42 +0000] "GET /p HTTP/1.1" 200 2 "" "ua" 0/203', ""),
    ('::ffff:172.17.0.1 - - [27/Nov/2026:14:39:42 +0000] "GET /p HTTP/1.1" 200 2 "-" "ua"', ""),
    ("2026-11-27T14:39:42Z GET /p -> 200 (1 ms)", ""),
    ('"GET /p HTTP/1.1" 200 2', "has no date"),
    ("[27/Nov/2026:14:39:42 +0000] GET /p 2000", "has no status 200"),
    ("2026-11-27 14:39:42 handled /p", "has no method or status 200"),
])
def test_request_log_lines(line, problem):
    found = operations._find_log_line(f"other line\n{line}\n", "GET", "/p", 200)
    assert (problem in found) if problem else found == ""
    assert "no line for GET /q" in operations._find_log_line(line, "GET", "/q", 200)


# --- the HTTP client ----------------------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > 1000:  # refuse early, without reading the body, like a real runtime
            body = b"too large"
            self.send_response(413)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True
            return
        data = self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def loopback() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_client_round_trips_and_reads_an_early_413(loopback):
    response = httpclient.request(loopback + "/x", "POST", b"\x00\x01abc")
    assert (response.status, response.body) == (200, b"\x00\x01abc")
    started = time.monotonic()
    large = httpclient.send_large_body(loopback + "/", 8 * 1024 * 1024, timeout=10)
    assert (large.status, large.body) == (413, b"too large")
    assert time.monotonic() - started < 5


def test_client_reports_network_errors_instead_of_raising():
    response = httpclient.request("http://127.0.0.1:9/", timeout=2)  # discard port: refused
    assert response.status == 0 and "refused" in response.error
    assert response.describe().startswith("no HTTP answer (connection refused")


@pytest.mark.parametrize("url", ["http://172.17.0.2:8080/", "https://127.0.0.1:1/",
                                 "http://localhost:8080/"])
def test_client_only_calls_published_loopback_ports(url):
    with pytest.raises(httpclient.NotLoopbackError):
        httpclient.request(url)


# --- CLI and pytest wiring ----------------------------------------------------------------------

def test_cli_lists_cases_and_needs_runtime_and_image(capsys):
    assert main(["conformance", "--list", "--level", "custom"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == [c.id for c in select_cases("custom")]
    assert main(["conformance", "--image", "x"]) == 2
    assert "--runtime too at --level function" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["conformance", "--runtime", "r", "--image", "i", "--level", "most"])


def test_cli_refuses_a_function_level_without_functions(capsys):
    assert main(["conformance", "--runtime", "custom", "--image", "img", "--level",
                 "function"]) == 2
    assert "no conformance functions for language 'custom'" in capsys.readouterr().err


def _run(args: list, cwd: Optional[Path] = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def test_pytest_module_skips_every_case_without_options(tmp_path):
    done = _run(["-m", "pytest", "--pyargs", "kubeless_runtime.conformance", "-q", "-rs",
                 "-p", "no:cacheprovider"], cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(CASES)} skipped" in done.stdout
    assert "needs --kubeless-runtime and --kubeless-image" in done.stdout


def test_plugin_and_cli_import_without_docker():
    code = ("import sys, kubeless_runtime.conformance.plugin, kubeless_runtime.cli; "
            "kubeless_runtime.cli.build_parser(); "
            "bad = [m for m in ('docker', 'kubeless_runtime.conformance.runner') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    done = _run(["-c", code])
    assert done.returncode == 0, done.stdout + done.stderr

"""Level full: the request log, Prometheus metrics and the body limit."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any, Dict, List

from ..model import (
    BODY_LIMIT_MB,
    KUBELESS_NEW_RUNTIME,
    README_CONFIG,
    README_FLOW,
    CaseContext,
    Failed,
    case,
    short,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..promtext import Scrape

# --- level full: operations -----------------------------------------------------------------

_DATE = re.compile(
    r"\d{1,2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2}"      # Apache/morgan combined
    r"|\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?"          # ISO 8601
    r"|\d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2}"      # RFC 1123
    r"|[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}")  # ctime


@case("request-log", "full", "every request is logged on stdout with date, method, path and "
      "status",
      "Requests should be logged to stdout including date, HTTP method, requested path and "
      "status code of the response",
      f"{KUBELESS_NEW_RUNTIME} §2.1",
      "log one line per request to stdout (not stderr), e.g. the Apache combined format "
      "(morgan 'combined', wsgi-request-logger)")
def check_request_log(ctx: CaseContext) -> str:
    token = ctx.token()
    sent = []
    for method, command in (("GET", None), ("POST", "raise"), ("PUT", "sleep"),
                            ("DELETE", None)):
        path = f"/conformance-log/{token}/{method.lower()}"
        if command:
            response = ctx.command(command, method=method, path=path, seconds=0)
        else:
            response = ctx.call(method, path)
        sent.append((method, path, response.status))
    missing: List[str] = []
    deadline = time.monotonic() + 5.0
    for _ in range(50):
        stdout = ctx.logs(stdout=True, stderr=False)
        missing = [problem for problem in (_find_log_line(stdout, *item) for item in sent)
                   if problem]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if missing:
        stderr = ctx.logs(stdout=False, stderr=True)
        if any(path in stderr and not _find_log_line(stderr, m, path, s) for m, path, s in sent):
            missing.append("(the request lines are on stderr; the contract says stdout)")
        raise Failed("one stdout line per request with date, method, path and status: "
                     + ", ".join(f"{m} {p} {s}" for m, p, s in sent), "; ".join(missing))
    return f"{len(sent)} requests logged with date, method, path and status"


def _find_log_line(text: str, method: str, path: str, status: int) -> str:
    """'' when a line logs the request, else what is missing from the best candidate."""
    lines = [line for line in text.splitlines() if path in line]
    if not lines:
        return f"no line for {method} {path}"
    status_re = re.compile(rf"(?<![\d.]){status}(?![\d.])")
    for line in lines:
        if re.search(rf"\b{method}\b", line) and status_re.search(line) and _DATE.search(line):
            return ""
    line = lines[0]
    lacking = [what for what, ok in (("method", re.search(rf"\b{method}\b", line)),
                                     (f"status {status}", status_re.search(line)),
                                     ("date", _DATE.search(line))) if not ok]
    return f"{method} {path}: line {short(line, 100)!r} has no {' or '.join(lacking)}"


def _scrape(ctx: CaseContext, when: str) -> Scrape:
    from ..promtext import ExpositionError, parse

    response = ctx.call("GET", "/metrics")
    if response.status != 200:
        raise Failed("GET /metrics -> 200 with Prometheus text", f"{when}: {response.describe(80)}")
    try:
        return parse(response.text)
    except ExpositionError as exc:
        raise Failed("Prometheus text exposition format", f"{when}: {exc}") from None


CONTRACT_SAMPLES = ("function_calls_total", "function_failures_total",
                    "function_duration_seconds_count", "function_duration_seconds_sum",
                    "function_duration_seconds_bucket")
KNOWN_CALLS = (("GET", None, 3), ("POST", "sleep", 2), ("POST", "raise", 1), ("PUT", "sleep", 1))
REFUSED = (405, 501)
"""Answers meaning "this method is not routed" (Kubeless's Python runtime answers PUT with 405):
the function was not called, so the call is not charged to the metrics."""


def _expected(answers: List[Any]) -> Dict[str, Any]:
    """What the metrics must count, from how the image answered each known call."""
    calls: Dict[str, int] = {}
    failures: Dict[str, int] = {}
    refused: Dict[str, int] = {}
    for (method, command, _), status in answers:
        if status in REFUSED:
            refused[method] = refused.get(method, 0) + 1
            continue
        calls[method] = calls.get(method, 0) + 1
        failures[method] = failures.get(method, 0) + (command == "raise")
    return {"calls": calls, "failures": failures, "refused": refused}


def _metrics_run(ctx: CaseContext) -> Dict[str, Any]:
    """Scrape, make KNOWN_CALLS, scrape again (until the counts settle, at most 3 s)."""
    def run() -> Dict[str, Any]:
        from ..promtext import check_deltas

        before = _scrape(ctx, "before the calls")
        answers = []
        for call in KNOWN_CALLS:
            method, command, count = call
            for _ in range(count):
                if command:
                    response = ctx.command(command, method=method, seconds=0)
                else:
                    response = ctx.call(method, "/")
                answers.append((call, response.status))
        expected = _expected(answers)
        after = before
        for _ in range(15):
            after = _scrape(ctx, "after the calls")
            if (not after.has("function_calls_total")
                    or check_deltas(before, after, "function_calls_total",
                                    expected["calls"]).ok):
                break
            time.sleep(0.2)
        return {"before": before, "after": after, **expected}

    return ctx.memo("metrics-run", run)


def _check_counter(ctx: CaseContext, sample: str, which: str,
                   family: str, kind: str) -> str:
    from ..promtext import check_deltas, missing_method_label, seen_methods, similar_names

    run = _metrics_run(ctx)
    before, after, expected = run["before"], run["after"], run[which]
    refused = run["refused"]
    if not expected:
        raise Failed(f"{sample} to count the calls the image accepts",
                     f"every call of {_describe_calls()} was answered 405/501")
    not_counted = (" (not counted: " + ", ".join(
        f"{n} {m} answered {'/'.join(map(str, REFUSED))}, the function was not called"
        for m, n in refused.items()) + ")") if refused else ""
    want = (f"{sample} per method to grow by "
            + ", ".join(f"{m}: +{n}" for m, n in expected.items())
            + f" after {_describe_calls()}{not_counted}")
    if not after.has(sample):
        near = similar_names(after, sample, exclude=CONTRACT_SAMPLES)
        raise Failed(want, f"no sample named {sample}"
                     + (f"; similar: {', '.join(near)}" if near else ""))
    unlabelled = missing_method_label(after, sample)
    if unlabelled:
        raise Failed(want, unlabelled)
    if after.kind(family) != kind:
        raise Failed(f"{family} to be a {kind}", f"a {after.kind(family) or 'untyped'} metric")
    result = check_deltas(before, after, sample, expected)
    if not result.ok:
        got = "grew by " + result.describe()
        extra = set(after.methods.get(sample, {})) - {m.upper() for m in expected}
        if extra:
            got += f"; method label values seen: {seen_methods(before, after, sample)}"
        raise Failed(want, got)
    return "counted " + result.describe_expected() + not_counted


def _describe_calls() -> str:
    return ", ".join(f"{n} {m}{' (' + c + ')' if c == 'raise' else ''}"
                     for m, c, n in KNOWN_CALLS)


METRICS_CLAUSE = ("The function should expose Prometheus statistics in the path /metrics: "
                  "calls per HTTP method, errors per HTTP method, a histogram with the "
                  "execution time per HTTP method")
METRICS_REF = f"{KUBELESS_NEW_RUNTIME} §2.1; {README_FLOW} (metrics)"


@case("metrics-exposition", "full", "/metrics parses as Prometheus text",
      "The function should expose Prometheus statistics in the path /metrics", METRICS_REF,
      "serve GET /metrics from the HTTP server (not the function) with a Prometheus client "
      "library's text exposition (prometheus_client, prom-client)")
def check_metrics_exposition(ctx: CaseContext) -> str:
    scrape = _scrape(ctx, "GET /metrics")
    families = len({name for name in scrape.types if not name.endswith(
        ("_total", "_count", "_sum", "_bucket", "_created"))})
    return f"parsed: {families} metric families"


@case("metrics-calls", "full", "function_calls_total counts calls per method",
      METRICS_CLAUSE, METRICS_REF,
      "count every call of the function in the counter function_calls_total with a "
      "'method' label (prometheus_client: Counter('function_calls', ..., ['method']))")
def check_metrics_calls(ctx: CaseContext) -> str:
    return _check_counter(ctx, "function_calls_total", "calls", "function_calls_total",
                          "counter")


@case("metrics-failures", "full", "function_failures_total counts failed calls per method",
      METRICS_CLAUSE, METRICS_REF,
      "count every call that raised, crashed or timed out in the counter "
      "function_failures_total with a 'method' label")
def check_metrics_failures(ctx: CaseContext) -> str:
    return _check_counter(ctx, "function_failures_total", "failures",
                          "function_failures_total", "counter")


@case("metrics-duration", "full", "function_duration_seconds is a histogram per method",
      METRICS_CLAUSE, METRICS_REF,
      "observe each call's duration in the histogram function_duration_seconds with a "
      "'method' label")
def check_metrics_duration(ctx: CaseContext) -> str:
    return _check_counter(ctx, "function_duration_seconds_count", "calls",
                          "function_duration_seconds_count", "histogram")


@case("body-limit-413", "full", f"a body over REQ_MB_LIMIT={BODY_LIMIT_MB} gets 413",
      "REQ_MB_LIMIT is the request body limit in MB; a larger body gets 413",
      f"{README_CONFIG} (REQ_MB_LIMIT); Kubeless Node.js runtime (REQ_MB_LIMIT)",
      "read REQ_MB_LIMIT (MB, default 1) and answer 413 Payload Too Large to bigger bodies "
      "before calling the function")
def check_body_limit(ctx: CaseContext) -> str:
    from ..httpclient import send_large_body

    limit = BODY_LIMIT_MB * 1024 * 1024
    small = ctx.call("POST", "/", body=b"s" * (limit * 3 // 4),
                     headers={"Content-Type": "application/octet-stream"})
    if small.status != 200:
        raise Failed(f"a body of {limit * 3 // 4} bytes (under the limit) to be served",
                     small.describe(60))
    size = limit + limit // 4
    response = send_large_body(ctx.url() + "/", size)
    if response.status != 413:
        raise Failed(f"HTTP 413 for a body of {size} bytes (REQ_MB_LIMIT={BODY_LIMIT_MB})",
                     response.describe(60))
    return f"{limit * 3 // 4} bytes served; {size} bytes: 413"

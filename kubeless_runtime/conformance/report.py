"""Results of a conformance run and their three forms: a table, JUnit XML and JSON.

The table is for the image author at a terminal: one row per case, and for a failure what was
expected, what came back, where the contract says so and how to fix it.  JUnit XML is for CI
systems (one ``testcase`` per case; a soft result is a passing test with a note), JSON for
scripts (stable keys, ``schema`` versioned).
"""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

PASS, FAIL, SKIP, SOFT, ERROR = "pass", "fail", "skip", "soft", "error"
STATUSES = (PASS, FAIL, ERROR, SOFT, SKIP)
JSON_SCHEMA = "kubeless-runtime-conformance/1"
_SHOWN = {PASS: "pass", FAIL: "FAIL", ERROR: "ERROR", SOFT: "soft", SKIP: "skip"}


@dataclass
class CaseResult:
    """How one case went.

    ``status`` is pass, fail (the image breaks the clause), error (the suite could not run the
    case, e.g. the deployment failed), soft (informational: a behaviour the runtime does not
    claim, such as hard timeouts) or skip (does not apply; ``detail`` says why).
    """

    case_id: str
    level: str
    title: str
    status: str
    seconds: float = 0.0
    detail: str = ""
    expected: str = ""
    got: str = ""
    clause: str = ""
    reference: str = ""
    fix: str = ""

    @property
    def failed(self) -> bool:
        return self.status in (FAIL, ERROR)

    @property
    def contract(self) -> str:
        """Where the contract says it: ``reference: "clause"``."""
        if self.reference and self.clause:
            return f'{self.reference}: "{self.clause}"'
        return self.reference or self.clause

    def message(self) -> str:
        """A one-paragraph explanation (the pytest failure text, the JUnit message)."""
        if self.status in (PASS, SKIP, ERROR):
            return self.detail
        parts = []
        if self.detail:
            parts.append(self.detail)
        if self.expected:
            parts.append(f"expected: {self.expected}")
        if self.got:
            parts.append(f"got: {self.got}")
        if self.contract:
            parts.append(f"contract: {self.contract}")
        if self.fix:
            parts.append(f"fix: {self.fix}")
        return "\n".join(parts)


@dataclass
class Report:
    """A whole run: what was checked and every case's result, in run order."""

    runtime: str
    image: str
    level: str
    init_image: Optional[str] = None
    hard_timeouts_claimed: bool = False
    started: float = 0.0
    seconds: float = 0.0
    results: List[CaseResult] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for result in self.results if result.status == status)

    @property
    def ok(self) -> bool:
        """No case failed or errored (skips and soft results do not fail a run)."""
        return not any(result.failed for result in self.results)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def summary(self) -> str:
        words = [(PASS, "passed"), (FAIL, "failed"), (ERROR, "error"), (SOFT, "soft"),
                 (SKIP, "skipped")]
        parts = []
        for status, word in words:
            count = self.count(status)
            if count:
                parts.append(f"{count} {word}{'s' if word == 'error' and count > 1 else ''}")
        verdict = "CONFORMS" if self.ok else "DOES NOT CONFORM"
        return (f"{len(self.results)} cases: {', '.join(parts) or 'none run'} in "
                f"{self.seconds:.1f} s: {verdict} at level {self.level}")


# --- table --------------------------------------------------------------------------------

def format_table(report: Report, width: int = 100) -> str:
    """The human report: header, one row per case, failure details, summary line."""
    lines = [f"Kubeless runtime conformance of {report.image} (runtime {report.runtime}), "
             f"level {report.level}"]
    if report.init_image:
        lines.append(f"installation image: {report.init_image}")
    lines += report.notes
    if not report.results:
        lines.append("no cases ran")
        return "\n".join(lines)
    id_width = max(len("CASE"), *(len(r.case_id) for r in report.results))
    level_width = max(len("LEVEL"), *(len(r.level) for r in report.results))
    head = f"{'CASE':<{id_width}}  {'LEVEL':<{level_width}}  RESULT  SECONDS  NOTE"
    lines += ["", head]
    note_width = max(20, width - len(head) + len("NOTE"))
    indent = "    "
    for result in report.results:
        note = " ".join(result.detail.split())
        if result.failed and not note:
            note = result.title
        shortened = len(note) > note_width
        if shortened:
            note = note[: note_width - 3] + "..."
        lines.append(f"{result.case_id:<{id_width}}  {result.level:<{level_width}}  "
                     f"{_SHOWN.get(result.status, result.status):<6}  {result.seconds:7.2f}  "
                     f"{note}".rstrip())
        if shortened and result.status in (SKIP, ERROR, SOFT):
            lines.extend(_wrapped("reason" if result.status == SKIP else "detail",
                                  result.detail, indent, width))
        if result.status in (FAIL, SOFT):
            for label, text in (("expected", result.expected), ("got", result.got),
                                ("contract", result.contract), ("fix", result.fix)):
                if text:
                    lines.extend(_wrapped(label, text, indent, width))
    lines += ["", report.summary()]
    return "\n".join(lines)


def _wrapped(label: str, text: str, indent: str, width: int) -> List[str]:
    prefix = f"{indent}{label:<9}"
    body = textwrap.wrap(" ".join(text.split()), width=max(40, width - len(prefix)),
                         break_long_words=False, break_on_hyphens=False) or [""]
    return [prefix + body[0]] + [" " * len(prefix) + line for line in body[1:]]


# --- JUnit --------------------------------------------------------------------------------

def to_junit_xml(report: Report) -> str:
    """JUnit XML: one testsuite, one testcase per case (classname ``conformance.<level>``)."""
    failures = report.count(FAIL)
    errors = report.count(ERROR)
    skipped = report.count(SKIP)
    stamp = datetime.fromtimestamp(report.started or 0, timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S")
    suites = ET.Element("testsuites", name="kubeless-runtime conformance",
                        tests=str(len(report.results)), failures=str(failures),
                        errors=str(errors), skipped=str(skipped), time=f"{report.seconds:.3f}")
    suite = ET.SubElement(suites, "testsuite", name=f"conformance {report.runtime}",
                          tests=str(len(report.results)), failures=str(failures),
                          errors=str(errors), skipped=str(skipped),
                          time=f"{report.seconds:.3f}", timestamp=stamp)
    properties = ET.SubElement(suite, "properties")
    for name, value in (("runtime", report.runtime), ("image", report.image),
                        ("init_image", report.init_image or ""), ("level", report.level),
                        ("hard_timeouts_claimed", str(report.hard_timeouts_claimed).lower())):
        ET.SubElement(properties, "property", name=name, value=value)
    for result in report.results:
        case = ET.SubElement(suite, "testcase", classname=f"conformance.{result.level}",
                             name=result.case_id, time=f"{result.seconds:.3f}")
        if result.status == FAIL:
            element = ET.SubElement(case, "failure", type="ContractViolation",
                                    message=_first_line(result))
            element.text = result.message()
        elif result.status == ERROR:
            element = ET.SubElement(case, "error", type="SuiteError",
                                    message=_first_line(result))
            element.text = result.message()
        elif result.status == SKIP:
            ET.SubElement(case, "skipped", message=result.detail)
        elif result.status == SOFT:
            out = ET.SubElement(case, "system-out")
            out.text = "SOFT (informational, not a failure): " + result.message()
        elif result.detail:
            out = ET.SubElement(case, "system-out")
            out.text = result.detail
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode")


def _first_line(result: CaseResult) -> str:
    text = result.got or result.detail or result.title
    if result.expected:
        text = f"expected {result.expected}; got {text}"
    return text.splitlines()[0][:500] if text else result.title


# --- JSON ---------------------------------------------------------------------------------

def to_dict(report: Report) -> Dict[str, Any]:
    """The JSON document (see ``JSON_SCHEMA``)."""
    return {
        "schema": JSON_SCHEMA,
        "runtime": report.runtime,
        "image": report.image,
        "init_image": report.init_image,
        "level": report.level,
        "hard_timeouts_claimed": report.hard_timeouts_claimed,
        "started": datetime.fromtimestamp(report.started or 0, timezone.utc).isoformat(),
        "seconds": round(report.seconds, 3),
        "ok": report.ok,
        "summary": {"total": len(report.results), "passed": report.count(PASS),
                    "failed": report.count(FAIL), "errors": report.count(ERROR),
                    "soft": report.count(SOFT), "skipped": report.count(SKIP)},
        "notes": list(report.notes),
        "cases": [dict(asdict(result), seconds=round(result.seconds, 3))
                  for result in report.results],
    }


def to_json(report: Report) -> str:
    return json.dumps(to_dict(report), indent=2, ensure_ascii=False) + "\n"


def write_junit(report: Report, path: Union[str, Path]) -> Path:
    """Write the JUnit XML file (parent folders must exist); returns its path."""
    target = Path(path)
    target.write_text(to_junit_xml(report), encoding="utf-8")
    return target


def write_json(report: Report, path: Union[str, Path]) -> Path:
    """Write the JSON report; returns its path."""
    target = Path(path)
    target.write_text(to_json(report), encoding="utf-8")
    return target


__all__ = ["ERROR", "FAIL", "JSON_SCHEMA", "PASS", "SKIP", "SOFT", "STATUSES", "CaseResult",
           "Report", "format_table", "to_dict", "to_json", "to_junit_xml", "write_junit",
           "write_json"]

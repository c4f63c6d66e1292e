"""The conformance suite, tested against real images (needs a Docker engine).

* our images pass level ``full``: python3.11, python3.13, nodejs18, nodejs20 and
  nodejs_distroless20 (the session's ``runtime_images``, built on first use);
* each deliberately broken image under tests/conformance_images/ (our runtime with one clause
  broken) fails exactly the cases of that clause, at the narrowest level that shows it, and
  passes every other case;
* a plain custom image (Debian + a tiny HTTP server) passes level ``custom``;
* the CLI's exit codes and JUnit/JSON files, the pytest plugin, the soft timeout verdict of a
  runtime that does not claim hard timeouts, and clean-up after Ctrl-C.

Every deployment, container, volume and image these tests make is removed at the end (the
suite deletes its deployments; the fixtures remove the images and check for leftovers).
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from typing import Any, Dict, Iterator, List

import pytest

from kubeless_runtime.cli import main
from kubeless_runtime.conformance.cases import CASES, select_cases
from kubeless_runtime.conformance.report import FAIL, PASS, SKIP, SOFT, Report, format_table
from kubeless_runtime.conformance.runner import Runner, Target

from .helpers import (
    ALL_RUNTIMES,
    CATALOG,
    REPO,
    SESSION_ID,
    SESSION_LABELS,
    delete_functions,
    leftovers,
)

pytestmark = pytest.mark.container

IMAGES = REPO / "tests" / "conformance_images"

BROKEN: Dict[str, tuple] = {
    # image folder: (narrowest level that shows the break, the cases that must fail)
    "no-healthz": ("custom", {"healthz", "healthz-parallel"}),
    "dies-on-exception": ("function", {"exception"}),
    "no-event-headers": ("function", {"event-headers"}),
    "soft-timeout": ("full", {"timeout-hard"}),
    "no-metrics": ("full", {"metrics-exposition", "metrics-calls", "metrics-failures",
                            "metrics-duration"}),
    "wrong-metric-name": ("full", {"metrics-calls"}),
    "small-backlog": ("custom", {"healthz-parallel"}),
}
PASSING_SKIPS = {"compile-error"}
"""Cases our Python and Node.js runtimes skip at level full (no compilation phase)."""


@pytest.fixture(scope="module")
def images(docker_engine: Any, runtime_images: Any) -> Iterator[Dict[str, str]]:
    """Build every folder of tests/conformance_images (broken ones FROM our test image)."""
    client = docker_engine
    base = runtime_images.image("python3.11")
    tags: Dict[str, str] = {}
    try:
        for folder in sorted(p for p in IMAGES.iterdir() if (p / "Dockerfile").is_file()):
            tag = f"kubeless-conformance-test/{folder.name}:s{SESSION_ID}"
            args = {} if folder.name == "custom-http-server" else {"BASE_IMAGE": base}
            client.images.build(path=str(folder), tag=tag, buildargs=args, rm=True,
                                forcerm=True, pull=False, labels=SESSION_LABELS)
            tags[folder.name] = tag
        yield tags
    finally:
        for tag in tags.values():
            try:
                client.images.remove(tag, force=True)
            except Exception:  # noqa: BLE001 - already gone
                pass


@pytest.fixture
def run_suite(docker_engine: Any, runtime_images: Any, ca_bundle: Any):
    """Run the suite through the Runner API; asserts it left nothing behind."""
    prefixes: List[str] = []

    def run(image: str, level: str, runtime: str = "python3.11", **target: Any) -> Report:
        runner = Runner(Target(runtime=runtime, image=image, level=level,
                               ca_bundle=ca_bundle, **target),
                        client=docker_engine, catalog=runtime_images.catalog)
        prefixes.append(runner.prefix)
        with runner:
            report = runner.run()
        print(format_table(report))
        assert leftovers(docker_engine, runner.prefix) == []
        return report

    yield run
    for prefix in prefixes:  # a failed assertion above must not leave anything behind
        delete_functions(docker_engine, prefix)


def by_status(report: Report) -> Dict[str, str]:
    return {result.case_id: result.status for result in report.results}


@pytest.mark.parametrize("runtime", ALL_RUNTIMES)
def test_our_images_pass_full(run_suite, runtime_images, runtime):
    image = runtime_images.image(runtime)  # builds the installation image too (deps case)
    report = run_suite(image, "full", runtime=runtime)
    statuses = by_status(report)
    assert list(statuses) == [c.id for c in select_cases("full")]
    not_passed = {case: status for case, status in statuses.items() if status != PASS}
    compiles = CATALOG.runtime(runtime).has_phase("compilation")
    expected_skips = set() if compiles else {"compile-error"}
    assert not_passed == {case: SKIP for case in expected_skips}, format_table(report)
    assert report.ok and report.hard_timeouts_claimed
    assert report.seconds < 120, f"level full took {report.seconds:.0f} s"


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_image_fails_exactly_its_cases(run_suite, images, name):
    level, expected = BROKEN[name]
    report = run_suite(images[name], level)
    statuses = by_status(report)
    failed = {case for case, status in statuses.items() if status not in (PASS, SKIP)}
    assert failed == expected, format_table(report)
    assert all(statuses[case] == FAIL for case in expected), format_table(report)
    assert {case for case, s in statuses.items() if s == SKIP} <= PASSING_SKIPS
    assert not report.ok and report.exit_code == 1


def test_plain_custom_image_passes_level_custom(run_suite, images):
    report = run_suite(images["custom-http-server"], "custom", runtime="custom")
    assert by_status(report) == {c.id: PASS for c in select_cases("custom")}, \
        format_table(report)


def test_soft_timeout_is_informational_when_not_claimed(run_suite, images):
    report = run_suite(images["soft-timeout"], "full", hard_timeouts=False,
                       cases=["timeout-408", "timeout-hard"])
    assert by_status(report) == {"timeout-408": PASS, "timeout-hard": SOFT}
    soft = report.results[1]
    assert "does not stop the function" in soft.detail and "done" in soft.got
    assert report.ok and report.exit_code == 0


def test_cli_exit_code_table_junit_and_json(images, tmp_path, capsys, docker_engine):
    junit, document = tmp_path / "report.xml", tmp_path / "report.json"
    code = main(["conformance", "--runtime", "python3.11", "--image", images["no-healthz"],
                 "--level", "custom", "--junit", str(junit), "--json", str(document),
                 "--quiet"])
    out = capsys.readouterr().out
    assert code == 1
    assert "healthz  " in out and "FAIL" in out and "DOES NOT CONFORM" in out
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "2" and suite.get("tests") == "4"
    failed = {case.get("name") for case in suite.iter("testcase")
              if case.find("failure") is not None}
    assert failed == {"healthz", "healthz-parallel"}
    data = json.loads(document.read_text())
    assert data["ok"] is False and data["summary"]["failed"] == 2
    assert {c["case_id"]: c["status"] for c in data["cases"]}["healthz"] == FAIL
    assert docker_engine.containers.list(all=True,
                                         filters={"ancestor": images["no-healthz"]}) == []


def test_pytest_plugin_runs_the_same_cases(images, tmp_path):
    command = [sys.executable, "-m", "pytest", "--pyargs", "kubeless_runtime.conformance",
               "--kubeless-runtime", "custom", "--kubeless-image", images["custom-http-server"],
               "--kubeless-level", "custom", "-p", "no:cacheprovider", "-q",
               f"--junitxml={tmp_path / 'junit.xml'}"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    custom = len(select_cases("custom"))
    assert f"{custom} passed, {len(CASES) - custom} skipped" in done.stdout, done.stdout
    assert "kubeless-runtime conformance" in done.stdout  # the table in the summary


def test_interrupt_removes_every_deployment(docker_engine, runtime_images, ca_bundle):
    image = runtime_images.image("python3.11")
    runner = Runner(Target(runtime="python3.11", image=image, level="full",
                           ca_bundle=ca_bundle),
                    client=docker_engine, catalog=runtime_images.catalog)
    with pytest.raises(KeyboardInterrupt):
        with runner:
            runner.prepare()  # deployments are being made in the background
            raise KeyboardInterrupt
    assert leftovers(docker_engine, runner.prefix) == []


def test_wheel_in_a_plain_base_image_passes_full(run_suite, runtime_images, docker_engine,
                                                 ca_bundle, tmp_path):
    """The card's third use: a runtime-image author pip-installs our wheel into plain Debian."""
    import shutil
    import subprocess
    import sys

    built = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path),
                            str(REPO)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    assert list(tmp_path.glob("kubeless_runtime-*.whl")), built.stdout[-500:]
    shutil.copy(REPO / "examples" / "custom-image" / "Dockerfile", tmp_path / "Dockerfile")
    (tmp_path / "ca-bundle.crt").write_bytes(open(ca_bundle, "rb").read() if ca_bundle else b"")
    tag = f"kubeless-runtime-test/wheel:s{SESSION_ID}"
    docker_engine.images.build(path=str(tmp_path), tag=tag, rm=True, forcerm=True, pull=False,
                               labels=SESSION_LABELS)
    try:
        image = docker_engine.images.get(tag)
        assert image.attrs["Config"]["Cmd"] == ["/opt/venv/bin/kubeless-runtime", "serve"]
        out = docker_engine.containers.run(
            tag, ["sh", "-c", "ls /tmp/build 2>&1; ls /opt/venv/lib/python3*/site-packages | "
                  "grep -c kubeless_runtime; test -e /src || echo no-checkout"],
            remove=True, labels=SESSION_LABELS).decode()
        assert "No such file" in out and "no-checkout" in out, out
        report = run_suite(tag, "full", runtime="python3.11",
                           init_image=runtime_images.image("python3.11", "installation"))
        statuses = by_status(report)
        not_passed = {case: status for case, status in statuses.items() if status != PASS}
        assert not_passed == {"compile-error": SKIP}, format_table(report)
    finally:
        docker_engine.images.remove(tag, force=True)

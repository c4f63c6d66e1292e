"""pytest plugin of the conformance suite (registered through the ``pytest11`` entry point).

    pytest --pyargs kubeless_runtime.conformance --kubeless-runtime python3.11 \\
        --kubeless-image myorg/python-runtime:1.2 [--kubeless-level full] [--junitxml r.xml]

runs the same cases as ``kubeless-runtime conformance``, one test per case.  Without
``--kubeless-runtime`` and ``--kubeless-image`` every case is skipped with a reason.

Loaded by every pytest session of an environment where kubeless-runtime is installed, so
importing it must stay cheap: nothing here imports Docker or the runner until the
``kubeless_conformance`` fixture is first used.
"""

from __future__ import annotations

import weakref
from typing import Any, Dict, Iterator

import pytest

LEVEL_CHOICES = ("custom", "function", "full")
_STATE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
"""Per-session state (collected case ids, the runner), keyed by the pytest config; not
``config.stash``, so that the plugin loads on every pytest version it may meet."""


def _state(config: Any) -> Dict[str, Any]:
    return _STATE.setdefault(config, {})


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kubeless-runtime conformance")
    group.addoption("--kubeless-runtime", default=None,
                    help="runtime name to check, e.g. python3.11")
    group.addoption("--kubeless-image", default=None, help="runtime image to check")
    group.addoption("--kubeless-init-image", default=None,
                    help="installation-phase image (default: the catalog's)")
    group.addoption("--kubeless-level", default="function", choices=LEVEL_CHOICES,
                    help="custom, function (default) or full")
    group.addoption("--kubeless-ca-bundle", default=None,
                    help="CA bundle for the installation phase (default: $KUBELESS_CA_BUNDLE)")
    group.addoption("--kubeless-hard-timeouts", default="catalog",
                    choices=("catalog", "yes", "no"),
                    help="whether the runtime claims hard timeouts (default: the catalog's)")
    group.addoption("--kubeless-deploy-timeout", default=60.0, type=float,
                    help="seconds each deployment may take to answer")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "kubeless_conformance: a case of the Kubeless runtime "
                                       "conformance suite")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Remember which cases were collected (after -k/-m), so only their deployments are made."""
    ids = [item.callspec.params["case_id"] for item in session.items
           if item.get_closest_marker("kubeless_conformance") is not None
           and hasattr(item, "callspec") and "case_id" in item.callspec.params]
    _state(session.config)["case_ids"] = ids or None


@pytest.fixture(scope="session")
def kubeless_conformance(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A prepared :class:`~kubeless_runtime.conformance.runner.Runner`, closed at session end."""
    config = request.config
    image = config.getoption("--kubeless-image")
    runtime = config.getoption("--kubeless-runtime") or (
        "custom" if config.getoption("--kubeless-level") == "custom" else None)
    if not runtime or not image:
        pytest.skip("the conformance suite needs --kubeless-runtime and --kubeless-image "
                    "(e.g. --kubeless-runtime python3.11 --kubeless-image "
                    "kubeless-runtime/python:3.11); --kubeless-level custom needs only "
                    "--kubeless-image")
    import os

    from .cases import get_case, level_index
    from .runner import Runner, Target

    level = config.getoption("--kubeless-level")
    collected = _state(config).get("case_ids")
    ids = None
    if collected:
        ids = [i for i in collected if level_index(get_case(i).level) <= level_index(level)]
    claim = {"yes": True, "no": False}.get(config.getoption("--kubeless-hard-timeouts"))
    target = Target(runtime=runtime, image=image,
                    init_image=config.getoption("--kubeless-init-image"), level=level,
                    ca_bundle=(config.getoption("--kubeless-ca-bundle")
                               or os.environ.get("KUBELESS_CA_BUNDLE") or None),
                    hard_timeouts=claim, cases=ids or None,
                    deploy_timeout=config.getoption("--kubeless-deploy-timeout"))
    runner = Runner(target)
    _state(config)["runner"] = runner
    try:
        runner.prepare()
        yield runner
    finally:
        runner.close()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Print the conformance table after the run, as the CLI does."""
    runner = _state(config).get("runner")
    if runner is None or not runner.results:
        return
    from .report import format_table

    width = getattr(getattr(terminalreporter, "_tw", None), "fullwidth", 100)
    terminalreporter.section("kubeless-runtime conformance")
    terminalreporter.write_line(format_table(runner.report(), width=max(100, width)))

"""pytest plugin: the options of the conformance suite (filled in by the conformance work)."""


def pytest_addoption(parser):
    group = parser.getgroup("kubeless-runtime conformance")
    group.addoption("--kubeless-runtime", default=None,
                    help="runtime name to check, e.g. python3.11")
    group.addoption("--kubeless-image", default=None, help="runtime image to check")

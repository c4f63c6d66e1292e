"""Names derived from runtime names stay valid Kubernetes names, for every Kubeless runtime."""

import pytest

from kubeless_runtime.contract import dns_label, is_dns_label
from kubeless_runtime.tooling.deploy import validate_name

KUBELESS_RUNTIMES = ("ruby2.6", "php7.4", "dotnetcore3.1", "java1.8", "ballerina0.981.0",
                     "nodejs_distroless20", "python3.11", "go1.14", "jvm1.8")


@pytest.mark.parametrize("runtime", KUBELESS_RUNTIMES)
def test_function_names_from_runtime_names_are_dns_labels(runtime):
    for name in (dns_label(runtime), dns_label(f"helloget-{runtime}", 40),
                 dns_label(f"k1a2b3c-{'x' * 30}-{runtime}")):
        assert is_dns_label(name), name
        assert validate_name(name) == name


def test_dns_label_keeps_what_distinguishes_versions():
    assert dns_label("ballerina0.981.0") == "ballerina0-981-0"
    assert dns_label("dotnetcore3.1") != dns_label("dotnetcore3.0")
    assert dns_label("nodejs_distroless20") == "nodejs-distroless20"
    assert dns_label("...") == "fn"

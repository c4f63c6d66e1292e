"""Extra labels for everything the tooling creates ($KUBELESS_RUNTIME_LABELS)."""

import pytest

from kubeless_runtime.errors import UsageError
from kubeless_runtime.tooling.engine import extra_labels


def test_labels_from_the_environment():
    assert extra_labels({}) == {}
    assert extra_labels({"KUBELESS_RUNTIME_LABELS": "ci.job=12, team=fns,,x="}) == {
        "ci.job": "12", "team": "fns", "x": ""}


def test_a_malformed_label_names_the_variable():
    with pytest.raises(UsageError, match="KUBELESS_RUNTIME_LABELS") as info:
        extra_labels({"KUBELESS_RUNTIME_LABELS": "novalue"})
    assert info.value.code == "usage"

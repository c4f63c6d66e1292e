"""The conformance cases as pytest tests, one per case (collected by ``--pyargs``).

    pytest --pyargs kubeless_runtime.conformance --kubeless-runtime python3.11 \\
        --kubeless-image myorg/python-runtime:1.2 --kubeless-level full

Each test asks the session's runner (the ``kubeless_conformance`` fixture of the plugin) to run
its case: a failure fails the test with what was expected, what came back, the contract
clause and the fix; a case that does not apply is skipped with its reason; a soft result
passes with a :class:`SoftResultWarning`.  Without the options every test is skipped.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from kubeless_runtime.conformance.cases import CASES, run_order


class SoftResultWarning(UserWarning):
    """A behaviour the runtime does not claim is missing (informational, not a failure)."""


@pytest.mark.kubeless_conformance
@pytest.mark.parametrize("case_id", [case.id for case in run_order(CASES)])
def test_case(case_id: str, kubeless_conformance: Any) -> None:
    result = kubeless_conformance.run_case(case_id)
    if result.status == "skip":
        pytest.skip(result.detail)
    if result.status == "soft":
        warnings.warn(SoftResultWarning(f"{case_id}: {result.message()}"), stacklevel=1)
        return
    if result.failed:
        pytest.fail(f"{case_id} ({result.status}): {result.title}\n{result.message()}",
                    pytrace=False)

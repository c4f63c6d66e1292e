"""The cases of the Kubeless runtime contract, one module per topic.

A case is data (id, level, title, the clause it checks, where that clause is written, a fix)
plus a ``check`` function (see :mod:`..model`).  The topic modules register their cases when
imported; the order below is the order of the report.
"""

import importlib

from ..model import (  # noqa: F401 - the registry and the model, re-exported for callers
    CASES,
    DEPLOYMENTS,
    LEVELS,
    Case,
    Failed,
    Skipped,
    Soft,
    UnknownCaseError,
    UnknownLevelError,
    get_case,
    level_index,
    run_order,
    select_cases,
)

TOPICS = ("server", "function", "timeouts", "operations", "phases")
"""The topic modules, in report order (importing one registers its cases)."""

for _topic in TOPICS:
    importlib.import_module(f"{__name__}.{_topic}")

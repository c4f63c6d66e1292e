"""The wheel carries every subpackage: pyproject lists packages by hand (``_images`` is mapped)."""

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_every_subpackage_is_listed_in_pyproject():
    tomllib = pytest.importorskip("tomllib") if sys.version_info >= (3, 11) else None
    if tomllib is None:
        pytest.skip("tomllib needs Python 3.11")
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    listed = set(data["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts)
             for p in (REPO / "kubeless_runtime").rglob("__init__.py")
             if "functions" not in p.parts}
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages"

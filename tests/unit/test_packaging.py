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


def test_every_error_code_is_documented_in_the_readme():
    import re

    readme = (REPO / "README.md").read_text()
    codes = set()
    for path in (REPO / "kubeless_runtime").rglob("*.py"):
        codes |= set(re.findall(r'^\s+code = "([a-z-]+)"', path.read_text(), re.M))
    missing = sorted(code for code in codes - {"error"} if f"`{code}`" not in readme)
    assert not missing, f"document these error codes in README.md, section Errors: {missing}"

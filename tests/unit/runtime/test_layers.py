"""Layers: serving imports nothing from the tooling or the conformance suite."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[3] / "kubeless_runtime"


def test_runtime_modules_never_import_tooling_or_conformance():
    for path in (PACKAGE / "runtime").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                name = "." * node.level + (node.module or "")
            elif isinstance(node, ast.Import):
                name = ",".join(alias.name for alias in node.names)
            else:
                continue
            assert "tooling" not in name and "conformance" not in name, f"{path}: {name}"


def test_serving_loads_no_tooling_conformance_or_docker_module():
    code = """
import sys, threading
from kubeless_runtime.cli import build_parser
args = build_parser(["serve"]).parse_args(["serve"])
import kubeless_runtime.runtime.cli as serve_cli, kubeless_runtime.runtime.server
import kubeless_runtime.runtime.pool, kubeless_runtime.runtime.worker
bad = sorted(m for m in sys.modules if m.startswith(("kubeless_runtime.tooling",
             "kubeless_runtime.conformance", "docker")))
print(bad)
sys.exit(1 if bad else 0)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_other_commands_are_registered_and_a_broken_one_is_not_hidden(monkeypatch):
    from kubeless_runtime import cli

    names = set(cli.build_parser(["deploy"])._subparsers._group_actions[0].choices)
    assert {"serve", "build", "deploy", "call", "config", "conformance"} <= names
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("kubeless_runtime.no_such_module",))
    import pytest

    with pytest.raises(ImportError):
        cli.build_parser(["deploy"])

"""``kubeless-runtime``: the command-line dispatcher, and the CLI's one error boundary.

``serve`` (what a runtime image runs) is registered alone when it is the command, so a
runtime starts without importing the tooling or the conformance suite; every other command
registers its parser only when the command line needs it.  Every command raises our typed
errors; :func:`main` prints them once, with their code, and picks the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional, Sequence

from .errors import KubelessRuntimeError

SERVE_MODULE = "kubeless_runtime.runtime.cli"
COMMAND_MODULES = ("kubeless_runtime.tooling.cli", "kubeless_runtime.conformance.cli")
"""Modules with a ``register(subparsers)`` for the non-serving commands."""


def build_parser(argv: Optional[Sequence[str]] = None) -> argparse.ArgumentParser:
    """The parser for ``argv``: serve alone when ``argv`` is a serve command, else all."""
    parser = argparse.ArgumentParser(
        prog="kubeless-runtime",
        description="Serve Kubeless functions, build their runtime images, check conformance.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    importlib.import_module(SERVE_MODULE).register(commands)
    if argv is None or not _is_serve(argv):
        for name in COMMAND_MODULES:
            importlib.import_module(name).register(commands)
    return parser


def _is_serve(argv: Sequence[str]) -> bool:
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    return first == "serve" or (first is None and not any(a in ("-h", "--help") for a in argv))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run one command; our errors print as ``kubeless-runtime: MESSAGE [code]``."""
    args_list: List[str] = list(sys.argv[1:] if argv is None else argv)
    if not args_list or (args_list[0].startswith("-") and args_list[0] not in ("-h", "--help")):
        args_list = ["serve", *args_list]
    parser = build_parser(args_list)
    args = parser.parse_args(args_list)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except KubelessRuntimeError as exc:
        _report(args, exc.describe())
    except OSError as exc:
        _report(args, f"{exc} [os-error]")
    except KeyboardInterrupt:
        _report(args, "interrupted")
        return 130
    return int(getattr(args, "error_exit", 1))


def _report(args: argparse.Namespace, text: str) -> None:
    print(f"kubeless-runtime {args.command}: {text}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())

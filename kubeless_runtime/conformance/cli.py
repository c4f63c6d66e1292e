"""``kubeless-runtime conformance``: check a runtime image against the Kubeless contract.

    kubeless-runtime conformance --runtime python3.11 --image myorg/python-runtime:1.2 \\
        [--init-image IMAGE] [--level custom|function|full] [--junit FILE] [--json FILE]
    kubeless-runtime conformance --image myorg/any-http-server:1 --level custom

Prints the table on stdout (progress on stderr) and exits 0 when every case passed or was
skipped (soft results do not fail a run), 1 when a case failed, 2 when the suite could not
run (no engine, image missing, bad option).  The same cases run under pytest:
``pytest --pyargs kubeless_runtime.conformance --kubeless-runtime ... --kubeless-image ...``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from typing import Any, Optional

from .model import LEVELS

EXIT_USAGE = 2
CUSTOM_RUNTIME = "custom"
"""The runtime name of an image that is not a catalog runtime (level custom needs no other)."""


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _hard_timeouts(value: str) -> Optional[bool]:
    return {"yes": True, "no": False, "catalog": None}[value]


def cmd_conformance(args: argparse.Namespace) -> int:
    """Run the suite and print/write the report; see the module docstring for exit codes."""
    from .report import format_table, write_json, write_junit
    from .runner import Runner, Target

    if args.list:
        return _list_cases(args.level)
    runtime = args.runtime or (CUSTOM_RUNTIME if args.level == "custom" else None)
    if not runtime or not args.image:
        print("kubeless-runtime conformance: --image is required, and --runtime too at "
              f"--level {args.level} (e.g. --runtime python3.11 --image "
              "kubeless-runtime/python:3.11); a custom image needs only --image with "
              "--level custom", file=sys.stderr)
        return EXIT_USAGE
    ca_bundle = args.ca_bundle or os.environ.get("KUBELESS_CA_BUNDLE") or None
    target = Target(runtime=runtime, image=args.image, init_image=args.init_image,
                    level=args.level, ca_bundle=ca_bundle,
                    hard_timeouts=_hard_timeouts(args.hard_timeouts),
                    cases=args.case or None, deploy_timeout=args.deploy_timeout)
    say = (lambda line: None) if args.quiet else _progress
    with Runner(target, progress=say) as runner:
        report = runner.run()
    width = shutil.get_terminal_size((110, 20)).columns
    print(format_table(report, width=max(80, width)))
    try:
        if args.junit:
            write_junit(report, args.junit)
            say(f"JUnit XML written to {args.junit}")
        if args.json:
            write_json(report, args.json)
            say(f"JSON report written to {args.json}")
    except OSError as exc:
        print(f"kubeless-runtime conformance: cannot write the report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return report.exit_code


def _list_cases(level: str) -> int:
    from .cases import select_cases

    for item in select_cases(level):
        print(f"{item.id:<20} {item.level:<9} {item.title}")
    return 0


def register(subparsers: Any) -> None:
    """Add the ``conformance`` subcommand to the CLI's subparsers."""
    parser = subparsers.add_parser(
        "conformance", help="check a runtime image against the Kubeless runtime contract",
        description="Deploy small conformance functions into a runtime image (local Docker "
                    "engine) and check the Kubeless runtime contract case by case. Exit code: "
                    "0 conforms, 1 a case failed, 2 the suite could not run.")
    parser.add_argument("--runtime", help="runtime name, e.g. python3.11 or nodejs20 (a name "
                        "the catalog lacks is deployed as a custom runtime; its leading "
                        "letters pick the conformance functions' language); not needed with "
                        "--level custom")
    parser.add_argument("--image", help="the runtime image to check")
    parser.add_argument("--init-image", metavar="IMAGE",
                        help="installation-phase image (default: the catalog's for --runtime)")
    parser.add_argument("--level", choices=LEVELS, default="function",
                        help="custom: any HTTP server image; function: + the function "
                        "contract (default); full: + timeouts, logs, metrics, limits, "
                        "installation, compilation, user")
    parser.add_argument("--case", action="append", default=[], metavar="ID",
                        help="run only this case (repeatable; see --list)")
    parser.add_argument("--list", action="store_true", help="list the cases of --level and exit")
    parser.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    parser.add_argument("--json", metavar="FILE", help="write a JSON report")
    parser.add_argument("--ca-bundle", metavar="PATH", default=None,
                        help="CA bundle for the installation phase behind a TLS-intercepting "
                        "proxy (default: $KUBELESS_CA_BUNDLE)")
    parser.add_argument("--hard-timeouts", choices=("catalog", "yes", "no"), default="catalog",
                        help="whether the runtime claims to stop functions at FUNC_TIMEOUT "
                        "(default: the catalog's hardTimeouts flag; unclaimed, a function "
                        "that runs on is reported as soft, not failed)")
    parser.add_argument("--deploy-timeout", type=float, default=60.0, metavar="SECONDS",
                        help="how long each deployment may take to answer (default 60)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    parser.set_defaults(func=cmd_conformance, error_exit=EXIT_USAGE)


__all__ = ["cmd_conformance", "register"]

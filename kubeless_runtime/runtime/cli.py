"""``kubeless-runtime serve``: serve a Python function locally, or as a runtime image does.

``serve`` takes the flags of ``kubeless function deploy`` where they apply, so a function that
works here deploys unchanged; with no flags it starts from the Kubeless environment alone,
which is what a runtime image runs.  It imports nothing from the tooling or the conformance
suite, so a runtime image starts fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict

from ..bundle import bundle_format, extract_bundle
from ..contract import parse_env_pairs, split_handler
from ..errors import KubelessRuntimeError, UsageError
from .config import Config, ConfigError, from_env, termination_log_path
from .loader import FunctionLoadError, write_termination_log


class DependencyInstallError(KubelessRuntimeError):
    """pip could not install ``--dependencies`` (its output is above the message)."""

    code = "dependency-install"

def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kubeless-runtime"


def install_dependencies(requirements: Path) -> Path:
    """pip-install ``requirements`` into a private folder, reused while the file is unchanged."""
    if not requirements.is_file():
        raise UsageError(f"--dependencies {requirements} does not exist; pass the path of a "
                         "requirements.txt file.")
    text = requirements.read_bytes()
    key = hashlib.sha256(text + sys.version.encode()).hexdigest()[:16]
    target = _cache_dir() / "deps" / key
    if (target / ".complete").exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    print(f"installing {requirements} into {target}", file=sys.stderr)
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target",
                           str(target), "-r", str(requirements.resolve())], check=False)
    if done.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        raise DependencyInstallError(
            f"pip could not install {requirements} (exit {done.returncode}); see pip's output "
            "above, fix the file and run again.")
    (target / ".complete").write_text("")
    return target


def prepare_source(from_file: Path, module: str, workdir: Path) -> Path:
    """The folder to import ``module`` from, laid out as Kubeless lays out /kubeless."""
    if not from_file.exists():
        raise UsageError(f"--from-file {from_file} does not exist.")
    if bundle_format(from_file.name) and from_file.is_file():
        extract_bundle(from_file, workdir)
        return workdir
    if from_file.is_dir():
        return from_file.resolve()
    if from_file.name == f"{module}.py":
        return from_file.resolve().parent
    shutil.copyfile(from_file, workdir / f"{module}.py")
    return workdir


def serve_config(args: argparse.Namespace, workdir: Path) -> Config:
    """Flags over environment: the flags say what ``kubeless function deploy`` would set."""
    os.environ.update(parse_env_pairs(args.env))
    env = dict(os.environ)
    overrides: Dict[str, object] = {"timeout": args.timeout, "port": args.port, "host": args.host}
    if args.handler:
        module, function = split_handler(args.handler)
        overrides.update(module_name=module, handler_name=function)
        env.setdefault("FUNC_RUNTIME", "python{}.{}".format(*sys.version_info[:2]))
        env.setdefault("FUNC_NAME", module)
    if args.from_file:
        module = overrides.get("module_name") or env.get("MOD_NAME", "")
        if not module:
            raise UsageError("--from-file needs --handler MODULE.FUNCTION (or MOD_NAME and "
                             "FUNC_HANDLER in the environment).")
        overrides["function_dir"] = prepare_source(Path(args.from_file), str(module), workdir)
    config = from_env(env, **overrides)
    requirements = Path(args.dependencies) if args.dependencies else None
    bundled = workdir / "requirements.txt"
    if requirements is None and args.from_file and bundle_format(args.from_file) \
            and bundled.is_file():
        # Kubeless installs the dependency file a bundle carries at its root (--dependencies
        # still wins when given).
        print(f"{args.from_file} holds requirements.txt at its root: installing it as "
              "--dependencies would", file=sys.stderr)
        requirements = bundled
    if requirements is not None:
        private = install_dependencies(requirements)
        config = dataclasses.replace(config, site_dirs=(private, *config.site_dirs))
    return config


def cmd_serve(args: argparse.Namespace) -> int:
    """Start the pool and the server; load and config errors also reach the termination log."""
    from .pool import WorkerPool

    with tempfile.TemporaryDirectory(prefix="kubeless-fn-") as workdir:
        try:
            config = serve_config(args, Path(workdir))
            started = WorkerPool(config).start_in_background()
            from .server import serve

            return serve(config, started())
        except (FunctionLoadError, ConfigError) as exc:
            write_termination_log(exc.describe(), termination_log_path())
            raise


def register(subparsers: Any) -> None:
    """Add ``serve`` to the CLI's subparsers."""
    serve = subparsers.add_parser(
        "serve", help="serve a Python function over HTTP (no flags: from the Kubeless env)",
        description="Serve a Kubeless Python function. With no flags, reads MOD_NAME, "
                    "FUNC_HANDLER, FUNC_TIMEOUT, FUNC_PORT, KUBELESS_INSTALL_VOLUME as a "
                    "runtime image does.")
    serve.add_argument("--from-file", metavar="FILE", help="the function: a .py file, a .zip or a "
                       ".tar.gz/.tar.bz2/.tar.xz")
    serve.add_argument("--handler", metavar="MODULE.FUNCTION", help="e.g. helloget.foo")
    serve.add_argument("--timeout", type=float, help="seconds a call may run (FUNC_TIMEOUT)")
    serve.add_argument("--port", type=int, help="port to listen on (FUNC_PORT, default 8080)")
    serve.add_argument("--host", help="address to bind (default 0.0.0.0)")
    serve.add_argument("--env", action="append", default=[], metavar="K=V",
                       help="environment variable for the function (repeatable)")
    serve.add_argument("--dependencies", metavar="FILE",
                       help="requirements.txt to pip-install into a private folder first "
                            "(default: the requirements.txt at the root of a bundle)")
    serve.set_defaults(func=cmd_serve)


__all__ = ["cmd_serve", "install_dependencies", "prepare_source", "register", "serve_config"]

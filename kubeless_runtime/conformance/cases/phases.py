"""Level full: the installation and compilation phases, and the user the runtime runs as."""

from __future__ import annotations

import re
from typing import Optional

from ..model import (
    KUBELESS_NEW_RUNTIME,
    README_CONFIG,
    README_FLOW,
    CaseContext,
    Failed,
    ResolvedTarget,
    case,
    expect_json,
    short,
)


def _dependencies_apply(target: ResolvedTarget) -> Optional[str]:
    if target.spec is None:
        return (f"{target.runtime} is not in the catalog, so its installation phase (image "
                "and command) is unknown")
    if not target.spec.has_phase("installation"):
        return f"{target.runtime} has no installation phase in the catalog"
    if target.functions is None or target.functions.dependencies is None:
        return "the conformance functions of this language have no dependency file"
    return None


@case("dependencies", "full", "the installation phase installs a dependency the function uses",
      "Dependencies listed in the runtime's dependency file are installed in the install "
      "volume by the installation phase, and the function can use them",
      f"{KUBELESS_NEW_RUNTIME} §4; {README_CONFIG} (KUBELESS_INSTALL_VOLUME)",
      "install into $KUBELESS_INSTALL_VOLUME (pip install --prefix, npm install in the "
      "volume) and put that location on the runtime's import path", deployment="deps",
      applies=_dependencies_apply, deploy_failure_fails=True)
def check_dependencies(ctx: CaseContext) -> str:
    functions = ctx.target.functions
    assert functions is not None
    data = expect_json(ctx.command("deps"), f"the function importing {functions.dependency_name}")
    problems = []
    if data.get("version") != functions.dependency_version:
        problems.append(f"version {data.get('version')!r}")
    if not str(data.get("file", "")).startswith("/kubeless/"):
        problems.append(f"loaded from {data.get('file')!r}, not from /kubeless")
    if problems:
        raise Failed(f"{functions.dependency_name} {functions.dependency_version} loaded from "
                     "/kubeless", ", ".join(problems))
    return (f"{functions.dependency_name} {functions.dependency_version} imported from "
            f"{data.get('file')}")


def _compile_applies(target: ResolvedTarget) -> Optional[str]:
    if target.spec is None:
        return f"{target.runtime} is not in the catalog, so its compilation phase is unknown"
    if not target.spec.has_phase("compilation"):
        return f"{target.runtime} has no compilation phase"
    if target.functions is None or target.functions.compile_error is None:
        return "the conformance functions of this language have no compile-error source"
    return None


@case("compile-error", "full", "a compile error lands in the termination log",
      "A compilation phase that fails writes its error to /dev/termination-log, where "
      "Kubernetes shows it as the pod's termination message",
      f"{KUBELESS_NEW_RUNTIME} §5; Kubernetes termination messages",
      "make the compilation command write the compiler's error (its last lines) to "
      "/dev/termination-log and exit non-zero", deployment="compile",
      applies=_compile_applies, deploy_failure_fails=True)
def check_compile_error(ctx: CaseContext) -> str:
    functions = ctx.target.functions
    assert functions is not None and functions.compile_error is not None
    error = ctx.deploy_error()
    if error is None:
        raise Failed("the compilation phase to fail", "the broken function deployed and ran")
    if error.phase != "compilation":
        raise Failed("a failure in the compilation phase", f"a failure in the {error.phase} "
                     f"phase: {short(error.termination_message)}")
    pattern = functions.compile_error.expect
    if pattern and not re.search(pattern, error.termination_message):
        raise Failed(f"a termination message matching {pattern!r}",
                     short(error.termination_message) or "(empty)")
    return f"termination message: {short(error.termination_message, 80)}"


@case("non-root", "full", "the runtime runs as a non-root user",
      "The runtime container runs as a non-root user", f"{README_FLOW}; Kubernetes Pod "
      "Security Standards (restricted: runAsNonRoot)",
      "add a user and `USER 1000:1000` to the Dockerfile; do not start as root and drop "
      "privileges later")
def check_non_root(ctx: CaseContext) -> str:
    processes = ctx.processes()
    root = [f"pid {pid} ({command})" for pid, uid, command in processes if uid == "0"]
    if root:
        raise Failed("every process of the runtime container with a non-zero uid",
                     "running as root: " + ", ".join(root[:5]))
    uids = sorted({uid for _, uid, _ in processes})
    return f"{len(processes)} processes, uid {', '.join(uids)}"



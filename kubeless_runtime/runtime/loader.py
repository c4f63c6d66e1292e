"""Load a Kubeless function (``MOD_NAME`` + ``FUNC_HANDLER``) from its folder.

Loading runs inside each worker process, never in the HTTP process, so a
function's module-level code (a model, a client) is paid once per worker and
cannot hang or crash the server. Every failure is a :class:`FunctionLoadError`
whose message names the file, the line and the fix: it is what the user sees
in ``kubectl logs`` and in the pod's termination message.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterable, Optional, Sequence

from ..errors import KubelessRuntimeError


class FunctionLoadError(KubelessRuntimeError):
    """The function cannot be loaded; the message says where and what to do."""

    code = "function-load"


def _listing(folder: Path) -> str:
    try:
        names = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    except OSError:
        return "(cannot list it)"
    return ", ".join(names[:20]) + (" ..." if len(names) > 20 else "") if names else "(empty)"


def find_module_file(folder: Path, module_name: str) -> Path:
    """The file or package that ``module_name`` names inside ``folder``."""
    if not module_name:
        raise FunctionLoadError(
            "MOD_NAME is not set: the runtime does not know which module holds the function. "
            "Set MOD_NAME to the file name without '.py' (for --handler helloget.foo, "
            "MOD_NAME=helloget and FUNC_HANDLER=foo).")
    if not folder.is_dir():
        raise FunctionLoadError(
            f"The function folder {folder} does not exist. Mount the function there, or set "
            "KUBELESS_INSTALL_VOLUME to the folder that holds it.")
    candidates = [folder / f"{module_name}.py", folder / module_name / "__init__.py"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FunctionLoadError(
        f"{candidates[0]} does not exist (MOD_NAME={module_name}); the folder holds: "
        f"{_listing(folder)}. Check the module part of --handler (MOD_NAME) against the "
        "file name you deployed.")


def _user_frame(exc: BaseException, path: Path) -> Optional[int]:
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve() == path.resolve():
            line = frame.lineno
    return line


def import_function_module(path: Path, module_name: str) -> ModuleType:
    """Import the function's module as ``module_name`` from ``path``."""
    spec = importlib.util.spec_from_file_location(
        module_name, path,
        submodule_search_locations=[str(path.parent)] if path.name == "__init__.py" else None)
    if spec is None or spec.loader is None:
        raise FunctionLoadError(f"{path} cannot be imported as a Python module; "
                                "a function file must end in .py.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(module_name, None)
        text = (exc.text or "").strip()
        where = f"{exc.filename or path}, line {exc.lineno}"
        raise FunctionLoadError(
            f"Syntax error in {where}: {exc.msg}" + (f": {text!r}" if text else "")
            + ". Fix the code and deploy it again.") from None
    except ImportError as exc:
        sys.modules.pop(module_name, None)
        line = _user_frame(exc, path)
        missing = getattr(exc, "name", None)
        hint = (f"Add '{missing}' to the function's dependencies (requirements.txt, deployed "
                "with --dependencies) so the installation phase installs it."
                if isinstance(exc, ModuleNotFoundError) and missing else
                "Check the import and that the dependency is in requirements.txt.")
        raise FunctionLoadError(
            f"Importing {path} failed at line {line}: {type(exc).__name__}: {exc}. {hint}"
        ) from None
    except BaseException as exc:  # noqa: BLE001 - module code may raise anything, even SystemExit
        sys.modules.pop(module_name, None)
        line = _user_frame(exc, path)
        raise FunctionLoadError(
            f"The module-level code of {path} raised {type(exc).__name__} at line {line}: {exc}. "
            "Code outside the handler runs once when the runtime starts; fix it or move it into "
            "the handler.") from None
    return module


PRIVATE_PREFIX = "_kubeless_function_"


def _is_stdlib(name: str) -> bool:
    names = getattr(sys, "stdlib_module_names", None)  # Python 3.10+
    if names is not None:
        return name in names
    import sysconfig

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    origin = (spec and spec.origin) or ""
    roots = {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib")}
    return origin in ("built-in", "frozen") or (
        "site-packages" not in origin and any(origin.startswith(root) for root in roots))


def import_name(module_name: str) -> str:
    """The name the function's module is imported under.

    Kubeless imports it as MOD_NAME, so a function file called ``os.py`` or ``json.py`` would
    replace that module for the whole worker (the runtime, the function's dependencies and the
    function itself).  Such a file is imported under a private name instead; MOD_NAME still
    names the file, and ``import json`` anywhere still gives the standard library's module.
    """
    if _is_stdlib(module_name) or module_name in sys.modules:
        return PRIVATE_PREFIX + module_name
    return module_name


def _accepts_event_and_context(func: Callable) -> bool:
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return True
    try:
        signature.bind(None, None)
    except TypeError:
        return False
    return True


def load_function(folder: Path, module_name: str, handler_name: str,
                  extra_paths: Sequence[Path] = ()) -> Callable:
    """Import ``module_name`` from ``folder`` and return its ``handler_name``."""
    path = find_module_file(folder, module_name)
    if not handler_name:
        raise FunctionLoadError(
            f"FUNC_HANDLER is not set: the runtime does not know which function of {path} to "
            "call. Set FUNC_HANDLER to its name (for --handler helloget.foo, FUNC_HANDLER=foo).")
    name = import_name(module_name)
    if name != module_name and _is_stdlib(module_name):
        try:  # the real module first, so the function folder on sys.path cannot shadow it
            importlib.import_module(module_name)
        except ImportError:
            pass
    _prepend_paths([folder, *extra_paths])
    module = import_function_module(path, name)
    if not hasattr(module, handler_name):
        defined = [name for name, value in vars(module).items()
                   if inspect.isfunction(value) and not name.startswith("_")
                   and getattr(value, "__module__", None) == module.__name__]
        raise FunctionLoadError(
            f"{path} has no function '{handler_name}' (FUNC_HANDLER={handler_name}); it defines: "
            f"{', '.join(defined) or 'no functions'}. Fix the function part of --handler "
            f"MODULE.FUNCTION.")
    func = getattr(module, handler_name)
    if not callable(func):
        raise FunctionLoadError(
            f"{path}: '{handler_name}' is a {type(func).__name__}, not a function. "
            f"Point FUNC_HANDLER at a function defined as 'def {handler_name}(event, context):'.")
    if not _accepts_event_and_context(func):
        line = getattr(getattr(func, "__code__", None), "co_firstlineno", None)
        raise FunctionLoadError(
            f"{path}, line {line}: '{handler_name}' cannot be called with (event, context). "
            f"Define it as 'def {handler_name}(event, context):'.")
    return func


def _prepend_paths(paths: Iterable[Path]) -> None:
    for path in reversed([str(p) for p in paths]):
        if path in sys.path:
            sys.path.remove(path)
        sys.path.insert(0, path)


def write_termination_log(message: str, path: str = "/dev/termination-log") -> bool:
    """Write ``message`` where Kubernetes reads a container's termination message.

    Kubernetes (and ``kubeless-runtime deploy``) mount that file; when it is
    absent we are not in a pod, and creating it under /dev would be wrong.
    """
    if path == "/dev/termination-log" and not os.path.exists(path):
        return False
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(message)
        return True
    except OSError:
        return False

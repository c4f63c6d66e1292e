"""The conformance functions: one folder per language under ``conformance/functions/``.

Adding a language to the suite is adding a folder: ``functions/<language>/`` holding the
function (written in that language's Kubeless style), its dependency file and a
``conformance.json`` manifest that says which file is which::

    {
      "source": "conformance.js",            # the function, deployed as MOD_NAME + suffix
      "handler": "conformance.handler",      # MODULE.FUNCTION, as --handler
      "dependencies": "package.json",        # for the installation-phase case (optional)
      "dependency": {"name": "is-number", "version": "7.0.0"},
      "compile_error": {"source": "broken.go", "handler": "broken.Handler",
                        "expect": "a regex the termination message must match"}   # or null
    }

Every function answers the same requests the same way (see the python one's docstring), so
the cases in :mod:`cases` are written once for all languages.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from ..errors import KubelessRuntimeError

MANIFEST = "conformance.json"
FUNCTIONS_DIR = Path(__file__).resolve().parent / "functions"
GREETING = "kubeless-conformance: hello from the function"
"""What every conformance function answers to a request without a body."""


class FunctionSetError(KubelessRuntimeError):
    """A language folder is missing or its manifest is malformed; the message names the file."""

    code = "function-set"


@dataclass(frozen=True)
class CompileErrorSpec:
    """A source that must fail the compilation phase, and what its message must contain."""

    source: Path
    handler: str
    expect: str


@dataclass(frozen=True)
class FunctionSet:
    """The conformance functions of one language."""

    language: str
    folder: Path
    source: Path
    handler: str
    dependencies: Optional[Path] = None
    dependency_name: str = ""
    dependency_version: str = ""
    compile_error: Optional[CompileErrorSpec] = None

    @property
    def module(self) -> str:
        return self.handler.rpartition(".")[0]


def languages(base: Optional[Path] = None) -> List[str]:
    """Languages that have a conformance folder with a manifest."""
    base = base or FUNCTIONS_DIR
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if (p / MANIFEST).is_file())


def language_of(runtime: str) -> str:
    """A language for a runtime the catalog does not list (a custom image under test).

    Catalog runtimes take their language from their catalog file; for an unknown name the
    conformance folder whose name starts it is the best guess (``mypython3`` has none,
    ``python3.12`` -> python); the leading letters otherwise, which names a missing folder.
    """
    name = runtime.lower()
    for language in sorted(languages(), key=len, reverse=True):
        if name.startswith(language):
            return language
    match = re.match(r"[a-z]+", name)
    return match.group(0) if match else name


def load_function_set(language: str, base: Optional[Path] = None) -> FunctionSet:
    """The :class:`FunctionSet` of ``language``, or :class:`FunctionSetError`."""
    base = base or FUNCTIONS_DIR
    folder = base / language
    manifest = folder / MANIFEST
    if not manifest.is_file():
        known = ", ".join(languages(base)) or "none"
        raise FunctionSetError(
            f"no conformance functions for language {language!r} (looked for {manifest}); "
            f"languages with functions: {known}. Run --level custom, or add a folder "
            f"{folder} with a {MANIFEST} (see kubeless_runtime/conformance/functions/PROTOCOL.md)")
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FunctionSetError(f"{manifest} is not readable JSON: {exc}") from None
    if not isinstance(data, dict):
        raise FunctionSetError(f"{manifest}: must be a JSON object")

    def file(key: str, required: bool = True) -> Optional[Path]:
        value = data.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or "/" in value or value in (".", ".."):
            raise FunctionSetError(f"{manifest}: {key!r} must be a file name in {folder}")
        path = folder / value
        if not path.is_file():
            raise FunctionSetError(f"{manifest}: {key!r} names {path}, which does not exist")
        return path

    handler = data.get("handler")
    if not isinstance(handler, str) or "." not in handler:
        raise FunctionSetError(f"{manifest}: 'handler' must be MODULE.FUNCTION")
    compile_error = None
    raw = data.get("compile_error")
    if raw is not None:
        if not isinstance(raw, dict) or not isinstance(raw.get("handler"), str):
            raise FunctionSetError(f"{manifest}: 'compile_error' must be null or an object "
                                   "with source, handler and expect")
        broken = folder / str(raw.get("source", ""))
        if not broken.is_file():
            raise FunctionSetError(f"{manifest}: compile_error source {broken} does not exist")
        compile_error = CompileErrorSpec(broken, raw["handler"], str(raw.get("expect", "")))
    dependency = data.get("dependency") or {}
    source = file("source")
    if source is None:  # pragma: no cover - file() raises for a required key
        raise FunctionSetError(f"{manifest}: 'source' is required")
    return FunctionSet(language=language, folder=folder, source=source,
                       handler=handler, dependencies=file("dependencies", required=False),
                       dependency_name=str(dependency.get("name", "")),
                       dependency_version=str(dependency.get("version", "")),
                       compile_error=compile_error)


__all__ = ["FUNCTIONS_DIR", "GREETING", "CompileErrorSpec", "FunctionSet", "FunctionSetError",
           "language_of", "languages", "load_function_set"]

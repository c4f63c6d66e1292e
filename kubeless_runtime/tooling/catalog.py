"""The runtime catalog: which runtimes exist, their images per phase and how to build them.

One file per language, ``images/<lang>/runtime.json``, is the source of truth for that
language: its Kubeless ``runtime-images`` entries (ID, depName, fileNameSuffix, versions and
their phase images, livenessProbeInfo) written compactly, shared blocks (a phase's command,
env and Dockerfile; the probe) once, plus our own typed fields (language, hardTimeouts, what
goes into the build context, each image's size budget).  :func:`load_catalog` expands and
merges the files into Kubeless's shape; ``kubeless-runtime config`` prints exactly that shape,
none of our keys.  Adding a language is a folder under ``images/``: nothing here knows one.

Runtime names are spelt as Kubeless spells them: ``ID`` + ``version`` (``python3.11``,
``nodejs20``, ``nodejs_distroless20``).
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import kubeless_runtime

from ..errors import KubelessRuntimeError

LANGUAGE_FILE = "runtime.json"
PHASES = ("installation", "compilation", "runtime")
"""Kubeless's phases, in the order they run."""
OUR_KEYS = {"entry": ("language", "buildContext"), "version": ("hardTimeouts",),
            "image": ("build", "sizeBudgetMB")}
"""Keys of ours in the expanded document; never part of what Kubeless is given."""


class CatalogError(KubelessRuntimeError):
    """The catalog file is missing or malformed; the message names the file and the entry."""

    code = "catalog"


class UnknownRuntimeError(CatalogError, LookupError):
    """A runtime name the catalog does not list; the message lists the known ones."""

    code = "unknown-runtime"

    def __init__(self, runtime: str, known: List[str]) -> None:
        self.runtime = runtime
        self.known = list(known)
        super().__init__(
            f"unknown runtime {runtime!r}; supported runtimes are: {', '.join(known) or 'none'}"
            " (or pass --runtime-image IMAGE to run a custom image)")


class UnknownPhaseError(CatalogError, LookupError):
    """The runtime has no image for the asked phase; the message lists the phases it has."""

    code = "unknown-phase"

    def __init__(self, runtime: str, phase: str, known: List[str]) -> None:
        self.runtime = runtime
        self.phase = phase
        super().__init__(f"runtime {runtime!r} has no {phase!r} phase; it has: "
                         f"{', '.join(known)}")


@dataclass(frozen=True)
class BuildSpec:
    """How we build one image: ``images/<directory>/<dockerfile>`` with ``args``."""

    directory: str
    dockerfile: str = "Dockerfile"
    args: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PhaseImage:
    """One image of a runtime version, for one Kubeless phase."""

    phase: str
    image: str
    command: Optional[str] = None
    env: Mapping[str, str] = field(default_factory=dict)
    build: Optional[BuildSpec] = None
    size_budget_mb: Optional[float] = None


@dataclass(frozen=True)
class Runtime:
    """One runtime version, e.g. ``python3.11``: its images, dependency file and probe."""

    name: str
    id: str
    version: str
    version_name: str
    dep_name: str
    file_name_suffix: str
    images: Tuple[PhaseImage, ...]
    liveness_probe: Optional[Mapping[str, Any]] = None
    language: str = ""
    hard_timeouts: Optional[bool] = None
    context_package: bool = True
    """Whether the build context carries the ``kubeless_runtime`` package (Python images)."""
    context_exclude: Tuple[str, ...] = ()
    """Folder or file names (glob patterns) kept out of the build context."""

    @property
    def phases(self) -> List[str]:
        return [image.phase for image in self.images]

    def image(self, phase: str) -> PhaseImage:
        """The image of ``phase``, or :class:`UnknownPhaseError`."""
        for image in self.images:
            if image.phase == phase:
                return image
        raise UnknownPhaseError(self.name, phase, self.phases)

    def has_phase(self, phase: str) -> bool:
        return any(image.phase == phase for image in self.images)

    @property
    def probe_path(self) -> str:
        """The HTTP path the liveness probe asks (``/healthz`` unless the catalog says)."""
        probe = self.liveness_probe or {}
        path = (probe.get("httpGet") or {}).get("path")
        return path if isinstance(path, str) and path.startswith("/") else "/healthz"


class Catalog:
    """A loaded catalog: the raw Kubeless-shaped document and the runtimes it lists."""

    def __init__(self, document: List[Dict[str, Any]], source: str = "<catalog>",
                 base_dir: Optional[Path] = None) -> None:
        self.document = document
        self.source = source
        self.base_dir = base_dir
        self._runtimes = _parse(document, source)

    @property
    def runtimes(self) -> List[Runtime]:
        return list(self._runtimes.values())

    @property
    def names(self) -> List[str]:
        return list(self._runtimes)

    def runtime(self, name: str) -> Runtime:
        """The runtime called ``name`` (``python3.11``), or :class:`UnknownRuntimeError`."""
        try:
            return self._runtimes[name]
        except KeyError:
            raise UnknownRuntimeError(name, self.names) from None

    def __contains__(self, name: object) -> bool:
        return name in self._runtimes

    def kubeless_config(self) -> List[Dict[str, Any]]:
        """The ``runtime-images`` value for Kubeless's ConfigMap: the catalog minus ``build``."""
        document = copy.deepcopy(self.document)
        for entry in document:
            for key in OUR_KEYS["entry"]:
                entry.pop(key, None)
            for version in entry.get("versions", []):
                for key in OUR_KEYS["version"]:
                    version.pop(key, None)
                for image in version.get("images", []):
                    for key in OUR_KEYS["image"]:
                        image.pop(key, None)
        return document

    def languages(self) -> List[str]:
        """Every language, in catalog order."""
        return list(dict.fromkeys(runtime.language for runtime in self.runtimes))

    def of_language(self, language: str) -> List[Runtime]:
        """The runtimes of ``language`` (``python`` -> python3.11, python3.13)."""
        return [runtime for runtime in self.runtimes if runtime.language == language]

    def retagged(self, rename: Callable[[str], str]) -> Catalog:
        """A copy whose image references are ``rename(image)``.

        Why: tests (and forks) build the same Dockerfiles under their own tags without
        touching the shipped catalog.
        """
        document = copy.deepcopy(self.document)
        for entry in document:
            for version in entry.get("versions", []):
                for image in version.get("images", []):
                    image["image"] = rename(image["image"])
        return Catalog(document, source=f"{self.source} (retagged)", base_dir=self.base_dir)

    def with_runtime(self, runtime: Runtime) -> Catalog:
        """A copy where ``runtime`` replaces the entry of the same name (tests, overrides)."""
        clone = Catalog(copy.deepcopy(self.document), self.source, self.base_dir)
        clone._runtimes[runtime.name] = runtime
        return clone


_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def _require(mapping: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = mapping.get(key)
    if not isinstance(value, kind) or (isinstance(value, str) and not value):
        raise CatalogError(f"{where}: {key!r} must be a non-empty {kind.__name__}, "
                           f"got {value!r}")
    return value


def _str_map(value: Any, where: str) -> Dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise CatalogError(f"{where}: must be an object of strings, got {value!r}")
    return dict(value)


def _parse(document: Any, source: str) -> Dict[str, Runtime]:
    if not isinstance(document, list):
        raise CatalogError(f"{source}: the catalog must be a JSON list of runtimes "
                           "(Kubeless's runtime-images shape)")
    runtimes: Dict[str, Runtime] = {}
    for index, entry in enumerate(document):
        where = f"{source}: runtime #{index}"
        if not isinstance(entry, dict):
            raise CatalogError(f"{where}: must be an object")
        runtime_id = _require(entry, "ID", str, where)
        if not _NAME_RE.match(runtime_id):
            raise CatalogError(f"{where}: ID {runtime_id!r} must match {_NAME_RE.pattern}")
        where = f"{source}: runtime {runtime_id!r}"
        dep_name = _require(entry, "depName", str, where)
        suffix = entry.get("fileNameSuffix", "")
        if not isinstance(suffix, str):
            raise CatalogError(f"{where}: 'fileNameSuffix' must be a string")
        if "/" in dep_name or dep_name in (".", ".."):
            raise CatalogError(f"{where}: depName {dep_name!r} must be a plain file name")
        probe = entry.get("livenessProbeInfo")
        if probe is not None and not isinstance(probe, dict):
            raise CatalogError(f"{where}: 'livenessProbeInfo' must be an object")
        language = entry.get("language", runtime_id)
        if not isinstance(language, str) or not _NAME_RE.match(language):
            raise CatalogError(f"{where}: 'language' must match {_NAME_RE.pattern}")
        context = entry.get("buildContext") or {}
        exclude = context.get("exclude", []) if isinstance(context, dict) else None
        if not isinstance(exclude, list) or not all(isinstance(x, str) for x in exclude):
            raise CatalogError(f"{where}: 'buildContext' must be an object with 'package' "
                               "(true/false) and 'exclude' (a list of names)")
        for version in _require(entry, "versions", list, where):
            vwhere = f"{where} version {version.get('name', '?')!r}"
            version_name = _require(version, "name", str, vwhere)
            version_number = _require(version, "version", str, vwhere)
            name = runtime_id + version_number
            images = []
            for image in _require(version, "images", list, vwhere):
                images.append(_parse_image(image, f"{source}: {name}"))
            phases = [image.phase for image in images]
            if "runtime" not in phases:
                raise CatalogError(f"{source}: {name} has no 'runtime' phase image")
            if len(set(phases)) != len(phases):
                raise CatalogError(f"{source}: {name} lists a phase twice: {phases}")
            if name in runtimes:
                raise CatalogError(f"{source}: runtime {name!r} is listed twice")
            images.sort(key=lambda image: PHASES.index(image.phase))
            hard = version.get("hardTimeouts")
            if hard is not None and not isinstance(hard, bool):
                raise CatalogError(f"{vwhere}: 'hardTimeouts' must be true or false")
            runtimes[name] = Runtime(
                name=name, id=runtime_id, version=version_number, version_name=version_name,
                dep_name=dep_name, file_name_suffix=suffix, images=tuple(images),
                liveness_probe=probe, language=language, hard_timeouts=hard,
                context_package=bool(context.get("package", True)),
                context_exclude=tuple(context.get("exclude") or ()))
    return runtimes


def _parse_image(image: Any, where: str) -> PhaseImage:
    if not isinstance(image, dict):
        raise CatalogError(f"{where}: every image must be an object")
    phase = _require(image, "phase", str, where)
    if phase not in PHASES:
        raise CatalogError(f"{where}: unknown phase {phase!r}; phases are {', '.join(PHASES)}")
    where = f"{where} {phase}"
    ref = _require(image, "image", str, where)
    command = image.get("command")
    if command is not None and not isinstance(command, str):
        raise CatalogError(f"{where}: 'command' must be a string (run with sh -c)")
    if phase != "runtime" and not command:
        raise CatalogError(f"{where}: the {phase} phase needs a 'command'")
    build = None
    if image.get("build") is not None:
        raw = image["build"]
        if not isinstance(raw, dict):
            raise CatalogError(f"{where}: 'build' must be an object")
        directory = _require(raw, "directory", str, f"{where} build")
        if Path(directory).is_absolute() or ".." in Path(directory).parts:
            raise CatalogError(f"{where} build: directory {directory!r} must be a folder "
                               "under images/")
        build = BuildSpec(directory=directory,
                          dockerfile=raw.get("dockerfile") or "Dockerfile",
                          args=_str_map(raw.get("args"), f"{where} build args"))
    budget = image.get("sizeBudgetMB")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, (int, float))):
        raise CatalogError(f"{where}: 'sizeBudgetMB' must be a number of megabytes")
    return PhaseImage(phase=phase, image=ref, command=command,
                      env=_str_map(image.get("env"), f"{where} env"), build=build,
                      size_budget_mb=budget)


def expand_language_file(data: Any, directory: str, source: str) -> List[Dict[str, Any]]:
    """The Kubeless-shaped entries of one ``images/<lang>/runtime.json``.

    Shared blocks are written once in the file: ``phases`` (per phase its command, env and
    Dockerfile), ``livenessProbeInfo``, ``hardTimeouts``, ``buildContext``; each version names
    its image per phase (a string, or an object that overrides the phase's fields) and its
    ``buildArgs``.  The result carries our keys (``build``, ...) beside Kubeless's.
    """
    if not isinstance(data, dict):
        raise CatalogError(f"{source}: a language file must be a JSON object with 'language', "
                           "'phases' and 'runtimes'")
    language = _require(data, "language", str, source)
    phases = data.get("phases") or {}
    if not isinstance(phases, dict) or any(phase not in PHASES for phase in phases):
        raise CatalogError(f"{source}: 'phases' must be an object keyed by {', '.join(PHASES)}")
    entries = []
    for raw_entry in _require(data, "runtimes", list, source):
        if not isinstance(raw_entry, dict):
            raise CatalogError(f"{source}: every item of 'runtimes' must be an object")
        entry = {key: copy.deepcopy(value) for key, value in raw_entry.items()
                 if key != "versions"}
        entry["language"] = language
        for key in ("livenessProbeInfo", "buildContext"):
            if key in data and key not in entry:
                entry[key] = copy.deepcopy(data[key])
        versions = []
        for raw in _require(raw_entry, "versions", list, f"{source}: {entry.get('ID')}"):
            if not isinstance(raw, dict) or not isinstance(raw.get("images"), dict):
                raise CatalogError(f"{source}: version {raw!r} needs 'images', an object of "
                                   "phase -> image")
            version = {key: copy.deepcopy(value) for key, value in raw.items()
                       if key not in ("images", "buildArgs")}
            if "hardTimeouts" in data and "hardTimeouts" not in version:
                version["hardTimeouts"] = data["hardTimeouts"]
            images = []
            for phase in PHASES:
                if phase not in raw["images"]:
                    continue
                given = raw["images"][phase]
                given = {"image": given} if isinstance(given, str) else dict(given)
                shared = dict(phases.get(phase) or {})
                merged = {"phase": phase, "image": given.get("image")}
                for key in ("command", "env"):
                    value = given.get(key, shared.get(key))
                    if value is not None:
                        merged[key] = copy.deepcopy(value)
                if "sizeBudgetMB" in given:
                    merged["sizeBudgetMB"] = given["sizeBudgetMB"]
                merged["build"] = {
                    "directory": directory,
                    "dockerfile": given.get("dockerfile") or shared.get("dockerfile")
                    or "Dockerfile",
                    "args": dict(raw.get("buildArgs") or {}),
                }
                images.append(merged)
            unknown = set(raw["images"]) - set(PHASES)
            if unknown:
                raise CatalogError(f"{source}: unknown phase(s) {sorted(unknown)}; phases are "
                                   f"{', '.join(PHASES)}")
            version["images"] = images
            versions.append(version)
        entry["versions"] = versions
        entries.append(entry)
    return entries


def _language_files(folder: Path) -> List[Path]:
    return sorted(folder.glob(f"*/{LANGUAGE_FILE}"), key=lambda p: (_ORDER.get(p.parent.name, 99),
                                                                    p.parent.name))


_ORDER = {"python": 0, "nodejs": 1}
"""The first languages, in Kubeless's own order; the rest follow alphabetically."""


def images_dir() -> Path:
    """The folder holding one ``<lang>/runtime.json`` and the Dockerfiles per language.

    Why several places: a wheel ships ``images/`` as ``kubeless_runtime/_images``; a source
    checkout or an editable install has it as the repository's ``images/``.
    """
    package = Path(kubeless_runtime.__file__).resolve().parent
    candidates = [package / "_images"]
    try:  # an editable install maps kubeless_runtime._images onto the repository's images/
        import importlib.util

        spec = importlib.util.find_spec("kubeless_runtime._images")
        if spec is not None and spec.submodule_search_locations:
            candidates.extend(Path(p) for p in spec.submodule_search_locations)
    except (ImportError, ValueError):
        pass
    candidates.append(package.parent / "images")
    for candidate in candidates:
        if candidate.is_dir() and _language_files(candidate):
            return candidate.resolve()
    raise CatalogError("cannot find the runtime catalog: looked for "
                       + ", ".join(str(c / "*" / LANGUAGE_FILE) for c in candidates)
                       + "; reinstall kubeless-runtime or run from a source checkout")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogError(f"cannot read the catalog {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise CatalogError(f"{path} is not valid JSON: {exc}") from None


def load_catalog(path: Optional[Path] = None) -> Catalog:
    """Load and validate the catalog: the shipped language files unless ``path`` is given.

    ``path`` may be a folder of ``<lang>/runtime.json`` files, one language file, or a JSON
    list in Kubeless's ``runtime-images`` shape.
    """
    path = Path(path) if path is not None else images_dir()
    if path.is_dir():
        files = _language_files(path)
        if not files:
            raise CatalogError(f"cannot read the catalog {path}: no */{LANGUAGE_FILE} in it")
        document: List[Dict[str, Any]] = []
        for file in files:
            document += expand_language_file(_read_json(file), file.parent.name, str(file))
        return Catalog(document, source=str(path), base_dir=path)
    data = _read_json(path)
    if isinstance(data, dict):
        document = expand_language_file(data, path.parent.name, str(path))
        return Catalog(document, source=str(path), base_dir=path.parent.parent)
    return Catalog(data, source=str(path), base_dir=path.parent)


def get_runtime(name: str, catalog: Optional[Catalog] = None) -> Runtime:
    """Shortcut: the runtime ``name`` of ``catalog`` (the shipped one by default)."""
    return (catalog or load_catalog()).runtime(name)


def runtime_names(catalog: Optional[Catalog] = None) -> List[str]:
    """Every runtime name, in catalog order (what ``get-server-config`` prints)."""
    return (catalog or load_catalog()).names


__all__ = [
    "LANGUAGE_FILE", "PHASES", "BuildSpec", "Catalog", "CatalogError", "PhaseImage", "Runtime",
    "expand_language_file",
    "UnknownPhaseError", "UnknownRuntimeError", "get_runtime", "images_dir", "load_catalog",
    "runtime_names",
]

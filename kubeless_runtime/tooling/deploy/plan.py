"""Turn a :class:`DeploySpec` into what each phase container gets, without touching Docker.

Pure, so unit tests check the images, commands, environment and archive of every phase.
Values (function name, handler, dependency file name, --env values, registry settings) reach
a phase only as environment variables or files: the catalog's command is fixed text run as
``sh -c COMMAND``, and the shell expands "$VAR" without re-parsing it, so quotes, ``;`` or
``$(...)`` in a value stay literal.
"""

from __future__ import annotations

import io
import os
import re
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

from ...bundle import BundleError, UnsafeBundleError, bundle_entries, bundle_format
from ...contract import INSTALL_VOLUME, UsageError, split_handler
from ...quantity import format_memory, parse_memory
from ..catalog import Catalog, Runtime, UnknownRuntimeError, load_catalog
from .errors import InvalidSpecError, UnsafeArchiveError
from .spec import DeploySpec, validate_env, validate_name

CUSTOM_FUNCTION_FILE = "function"
"""File name of the function for a runtime the catalog does not know (custom image)."""

# Host settings that reach the installation/compilation phases (as env vars, never as text).
REGISTRY_ENV = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST", "PIP_DEFAULT_TIMEOUT",
                "NPM_CONFIG_REGISTRY", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy",
                "https_proxy", "no_proxy")
_REF_RE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def expand_references(value: str, defined: Mapping[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion for catalog env values (``$$`` is a literal ``$``).

    Why: Kubeless catalogs write e.g. ``NODE_PATH=$(KUBELESS_INSTALL_VOLUME)/node_modules``.
    Only catalog values are expanded; user values are passed verbatim.
    """
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return defined.get(name, match.group(0))

    return _REF_RE.sub(replace, value)


def _tar_add(tar: tarfile.TarFile, name: str, data: Optional[bytes], mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = int(time.time())
    info.mode = mode
    if data is None:
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    else:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def safe_bundle_entries(data: bytes,
                        source: str = "bundle") -> List[Tuple[str, Optional[bytes], int]]:
    """The checked entries of a zip or tar bundle (chosen by ``source``'s name), with its
    errors as preparation-phase deploy errors."""
    try:
        return bundle_entries(data, source)
    except UnsafeBundleError as exc:
        raise UnsafeArchiveError(str(exc)) from None
    except BundleError as exc:
        raise InvalidSpecError(str(exc)) from None


def _read_input(flag: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidSpecError(f"cannot read {flag} {path}: {exc.strerror or exc}") from None


def source_archive(runtime: Optional[Runtime], module: Optional[str],
                   from_file: Optional[str], dependencies: Optional[str]) -> bytes:
    """The tar the preparation phase extracts at "/": entries are ``kubeless/...``."""
    return _source_archive(runtime, module, from_file, dependencies)[0]


def _source_archive(runtime: Optional[Runtime], module: Optional[str],
                    from_file: Optional[str], dependencies: Optional[str]) -> Tuple[bytes, bool]:
    """:func:`source_archive`, and whether a bundle holds the runtime's dependency file."""
    bundled_deps = False
    root = INSTALL_VOLUME.strip("/")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        # Extracted at "/": the entry for the volume root itself makes it writable by the
        # function (uid 1000), like an emptyDir (0777); a "." entry would be ignored.
        _tar_add(tar, root, None, 0o777)
        if from_file:
            path = Path(from_file)
            data = _read_input("--from-file", path)
            if bundle_format(path.name):
                for relative, content, mode in safe_bundle_entries(data, str(from_file)):
                    _tar_add(tar, f"{root}/{relative}", content, mode)
                    if runtime is not None and relative == runtime.dep_name and content is not None:
                        bundled_deps = True
            else:
                if runtime is None:
                    target = CUSTOM_FUNCTION_FILE
                else:
                    if not module or "/" in module or module in (".", ".."):
                        raise InvalidSpecError(f"module {module!r} cannot be a file name")
                    target = f"{module}{runtime.file_name_suffix}"
                _tar_add(tar, f"{root}/{target}", data, 0o644)
        if dependencies:
            path = Path(dependencies)
            data = _read_input("--dependencies", path)
            target = runtime.dep_name if runtime is not None else path.name
            _tar_add(tar, f"{root}/{target}", data, 0o644)  # after the bundle's: it wins
    return buffer.getvalue(), bundled_deps


@dataclass
class Plan:
    """Everything :func:`deploy` decided before touching the engine."""

    name: str
    runtime_name: str
    runtime: Optional[Runtime]
    module: str
    function: str
    handler: str
    images: Dict[str, str]
    commands: Dict[str, str]
    phase_env: Dict[str, Dict[str, str]]
    runtime_env: Dict[str, str]
    memory: int
    port: int
    archive: bytes
    probe_path: str
    probe_any_status: bool
    notes: Tuple[str, ...] = ()


def plan_deployment(spec: DeploySpec, catalog: Optional[Catalog] = None,
                    host_env: Optional[Mapping[str, str]] = None) -> Plan:
    """Validate ``spec`` and compute the images, commands and env of every phase."""
    name, runtime, from_file, handler = spec.name, spec.runtime, spec.from_file, spec.handler
    dependencies, timeout, memory, port = spec.dependencies, spec.timeout, spec.memory, spec.port
    runtime_image = spec.runtime_image
    user_env = validate_env(spec.env)
    validate_name(name)
    try:
        memory_bytes, memory_text = parse_memory(memory), format_memory(memory)
    except UsageError as exc:
        raise InvalidSpecError(str(exc), function=name) from None
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise InvalidSpecError(f"port {port!r} is not a TCP port (1-65535)")
    if not timeout or float(timeout) <= 0:
        raise InvalidSpecError(f"timeout {timeout!r} must be a positive number of seconds")
    catalog = catalog or load_catalog()
    known: Optional[Runtime] = None
    try:
        known = catalog.runtime(runtime) if runtime else None
    except UnknownRuntimeError:
        if not runtime_image:
            raise
    if known is None and not runtime_image:
        raise InvalidSpecError("give --runtime (see `kubeless-runtime get-server-config`) or "
                               "--runtime-image IMAGE", function=name)
    module = function = ""
    if handler:
        try:
            module, function = split_handler(handler)
        except UsageError as exc:
            raise InvalidSpecError(str(exc), function=name) from None
    elif known is not None and (from_file or not runtime_image):
        raise InvalidSpecError(f"runtime {known.name} needs --handler MODULE.FUNCTION "
                               "(e.g. helloget.foo)", function=name)
    if known is not None and not from_file and not runtime_image:
        raise InvalidSpecError("--from-file is required: the function's source file or zip",
                               function=name)
    if from_file and not Path(from_file).is_file():
        raise InvalidSpecError(f"--from-file {from_file} does not exist", function=name)
    if dependencies and not Path(dependencies).is_file():
        raise InvalidSpecError(f"--dependencies {dependencies} does not exist", function=name)

    archive, bundled_deps = _source_archive(known, module, from_file, dependencies)
    notes: Tuple[str, ...] = ()
    if bundled_deps and not dependencies and known is not None:
        # Kubeless installs the dependency file a bundle carries; --dependencies still wins.
        notes = (f"{from_file} holds {known.dep_name} at its root: the installation phase "
                 "installs it (give --dependencies to use another file)",)
    installs = bool(dependencies) or bool(notes)
    images: Dict[str, str] = {}
    commands: Dict[str, str] = {}
    catalog_env: Dict[str, Dict[str, str]] = {}
    overrides = {"installation": spec.installation_image,
                 "compilation": spec.compilation_image, "runtime": runtime_image}
    if known is not None:
        for image in known.images:
            if image.phase == "installation" and not installs:
                continue  # Kubeless adds the installation container only with dependencies
            images[image.phase] = overrides[image.phase] or image.image
            if image.command:
                commands[image.phase] = image.command
            catalog_env[image.phase] = dict(image.env)
    if runtime_image:
        images["runtime"] = runtime_image
    runtime_name = known.name if known is not None else (runtime or "custom")
    timeout_text = str(int(timeout)) if float(timeout).is_integer() else str(timeout)
    deps_name = (known.dep_name if known is not None
                 else Path(dependencies).name if dependencies else "dependencies")
    base = {
        "KUBELESS_INSTALL_VOLUME": INSTALL_VOLUME,
        "KUBELESS_DEPS_FILE": f"{INSTALL_VOLUME}/{deps_name}",
        "KUBELESS_FUNC_NAME": name,
        "MOD_NAME": module,
        "FUNC_HANDLER": function,
        "FUNC_RUNTIME": runtime_name,
    }
    host_env = os.environ if host_env is None else host_env
    registry = {key: host_env[key] for key in REGISTRY_ENV if host_env.get(key)}
    phase_env: Dict[str, Dict[str, str]] = {}
    for phase in ("installation", "compilation"):
        if phase not in images:
            continue
        values = dict(user_env)
        values.update(registry)
        values.update(base)
        for key, value in catalog_env.get(phase, {}).items():
            values[key] = expand_references(value, values)
        phase_env[phase] = values
    runtime_env = dict(user_env)
    runtime_env.update({
        "FUNC_HANDLER": function,
        "MOD_NAME": module,
        "FUNC_TIMEOUT": timeout_text,
        "FUNC_RUNTIME": runtime_name,
        "FUNC_MEMORY_LIMIT": memory_text,
        "FUNC_PORT": str(port),
        "KUBELESS_INSTALL_VOLUME": INSTALL_VOLUME,
        "KUBELESS_FUNC_NAME": name,
    })
    for key, value in catalog_env.get("runtime", {}).items():
        runtime_env[key] = expand_references(value, runtime_env)
    if not handler:
        for key in ("FUNC_HANDLER", "MOD_NAME"):
            runtime_env.pop(key, None)
    return Plan(name=name, runtime_name=runtime_name, runtime=known, module=module,
                 function=function, handler=handler or "", images=images, commands=commands,
                 phase_env=phase_env, runtime_env=runtime_env, memory=memory_bytes, port=port,
                 archive=archive,
                 probe_path=known.probe_path if known is not None else "/",
                 probe_any_status=known is None, notes=notes)

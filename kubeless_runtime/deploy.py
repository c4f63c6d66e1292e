"""Deploy a function on the local Docker engine exactly as Kubeless runs it in a pod.

Kubeless runs a function as a pod: init containers for the *preparation* (the source lands in
a volume mounted at /kubeless), *installation* (dependencies) and *compilation* phases, then
the *runtime* container with MOD_NAME, FUNC_HANDLER, ... and a liveness probe.  Here each
phase is a container sharing one Docker volume at /kubeless, so a runtime image that works
here works in Kubeless, and the conformance suite can drive real images.

Rules this module keeps, and why:

* Values (function name, handler, dependency file name, --env values, registry settings)
  reach a phase only as environment variables or files.  The catalog's command is run as
  ``sh -c COMMAND`` where COMMAND is fixed catalog text; the shell expands "$VAR" without
  re-parsing it, so quotes, ``;`` or ``$(...)`` in a value stay literal.
* The runtime container is published on 127.0.0.1 only: a local deploy is not a public one.
* Every container and volume carries the label ``io.kubeless-runtime.function=<name>``, which
  is how ``ls``, ``logs`` and ``delete`` find them.
* A failing phase raises :class:`DeployError` with the Kubernetes-style termination message
  (the file /dev/termination-log the phase wrote, or its last log lines) and the log tail.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from .bundle import BundleError, UnsafeBundleError, zip_entries
from .catalog import Catalog, Runtime, UnknownRuntimeError, load_catalog
from .engine import get_client, import_docker, is_local_engine

LABEL = "io.kubeless-runtime"
LABEL_FUNCTION = f"{LABEL}.function"
LABEL_PHASE = f"{LABEL}.phase"
LABEL_RUNTIME = f"{LABEL}.runtime"
LABEL_HANDLER = f"{LABEL}.handler"
LABEL_PORT = f"{LABEL}.port"
LABEL_MEMORY = f"{LABEL}.memory"
LABEL_STATE = f"{LABEL}.state-dir"

INSTALL_VOLUME = "/kubeless"
TERMINATION_LOG = "/dev/termination-log"
CA_MOUNT = "/etc/kubeless/ca-bundle.crt"
CUSTOM_FUNCTION_FILE = "function"
"""File name of the function for a runtime the catalog does not know (custom image)."""

LOG_TAIL_LINES = 40
TERMINATION_MESSAGE_MAX = 4096  # bytes, as Kubernetes
MIN_MEMORY = 6 * 1024 * 1024  # Docker refuses less
DEFAULT_PHASE_TIMEOUT = 900.0

# Host settings that reach the installation/compilation phases (as env vars, never as text).
REGISTRY_ENV = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST", "PIP_DEFAULT_TIMEOUT",
                "NPM_CONFIG_REGISTRY", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy",
                "https_proxy", "no_proxy")
CA_ENV = ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS",
          "NPM_CONFIG_CAFILE", "KUBELESS_CA_BUNDLE")
RESERVED_ENV = ("MOD_NAME", "FUNC_HANDLER", "FUNC_TIMEOUT", "FUNC_RUNTIME", "FUNC_MEMORY_LIMIT",
                "FUNC_PORT", "KUBELESS_INSTALL_VOLUME", "KUBELESS_DEPS_FILE",
                "KUBELESS_FUNC_NAME")

_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_QUANTITY_RE = re.compile(r"^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([a-zA-Z]*)$")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_REF_RE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


# --- errors -------------------------------------------------------------------------------

class DeployError(Exception):
    """A deploy phase failed: ``phase``, its ``termination_message`` and ``log_tail``."""

    def __init__(self, phase: str, termination_message: str, log_tail: str = "",
                 function: Optional[str] = None, message: Optional[str] = None) -> None:
        self.phase = phase
        self.termination_message = termination_message.strip()
        self.log_tail = log_tail.rstrip()
        self.function = function
        if message is None:
            who = f"function {function!r}: " if function else ""
            message = f"{who}{phase} phase failed: {self.termination_message or '(no message)'}"
            if self.log_tail:
                message += f"\n--- {phase} log tail ---\n{self.log_tail}"
        super().__init__(message)


class InvalidSpecError(DeployError, ValueError):
    """An argument of :func:`deploy` is unusable (name, handler, memory, env, file)."""

    def __init__(self, message: str, function: Optional[str] = None) -> None:
        who = f"function {function!r}: " if function else ""
        super().__init__("preparation", message, function=function, message=who + message)


class UnsafeArchiveError(InvalidSpecError):
    """A zip bundle entry would escape /kubeless (``..``, absolute path, symlink, device)."""


class FunctionExistsError(DeployError):
    """A function of that name is already deployed."""

    def __init__(self, name: str) -> None:
        text = (f"function {name!r} already exists; delete it first "
                f"(kubeless-runtime delete {name}) or pick another name")
        super().__init__("preparation", text, function=name, message=text)


class FunctionNotFoundError(LookupError):
    """No deployed function has that name."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"function {name!r} not found; `kubeless-runtime ls` lists the "
                         "deployed functions")


# --- pure helpers (unit-tested without Docker) --------------------------------------------

def parse_memory(value: str) -> int:
    """Bytes of a Kubernetes memory quantity: ``128Mi``, ``1Gi``, ``512M``, ``1e9`` -> int.

    Kubernetes semantics (Kubeless passes --memory to the pod spec): ``M`` is 10**6 and ``Mi``
    2**20; a lowercase ``m`` means milli, which is never a memory size, so it is refused.
    """
    text = str(value).strip()
    exponent = re.match(r"^([0-9.]+)[eE]([0-9]+)$", text)
    try:
        if exponent:
            amount = Decimal(exponent.group(1)) * (Decimal(10) ** int(exponent.group(2)))
        else:
            match = _QUANTITY_RE.match(text)
            if not match:
                raise InvalidOperation
            number, suffix = match.groups()
            if suffix in _BINARY:
                amount = Decimal(number) * _BINARY[suffix]
            elif suffix in _DECIMAL:
                amount = Decimal(number) * _DECIMAL[suffix]
            else:
                raise InvalidSpecError(
                    f"memory {value!r}: unknown suffix {suffix!r}; use Ki, Mi, Gi (powers of "
                    "1024) or k, M, G (powers of 1000), e.g. 128Mi")
    except InvalidOperation:
        raise InvalidSpecError(f"memory {value!r} is not a quantity; write e.g. 128Mi, 1Gi "
                               "or 512M") from None
    if amount != amount.to_integral_value():
        raise InvalidSpecError(f"memory {value!r} is not a whole number of bytes; "
                               "write e.g. 128Mi")
    if amount < MIN_MEMORY:
        raise InvalidSpecError(f"memory {value!r} is below the 6Mi Docker accepts; "
                               "functions need at least 64Mi in practice")
    return int(amount)


def format_memory(value: str) -> str:
    """The canonical spelling Kubernetes gives ``value`` (FUNC_MEMORY_LIMIT): 1024Mi -> 1Gi."""
    amount = parse_memory(value)
    binary = any(str(value).strip().endswith(suffix) for suffix in _BINARY)
    table = _BINARY if binary else {k: v for k, v in _DECIMAL.items() if k}
    for suffix, factor in sorted(table.items(), key=lambda item: -item[1]):
        if amount % factor == 0:
            return f"{amount // factor}{suffix}"
    return str(amount)


def validate_name(name: str) -> str:
    """A function name as Kubernetes accepts it (DNS-1123 label), or InvalidSpecError."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or len(name) > 63:
        raise InvalidSpecError(
            f"function name {name!r} is invalid: use at most 63 lowercase letters, digits and "
            "'-', starting and ending with a letter or digit (e.g. hello-get)")
    return name


def split_handler(handler: str) -> Tuple[str, str]:
    """``MODULE.FUNCTION`` -> (MOD_NAME, FUNC_HANDLER), as Kubeless splits ``--handler``."""
    module, sep, function = (handler or "").rpartition(".")
    if not sep or not module or not function or "/" in handler or module.startswith("."):
        raise InvalidSpecError(f"handler {handler!r} is not MODULE.FUNCTION; for a file "
                               "helloget.py with 'def foo(event, context)' use helloget.foo")
    if any(ch.isspace() for ch in handler):
        raise InvalidSpecError(f"handler {handler!r} contains whitespace")
    return module, function


def validate_env(env: Optional[Mapping[str, Any]]) -> Dict[str, str]:
    """User env as str -> str; names must be valid and must not shadow the Kubeless ones."""
    result: Dict[str, str] = {}
    for key, value in (env or {}).items():
        if not isinstance(key, str) or not _ENV_NAME_RE.match(key):
            raise InvalidSpecError(f"env name {key!r} is invalid; use letters, digits and '_'")
        if key in RESERVED_ENV:
            raise InvalidSpecError(f"env {key} is set by the deploy itself; use the matching "
                                   "option (--handler, --timeout, --memory, --port) instead")
        if value is None:
            value = ""
        if not isinstance(value, (str, int, float, bool)):
            raise InvalidSpecError(f"env {key}: value must be a string, got {type(value)}")
        result[key] = str(value)
    return result


def parse_env_pairs(pairs: List[str]) -> Dict[str, str]:
    """``K=V`` strings (the ``--env`` flags) as a dict; the value may contain ``=``."""
    env: Dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidSpecError(f"--env {pair!r} is not NAME=VALUE")
        env[key] = value
    return env


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


def safe_zip_entries(data: bytes, source: str = "bundle") -> List[Tuple[str, Optional[bytes], int]]:
    """The checked entries of a zip bundle (:func:`kubeless_runtime.bundle.zip_entries`),
    with its errors as preparation-phase deploy errors."""
    try:
        return zip_entries(data, source)
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
    root = INSTALL_VOLUME.strip("/")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        # Extracted at "/": the entry for the volume root itself makes it writable by the
        # function (uid 1000), like an emptyDir (0777); a "." entry would be ignored.
        _tar_add(tar, root, None, 0o777)
        if from_file:
            path = Path(from_file)
            data = _read_input("--from-file", path)
            if path.suffix.lower() == ".zip":
                for relative, content, mode in safe_zip_entries(data, str(from_file)):
                    _tar_add(tar, f"{root}/{relative}", content, mode)
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
            _tar_add(tar, f"{root}/{target}", data, 0o644)
    return buffer.getvalue()


# --- the deployment handle ----------------------------------------------------------------

@dataclass
class Deployment:
    """A deployed function: its runtime container, published on 127.0.0.1:``host_port``."""

    name: str
    runtime: str
    handler: str
    container_id: str
    host_port: int
    url: str
    image: str
    status: str = ""
    port: int = 8080
    client: Any = field(default=None, repr=False, compare=False)

    def _container(self) -> Any:
        docker = import_docker()
        client = get_client(self.client)
        try:
            return client.containers.get(self.container_id)
        except docker.errors.NotFound:
            raise FunctionNotFoundError(self.name) from None

    def logs(self, tail: Optional[int] = None) -> str:
        """The runtime container's stdout and stderr (the last ``tail`` lines if given)."""
        raw = self._container().logs(stdout=True, stderr=True,
                                     tail="all" if tail is None else int(tail))
        return raw.decode("utf-8", "replace")

    def stop(self, timeout: int = 10) -> None:
        """Stop the runtime container (SIGTERM, then SIGKILL after ``timeout`` seconds)."""
        self._container().stop(timeout=timeout)

    def delete(self) -> None:
        """Remove the function's containers and volume."""
        delete_deployment(self.name, client=self.client)

    @property
    def ready(self) -> bool:
        return self.status == "running"


def _deployment_from_container(container: Any, client: Any) -> Deployment:
    labels = container.labels or {}
    port = int(labels.get(LABEL_PORT) or 8080)
    host_port = 0
    bindings = ((container.attrs.get("NetworkSettings") or {}).get("Ports") or {}).get(
        f"{port}/tcp") or []
    for binding in bindings:
        if binding.get("HostIp") in ("127.0.0.1", "", "0.0.0.0") and binding.get("HostPort"):
            host_port = int(binding["HostPort"])
            break
    image = (container.attrs.get("Config") or {}).get("Image") or ""
    return Deployment(name=labels.get(LABEL_FUNCTION, ""), runtime=labels.get(LABEL_RUNTIME, ""),
                      handler=labels.get(LABEL_HANDLER, ""), container_id=container.id,
                      host_port=host_port,
                      url=f"http://127.0.0.1:{host_port}" if host_port else "",
                      image=image, status=container.status, port=port, client=client)


def _runtime_containers(client: Any, name: Optional[str] = None) -> List[Any]:
    label = f"{LABEL_FUNCTION}={name}" if name else LABEL_FUNCTION
    containers = client.containers.list(all=True, filters={"label": [label,
                                                                     f"{LABEL_PHASE}=runtime"]})
    return sorted(containers, key=lambda c: (c.labels.get(LABEL_FUNCTION, ""), c.name))


def get_deployment(name: str, client: Any = None) -> Deployment:
    """The deployed function ``name``, or :class:`FunctionNotFoundError`."""
    client = get_client(client)
    containers = _runtime_containers(client, name)
    if not containers:
        raise FunctionNotFoundError(name)
    return _deployment_from_container(containers[0], client)


def list_deployments(client: Any = None) -> List[Deployment]:
    """Every deployed function, by name."""
    client = get_client(client)
    return [_deployment_from_container(c, client) for c in _runtime_containers(client)]


def delete_deployment(name: str, client: Any = None) -> None:
    """Remove every container and volume labelled with function ``name``.

    Raises :class:`FunctionNotFoundError` when there is nothing to remove.
    """
    client = get_client(client)
    if not _remove_function_objects(client, name):
        raise FunctionNotFoundError(name)


def _remove_function_objects(client: Any, name: str) -> bool:
    docker = import_docker()
    found = False
    label = f"{LABEL_FUNCTION}={name}"
    state_dirs = set()
    for container in client.containers.list(all=True, filters={"label": label}):
        found = True
        state = (container.labels or {}).get(LABEL_STATE)
        if state:
            state_dirs.add(state)
        try:
            container.remove(force=True, v=True)
        except docker.errors.NotFound:
            pass
    for volume in client.volumes.list(filters={"label": label}):
        found = True
        state = (volume.attrs.get("Labels") or {}).get(LABEL_STATE)
        if state:
            state_dirs.add(state)
        _remove_volume(volume)
    for state in state_dirs:
        _remove_state_dir(state)
    return found


def _remove_volume(volume: Any) -> None:
    """Remove a volume, retrying briefly: a just-removed container may still hold it."""
    docker = import_docker()
    for _attempt in range(20):
        try:
            volume.remove(force=True)
            return
        except docker.errors.NotFound:
            return
        except docker.errors.APIError:
            time.sleep(0.25)
    volume.remove(force=True)


def _state_root() -> Path:
    return Path(tempfile.gettempdir()) / "kubeless-runtime"


def _remove_state_dir(path: str) -> None:
    # Only ever remove what we created: a folder directly under our state root.
    target = Path(path)
    if target.parent == _state_root() and target.name.startswith("fn-"):
        shutil.rmtree(target, ignore_errors=True)


# --- deploy -------------------------------------------------------------------------------

@dataclass
class _Plan:
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


def plan_deployment(name: str, runtime: Optional[str], from_file: Optional[str] = None,
                    handler: Optional[str] = None, dependencies: Optional[str] = None,
                    env: Optional[Mapping[str, Any]] = None, timeout: float = 180,
                    runtime_image: Optional[str] = None,
                    installation_image: Optional[str] = None,
                    compilation_image: Optional[str] = None, memory: str = "128Mi",
                    port: int = 8080, catalog: Optional[Catalog] = None,
                    host_env: Optional[Mapping[str, str]] = None) -> _Plan:
    """Validate the arguments and compute images, commands and env of every phase.

    Pure (no Docker), so unit tests check what each container gets.
    """
    validate_name(name)
    user_env = validate_env(env)
    memory_bytes = parse_memory(memory)
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise InvalidSpecError(f"port {port!r} is not a TCP port (1-65535)")
    if not timeout or float(timeout) <= 0:
        raise InvalidSpecError(f"timeout {timeout!r} must be a positive number of seconds")
    catalog = catalog or load_catalog()
    spec: Optional[Runtime] = None
    try:
        spec = catalog.runtime(runtime) if runtime else None
    except UnknownRuntimeError:
        if not runtime_image:
            raise
    if spec is None and not runtime_image:
        raise InvalidSpecError("give --runtime (see `kubeless-runtime get-server-config`) or "
                               "--runtime-image IMAGE", function=name)
    module = function = ""
    if handler:
        module, function = split_handler(handler)
    elif spec is not None and (from_file or not runtime_image):
        raise InvalidSpecError(f"runtime {spec.name} needs --handler MODULE.FUNCTION "
                               "(e.g. helloget.foo)", function=name)
    if spec is not None and not from_file and not runtime_image:
        raise InvalidSpecError("--from-file is required: the function's source file or zip",
                               function=name)
    if from_file and not Path(from_file).is_file():
        raise InvalidSpecError(f"--from-file {from_file} does not exist", function=name)
    if dependencies and not Path(dependencies).is_file():
        raise InvalidSpecError(f"--dependencies {dependencies} does not exist", function=name)

    images: Dict[str, str] = {}
    commands: Dict[str, str] = {}
    catalog_env: Dict[str, Dict[str, str]] = {}
    overrides = {"installation": installation_image, "compilation": compilation_image,
                 "runtime": runtime_image}
    if spec is not None:
        for image in spec.images:
            if image.phase == "installation" and not dependencies:
                continue  # Kubeless adds the installation container only with dependencies
            images[image.phase] = overrides[image.phase] or image.image
            if image.command:
                commands[image.phase] = image.command
            catalog_env[image.phase] = dict(image.env)
    if runtime_image:
        images["runtime"] = runtime_image
    runtime_name = spec.name if spec is not None else (runtime or "custom")
    timeout_text = str(int(timeout)) if float(timeout).is_integer() else str(timeout)
    deps_name = (spec.dep_name if spec is not None
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
        "FUNC_MEMORY_LIMIT": format_memory(memory),
        "FUNC_PORT": str(port),
        "KUBELESS_INSTALL_VOLUME": INSTALL_VOLUME,
        "KUBELESS_FUNC_NAME": name,
    })
    for key, value in catalog_env.get("runtime", {}).items():
        runtime_env[key] = expand_references(value, runtime_env)
    if not handler:
        for key in ("FUNC_HANDLER", "MOD_NAME"):
            runtime_env.pop(key, None)
    archive = source_archive(spec, module, from_file, dependencies)
    return _Plan(name=name, runtime_name=runtime_name, runtime=spec, module=module,
                 function=function, handler=handler or "", images=images, commands=commands,
                 phase_env=phase_env, runtime_env=runtime_env, memory=memory_bytes, port=port,
                 archive=archive,
                 probe_path=spec.probe_path if spec is not None else "/",
                 probe_any_status=spec is None)


def deploy(name: str, runtime: Optional[str], from_file: Optional[str] = None,
           handler: Optional[str] = None, dependencies: Optional[str] = None,
           env: Optional[Dict[str, str]] = None, timeout: float = 180,
           runtime_image: Optional[str] = None, installation_image: Optional[str] = None,
           compilation_image: Optional[str] = None, memory: str = "128Mi", port: int = 8080,
           ca_bundle: Optional[str] = None, probe_timeout: float = 30, client: Any = None,
           *, catalog: Optional[Catalog] = None, phase_timeout: float = DEFAULT_PHASE_TIMEOUT,
           keep_on_failure: bool = False,
           progress: Optional[Callable[[str], None]] = None) -> Deployment:
    """Deploy function ``name`` and wait until its probe answers 200.

    Phases, in Kubeless's order: preparation (source and dependency file into the volume at
    /kubeless: a file as ``<MOD_NAME><fileNameSuffix>``, a zip extracted safely, a custom
    runtime's file as ``/kubeless/function``; the dependency file as the catalog's depName),
    installation (only with ``dependencies``) and compilation when the catalog has them, then
    the runtime container, published on 127.0.0.1 only.  A failure raises
    :class:`DeployError` and removes what was created unless ``keep_on_failure``.

    ``timeout`` is the function's FUNC_TIMEOUT; ``probe_timeout`` bounds the wait for the
    first 200; ``phase_timeout`` bounds each installation/compilation container.  With a
    ``runtime`` the catalog does not know, ``runtime_image`` is required and the probe accepts
    any HTTP answer on ``/``.  ``progress`` receives one line per phase.
    """
    plan = plan_deployment(name, runtime, from_file=from_file, handler=handler,
                           dependencies=dependencies, env=env, timeout=timeout,
                           runtime_image=runtime_image, installation_image=installation_image,
                           compilation_image=compilation_image, memory=memory, port=port,
                           catalog=catalog)
    if ca_bundle is None:
        ca_bundle = os.environ.get("KUBELESS_CA_BUNDLE") or None
    if ca_bundle and not Path(ca_bundle).is_file():
        raise InvalidSpecError(f"--ca-bundle {ca_bundle} does not exist", function=name)
    client = get_client(client)
    return _Deployer(client, plan, ca_bundle, probe_timeout, phase_timeout,
                     keep_on_failure, progress).run()


class _Deployer:
    """Runs a :class:`_Plan` on the engine; one instance per deploy."""

    def __init__(self, client: Any, plan: _Plan, ca_bundle: Optional[str],
                 probe_timeout: float, phase_timeout: float, keep_on_failure: bool,
                 progress: Optional[Callable[[str], None]] = None) -> None:
        self.docker = import_docker()
        self.say = progress or (lambda line: None)
        self.client = client
        self.plan = plan
        self.ca_bundle = str(Path(ca_bundle).resolve()) if ca_bundle else None
        self.probe_timeout = float(probe_timeout)
        self.phase_timeout = float(phase_timeout)
        self.keep_on_failure = keep_on_failure
        self.local = is_local_engine(client)
        self.state_dir: Optional[Path] = None
        self.volume_name = f"kubeless-{plan.name}-{secrets.token_hex(3)}"
        self.archive_pending = True
        self.phase = "preparation"
        self.labels = {LABEL_FUNCTION: plan.name, LABEL_RUNTIME: plan.runtime_name,
                       LABEL_HANDLER: plan.handler, LABEL_PORT: str(plan.port),
                       LABEL_MEMORY: str(plan.memory)}

    def run(self) -> Deployment:
        """Run the phases; engine errors become a DeployError of the phase they hit."""
        try:
            return self._run()
        except self.docker.errors.APIError as exc:
            explanation = getattr(exc, "explanation", None) or str(exc)
            raise DeployError(self.phase, f"the Docker engine refused: {explanation}",
                              function=self.plan.name) from None

    def _run(self) -> Deployment:
        name = self.plan.name
        self._check_free()
        for phase, image in self.plan.images.items():
            self._ensure_image(phase, image)
        try:
            if self.local:
                root = _state_root()
                root.mkdir(mode=0o755, exist_ok=True)
                self.state_dir = Path(tempfile.mkdtemp(prefix=f"fn-{name}-", dir=root))
                self.state_dir.chmod(0o755)
                self.labels[LABEL_STATE] = str(self.state_dir)
            self.client.volumes.create(name=self.volume_name, driver="local",
                                       labels=dict(self.labels))
            for phase in ("installation", "compilation"):
                if phase in self.plan.images:
                    self.phase = phase
                    self._run_phase(phase)
            self.phase = "runtime"
            return self._run_runtime()
        except BaseException:
            if not self.keep_on_failure:
                try:
                    _remove_function_objects(self.client, name)
                except Exception:  # noqa: BLE001 - best effort; the original error matters
                    pass
                if self.state_dir is not None:
                    shutil.rmtree(self.state_dir, ignore_errors=True)
            raise

    # -- checks --
    def _check_free(self) -> None:
        label = f"{LABEL_FUNCTION}={self.plan.name}"
        if (self.client.containers.list(all=True, filters={"label": label})
                or self.client.volumes.list(filters={"label": label})):
            raise FunctionExistsError(self.plan.name)
        try:
            self.client.containers.get(f"kubeless-{self.plan.name}")
        except self.docker.errors.NotFound:
            return
        raise DeployError("preparation", f"a container named kubeless-{self.plan.name} exists "
                          "but is not ours; remove it or pick another function name",
                          function=self.plan.name)

    def _ensure_image(self, phase: str, image: str) -> None:
        try:
            self.client.images.get(image)
            return
        except self.docker.errors.ImageNotFound:
            pass
        except self.docker.errors.APIError as exc:
            raise DeployError(phase, f"cannot inspect image {image}: {exc}",
                              function=self.plan.name) from None
        hint = (f"build it with `kubeless-runtime build {self.plan.runtime_name}`"
                if self.plan.runtime is not None else "pull or build it first")
        try:
            self.client.images.pull(image)
        except Exception as exc:  # noqa: BLE001 - any pull failure means the same thing here
            raise DeployError(phase, f"image {image} is not present and could not be pulled "
                              f"({str(exc).splitlines()[0][:200]}); {hint}",
                              function=self.plan.name) from None

    # -- containers --
    def _termination_mount(self, phase: str) -> List[Any]:
        if self.state_dir is None:
            return []
        path = self.state_dir / f"{phase}.termination-log"
        path.write_text("")
        path.chmod(0o666)  # the runtime runs as uid 1000, as Kubernetes' file is
        return [self.docker.types.Mount(TERMINATION_LOG, str(path), type="bind")]

    def _mounts(self, phase: str) -> List[Any]:
        mounts = [self.docker.types.Mount(INSTALL_VOLUME, self.volume_name, type="volume")]
        mounts += self._termination_mount(phase)
        if self.ca_bundle and phase != "runtime" and self.local:
            mounts.append(self.docker.types.Mount(CA_MOUNT, self.ca_bundle, type="bind",
                                                  read_only=True))
        return mounts

    def _phase_env(self, phase: str) -> Dict[str, str]:
        values = dict(self.plan.phase_env[phase])
        if self.ca_bundle and self.local:
            for key in CA_ENV:
                values[key] = CA_MOUNT
        return values

    def _create(self, phase: str, **kwargs: Any) -> Any:
        labels = dict(self.labels)
        labels[LABEL_PHASE] = phase
        container = self.client.containers.create(labels=labels, mounts=self._mounts(phase),
                                                  **kwargs)
        if self.archive_pending:
            # Preparation: the source lands in the volume before the first phase starts.
            if not container.put_archive("/", self.plan.archive):
                raise DeployError("preparation", "could not copy the function into the "
                                  f"volume {self.volume_name}", function=self.plan.name)
            self.archive_pending = False
        return container

    def _run_phase(self, phase: str) -> None:
        started = time.monotonic()
        self.say(f"[{self.plan.name}] {phase} phase: {self.plan.images[phase]}")
        container = self._create(
            phase, image=self.plan.images[phase], name=f"kubeless-{self.plan.name}.{phase}",
            entrypoint=["/bin/sh", "-c"], command=[self.plan.commands[phase]],
            environment=self._phase_env(phase), working_dir=INSTALL_VOLUME, user="0:0")
        container.start()
        try:
            result = container.wait(timeout=self.phase_timeout)
            code = int(result.get("StatusCode", 1))
        except Exception:  # noqa: BLE001 - a read timeout of the wait call
            try:
                container.kill()
            except self.docker.errors.APIError:
                pass
            raise DeployError(phase, f"did not finish within {self.phase_timeout:.0f}s "
                              "(raise phase_timeout for big dependency sets)",
                              _logs(container, LOG_TAIL_LINES), function=self.plan.name) from None
        if code != 0:
            logs = _logs(container, LOG_TAIL_LINES)
            message = self._termination_message(container, phase) or _fallback_message(logs)
            raise DeployError(phase, f"exit code {code}: {message}", logs,
                              function=self.plan.name)
        container.remove(force=True)
        self.say(f"[{self.plan.name}] {phase} phase done in {time.monotonic() - started:.1f}s")

    def _run_runtime(self) -> Deployment:
        plan = self.plan
        self.say(f"[{plan.name}] runtime phase: {plan.images['runtime']}, waiting for "
                 f"GET {plan.probe_path} on 127.0.0.1")
        container = self._create(
            "runtime", image=plan.images["runtime"], name=f"kubeless-{plan.name}",
            environment=plan.runtime_env, ports={f"{plan.port}/tcp": ("127.0.0.1", None)},
            mem_limit=plan.memory, memswap_limit=plan.memory)
        container.start()
        deployment = self._wait_ready(container)
        try:  # like a Deployment's pod: restarted when it dies, unless stopped by hand
            container.update(restart_policy={"Name": "unless-stopped"})
        except self.docker.errors.APIError:
            pass
        return deployment

    def _wait_ready(self, container: Any) -> Deployment:
        interval = 0.1
        deadline = time.monotonic() + self.probe_timeout
        attempts = int(self.probe_timeout / interval) + 10
        last = "no answer yet"
        deployment = None
        for _attempt in range(attempts):
            container.reload()
            if container.status in ("exited", "dead"):
                self._raise_runtime_exit(container)
            if deployment is None or not deployment.host_port:
                deployment = _deployment_from_container(container, self.client)
            if deployment.host_port:
                status, last = _probe(deployment.url + self.plan.probe_path,
                                      timeout=max(0.2, min(2.0, deadline - time.monotonic())))
                if status == 200 or (self.plan.probe_any_status and status):
                    container.reload()
                    return _deployment_from_container(container, self.client)
            if time.monotonic() >= deadline:
                break
            time.sleep(interval)
            interval = min(interval * 1.5, 1.0)
        container.reload()
        if container.status in ("exited", "dead"):
            self._raise_runtime_exit(container)
        raise DeployError("runtime", f"not ready within {self.probe_timeout:.0f}s: "
                          f"GET {self.plan.probe_path} -> {last}",
                          _logs(container, LOG_TAIL_LINES), function=self.plan.name)

    def _raise_runtime_exit(self, container: Any) -> None:
        state = container.attrs.get("State") or {}
        code = state.get("ExitCode")
        logs = _logs(container, LOG_TAIL_LINES)
        message = self._termination_message(container, "runtime") or _fallback_message(logs)
        if state.get("OOMKilled"):
            message = f"OOMKilled (memory limit {self.plan.memory} bytes); {message}"
        raise DeployError("runtime", f"container exited with code {code}: {message}", logs,
                          function=self.plan.name)

    def _termination_message(self, container: Any, phase: str) -> str:
        """/dev/termination-log of a stopped container, read through the engine."""
        try:
            stream, _stat = container.get_archive(TERMINATION_LOG)
            data = b"".join(stream)
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                member = tar.next()
                handle = tar.extractfile(member) if member is not None else None
                text = handle.read(TERMINATION_MESSAGE_MAX) if handle is not None else b""
            return text.decode("utf-8", "replace").strip()
        except Exception:  # noqa: BLE001 - fall back to the host file, then to the logs
            if self.state_dir is not None:
                path = self.state_dir / f"{phase}.termination-log"
                try:
                    return path.read_bytes()[:TERMINATION_MESSAGE_MAX].decode(
                        "utf-8", "replace").strip()
                except OSError:
                    pass
            return ""


def _logs(container: Any, tail: int) -> str:
    try:
        return container.logs(stdout=True, stderr=True, tail=tail).decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - logs are a courtesy in an error path
        return ""


def _fallback_message(logs: str) -> str:
    """Kubernetes' FallbackToLogsOnError: the last log lines when the file is empty."""
    lines = [line for line in logs.strip().splitlines() if line.strip()]
    text = "\n".join(lines[-10:])
    return text[-2048:] if text else "(no termination message and no output)"


def loopback_opener() -> urllib.request.OpenerDirector:
    """A urllib opener that ignores HTTP(S)_PROXY: the function is on 127.0.0.1."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _probe(url: str, timeout: float) -> Tuple[int, str]:
    """(HTTP status or 0, description) of GET ``url``; never raises."""
    try:
        with loopback_opener().open(url, timeout=timeout) as response:
            return response.status, f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except Exception as exc:  # noqa: BLE001 - refused, reset, timeout: not ready yet
        return 0, f"{type(exc).__name__}: {exc}"


__all__ = [
    "Deployment", "DeployError", "FunctionExistsError", "FunctionNotFoundError",
    "InvalidSpecError", "UnsafeArchiveError", "delete_deployment", "deploy", "format_memory",
    "get_deployment", "list_deployments", "parse_env_pairs", "parse_memory", "plan_deployment",
    "safe_zip_entries", "source_archive", "split_handler", "validate_env", "validate_name",
]

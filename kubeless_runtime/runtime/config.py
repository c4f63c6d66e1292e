"""Runtime configuration, read from the environment variables Kubeless sets.

Everything the server and its workers need is gathered here once, so the
rest of the package never reads ``os.environ`` and a bad value fails at start
with the variable's name instead of at the first request.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Tuple

from ..contract import TERMINATION_LOG
from ..errors import KubelessRuntimeError

DEFAULT_TIMEOUT = 180
DEFAULT_PORT = 8080
DEFAULT_REQ_MB_LIMIT = 1
DEFAULT_THREADS = 10
DEFAULT_WORKERS_MIN = 2
DEFAULT_WORKER_IDLE = 60.0
DEFAULT_GRACE = 10.0
DEFAULT_MAX_HEAD_BYTES = 64 * 1024


class ConfigError(KubelessRuntimeError, ValueError):
    """A configuration variable has a value the runtime cannot use."""

    code = "config"


@dataclass(frozen=True)
class Config:
    """What the runtime needs to serve one function.

    ``function_dir`` is where ``module_name`` is imported from; ``site_dirs``
    are extra import paths such as the site-packages an installation phase
    filled with ``pip install --prefix``.
    """

    module_name: str
    handler_name: str
    function_dir: Path
    site_dirs: Tuple[Path, ...] = ()
    function_name: str = ""
    timeout: float = DEFAULT_TIMEOUT
    port: int = DEFAULT_PORT
    host: str = "0.0.0.0"
    runtime: str = ""
    memory_limit: str = ""
    body_limit: int = DEFAULT_REQ_MB_LIMIT * 1024 * 1024
    threads: int = DEFAULT_THREADS
    workers_min: int = DEFAULT_WORKERS_MIN
    workers_max: int = DEFAULT_THREADS
    worker_idle: float = DEFAULT_WORKER_IDLE
    grace: float = DEFAULT_GRACE
    max_head_bytes: int = DEFAULT_MAX_HEAD_BYTES
    worker_command: str = ""
    """``KUBELESS_WORKER_COMMAND``: a worker in another language (WORKER_PROTOCOL.md)."""

    @property
    def context(self) -> dict:
        """The ``context`` dict a Kubeless function receives.

        ``function-name`` is the handler's name as Kubeless gives it (``func.__name__``, which
        the worker fills in once the function is loaded), not the deployment's name.
        """
        return {
            "function-name": self.handler_name,
            "timeout": _format_number(self.timeout),
            "runtime": self.runtime,
            "memory-limit": self.memory_limit,
        }


def _format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float,
            integer: bool = False) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise ConfigError(f"{name}={raw!r} is not {kind}; set it to {kind} "
                          f"such as {default!r}, or unset it for the default.") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r} is too small; it must be at least {minimum}.")
    return value


def site_packages_dirs(prefix: Path) -> Tuple[Path, ...]:
    """Import paths that ``pip install --prefix=PREFIX`` fills for this Python."""
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    candidates = [prefix / "lib" / version / "site-packages",
                  prefix / "local" / "lib" / version / "dist-packages",
                  prefix / "lib" / version / "dist-packages"]
    return tuple(p for p in candidates if p.is_dir())


def body_limit_from_env(env: Mapping[str, str]) -> int:
    """``FUNC_MEMFILE_MAX`` (bytes, the Python runtime's) wins over ``REQ_MB_LIMIT`` (MB)."""
    if env.get("FUNC_MEMFILE_MAX", "").strip():
        return int(_number(env, "FUNC_MEMFILE_MAX", 0, minimum=1, integer=True))
    mb = _number(env, "REQ_MB_LIMIT", DEFAULT_REQ_MB_LIMIT, minimum=0.001)
    return int(mb * 1024 * 1024)


def termination_log_path(env: Optional[Mapping[str, str]] = None) -> str:
    """Where a load error is written for Kubernetes (``KUBELESS_TERMINATION_LOG`` overrides)."""
    env = os.environ if env is None else env
    return env.get("KUBELESS_TERMINATION_LOG") or TERMINATION_LOG


def from_env(env: Optional[Mapping[str, str]] = None, **overrides) -> Config:
    """Build a :class:`Config` from Kubeless variables; ``overrides`` win (CLI flags)."""
    env = os.environ if env is None else env
    volume = Path(env.get("KUBELESS_INSTALL_VOLUME", "/kubeless") or "/kubeless")
    threads = int(_number(env, "CHERRYPY_NUMTHREADS", DEFAULT_THREADS, minimum=1, integer=True))
    # One meaning in every runtime: MIN workers kept warm (the default 2 lowered to MAX), MAX
    # at most; an explicit MIN above MAX is refused.
    workers_max = int(_number(env, "KUBELESS_WORKERS_MAX", threads, minimum=1, integer=True))
    values = dict(
        module_name=env.get("MOD_NAME", "").strip(),
        handler_name=env.get("FUNC_HANDLER", "").strip(),
        function_dir=volume,
        function_name=env.get("FUNC_NAME", "") or env.get("KUBELESS_FUNC_NAME", ""),
        timeout=_number(env, "FUNC_TIMEOUT", DEFAULT_TIMEOUT, minimum=0.001),
        port=int(_number(env, "FUNC_PORT", DEFAULT_PORT, minimum=0, integer=True)),
        runtime=env.get("FUNC_RUNTIME", ""),
        memory_limit=env.get("FUNC_MEMORY_LIMIT", ""),
        body_limit=body_limit_from_env(env),
        threads=threads,
        workers_max=workers_max,
        workers_min=int(_number(env, "KUBELESS_WORKERS_MIN", min(DEFAULT_WORKERS_MIN, workers_max),
                                minimum=1, integer=True)),
        worker_idle=_number(env, "KUBELESS_WORKER_IDLE", DEFAULT_WORKER_IDLE, minimum=0.1),
        grace=_number(env, "KUBELESS_GRACE_PERIOD", DEFAULT_GRACE, minimum=0),
        max_head_bytes=int(_number(env, "KUBELESS_MAX_HEAD_BYTES", DEFAULT_MAX_HEAD_BYTES,
                                   minimum=1024, integer=True)),
        worker_command=env.get("KUBELESS_WORKER_COMMAND", "").strip(),
    )
    values.update({k: v for k, v in overrides.items() if v is not None})
    values.setdefault("site_dirs", site_packages_dirs(Path(values["function_dir"])))
    if values["timeout"] <= 0:
        raise ConfigError(f"The timeout {values['timeout']:g} s (FUNC_TIMEOUT or --timeout) must "
                          "be a positive number of seconds.")
    if values["workers_min"] > values["workers_max"]:
        raise ConfigError(
            f"KUBELESS_WORKERS_MIN={values['workers_min']} is above KUBELESS_WORKERS_MAX="
            f"{values['workers_max']}; lower the minimum or raise the maximum.")
    if values["port"] > 65535:
        raise ConfigError(f"FUNC_PORT={values['port']} is not a TCP port; use 1-65535.")
    return Config(**values)

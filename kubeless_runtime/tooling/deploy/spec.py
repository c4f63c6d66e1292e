"""What a user asks to deploy, as one frozen value.

Why a value: the CLI, the conformance runner and tests all describe a deploy; one frozen
:class:`DeploySpec` travels through planning and running instead of a dozen keyword
arguments forwarded by hand at every layer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional

from ...contract import DEFAULT_PORT, RESERVED_ENV, is_dns_label
from .errors import InvalidSpecError

_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class DeploySpec:
    """The flags of ``kubeless function deploy`` that a local deploy honours.

    ``runtime`` is a catalog name (``python3.11``); ``runtime_image`` alone deploys a custom
    image.  ``timeout`` is FUNC_TIMEOUT; ``probe_timeout`` bounds the wait for the first 200.
    """

    name: str
    runtime: Optional[str] = None
    from_file: Optional[str] = None
    handler: Optional[str] = None
    dependencies: Optional[str] = None
    env: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 180
    runtime_image: Optional[str] = None
    installation_image: Optional[str] = None
    compilation_image: Optional[str] = None
    memory: str = "128Mi"
    port: int = DEFAULT_PORT
    ca_bundle: Optional[str] = None
    probe_timeout: float = 30


def validate_name(name: str) -> str:
    """A function name as Kubernetes accepts it (DNS-1123 label), or InvalidSpecError."""
    if not is_dns_label(name):
        raise InvalidSpecError(
            f"function name {name!r} is invalid: use at most 63 lowercase letters, digits and "
            "'-', starting and ending with a letter or digit (e.g. hello-get)")
    return name


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


__all__ = ["DeploySpec", "validate_env", "validate_name"]

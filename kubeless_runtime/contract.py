"""The Kubeless runtime contract's fixed names, shared by the runtime, tooling and suite.

Why one module: the runtime reads these variables, the tooling sets them and the
conformance suite checks them; spelling them once keeps the three in step.
"""

from __future__ import annotations

import re
from typing import Dict, List, Tuple

from .errors import UsageError

INSTALL_VOLUME = "/kubeless"
TERMINATION_LOG = "/dev/termination-log"
DEFAULT_PORT = 8080
LABEL_PREFIX = "io.kubeless-runtime"
"""Prefix of every Docker label this package writes."""

ENV_MODULE = "MOD_NAME"
ENV_HANDLER = "FUNC_HANDLER"
ENV_TIMEOUT = "FUNC_TIMEOUT"
ENV_PORT = "FUNC_PORT"
ENV_RUNTIME = "FUNC_RUNTIME"
ENV_MEMORY_LIMIT = "FUNC_MEMORY_LIMIT"
ENV_INSTALL_VOLUME = "KUBELESS_INSTALL_VOLUME"
ENV_DEPS_FILE = "KUBELESS_DEPS_FILE"
ENV_FUNC_NAME = "KUBELESS_FUNC_NAME"

RESERVED_ENV = (ENV_MODULE, ENV_HANDLER, ENV_TIMEOUT, ENV_RUNTIME, ENV_MEMORY_LIMIT, ENV_PORT,
                ENV_INSTALL_VOLUME, ENV_DEPS_FILE, ENV_FUNC_NAME)
"""Set by a deploy itself; a user's ``--env`` may not shadow them."""


class InvalidHandlerError(UsageError):
    """``--handler`` is not ``MODULE.FUNCTION``."""

    code = "invalid-handler"


class InvalidEnvError(UsageError):
    """An ``--env`` flag is not ``NAME=VALUE``."""

    code = "invalid-env"


def split_handler(handler: str) -> Tuple[str, str]:
    """``MODULE.FUNCTION`` -> (MOD_NAME, FUNC_HANDLER), as Kubeless splits ``--handler``."""
    module, sep, function = (handler or "").rpartition(".")
    if not sep or not module or not function or "/" in handler or module.startswith("."):
        raise InvalidHandlerError(f"handler {handler!r} is not MODULE.FUNCTION; for a file "
                                  "helloget.py with 'def foo(event, context)' use helloget.foo")
    if any(ch.isspace() for ch in handler):
        raise InvalidHandlerError(f"handler {handler!r} contains whitespace")
    return module, function


def parse_env_pairs(pairs: List[str]) -> Dict[str, str]:
    """``K=V`` strings (the ``--env`` flags) as a dict; the value may contain ``=``."""
    env: Dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidEnvError(f"--env {pair!r} is not NAME=VALUE")
        env[key] = value
    return env


_DNS_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def is_dns_label(name: str) -> bool:
    """Whether ``name`` is a Kubernetes DNS-1123 label (a function, container or volume name)."""
    return isinstance(name, str) and len(name) <= 63 and bool(_DNS_LABEL_RE.match(name))


def dns_label(text: str, limit: int = 63) -> str:
    """``text`` turned into a valid DNS-1123 label: ``ballerina0.981.0`` -> ``ballerina0-981-0``.

    Why: names derived from runtime names (``php7.4``, ``dotnetcore3.1``, ``java1.8``) must stay
    valid function and container names.
    """
    label = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    label = re.sub(r"-{2,}", "-", label)[:limit].strip("-")
    return label or "fn"


__all__ = [
    "DEFAULT_PORT", "ENV_DEPS_FILE", "ENV_FUNC_NAME", "ENV_HANDLER", "ENV_INSTALL_VOLUME",
    "ENV_MEMORY_LIMIT", "ENV_MODULE", "ENV_PORT", "ENV_RUNTIME", "ENV_TIMEOUT", "INSTALL_VOLUME",
    "InvalidEnvError", "InvalidHandlerError", "LABEL_PREFIX", "RESERVED_ENV", "TERMINATION_LOG",
    "dns_label", "is_dns_label", "parse_env_pairs", "split_handler",
]

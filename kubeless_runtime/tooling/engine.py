"""Access to the Docker engine through the ``docker`` SDK, with errors that say what to do.

The SDK is the optional extra ``kubeless-runtime[docker]``: it is imported here, lazily, so
that the runtime server (which never talks to Docker) does not need it.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Mapping, Optional

from ..errors import KubelessRuntimeError, UsageError

SETUP_HINT = "run scripts/setup-docker.sh (as root) or start dockerd"
LABELS_ENV = "KUBELESS_RUNTIME_LABELS"
"""Extra ``key=value,key=value`` labels for every container, volume and image we create."""


class EngineError(KubelessRuntimeError):
    """Talking to the Docker engine failed; the message says how to fix it."""

    code = "engine"


class DockerSDKMissingError(EngineError):
    """The ``docker`` Python package is not installed."""

    code = "docker-sdk-missing"


class DockerUnavailableError(EngineError):
    """No Docker engine answers at DOCKER_HOST (or the default socket)."""

    code = "engine-unavailable"


def extra_labels(env: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The labels of ``$KUBELESS_RUNTIME_LABELS``.

    Why: a CI job or a test session marks everything it makes, so it can find and remove
    exactly that later, even after being killed.
    """
    raw = (os.environ if env is None else env).get(LABELS_ENV, "")
    labels: Dict[str, str] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{LABELS_ENV}={raw!r}: {item!r} is not key=value; write e.g. "
                             "ci.job=1234,team=fns")
        labels[key.strip()] = value.strip()
    return labels


def docker_host() -> str:
    """Where the SDK looks for the engine: DOCKER_HOST or the default unix socket."""
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def import_docker() -> Any:
    """The ``docker`` module, or :class:`DockerSDKMissingError` with the install command."""
    try:
        import docker  # noqa: PLC0415 - optional extra, imported on first use
    except ImportError:
        raise DockerSDKMissingError(
            "the Docker SDK for Python is not installed: pip install 'kubeless-runtime[docker]'"
            " (or pip install docker)") from None
    return docker


def get_client(client: Optional[Any] = None, timeout: int = 300) -> Any:
    """``client`` itself, or a new ``docker.DockerClient`` from the environment, pinged.

    Why ping: ``from_env`` alone succeeds without an engine; failing here gives one clear
    message instead of a connection error in the middle of a build or a deploy.
    """
    if client is not None:
        return client
    docker = import_docker()
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except docker.errors.DockerException as exc:
        raise DockerUnavailableError(
            f"no Docker engine answers at {docker_host()}: {SETUP_HINT} ({exc})") from None
    except Exception as exc:  # requests' connection errors, socket errors
        raise DockerUnavailableError(
            f"no Docker engine answers at {docker_host()}: {SETUP_HINT} "
            f"({type(exc).__name__}: {exc})") from None
    return client


def is_local_engine(client: Any) -> bool:
    """Whether the engine runs on this machine (a unix socket), so host files can be mounted."""
    base_url = str(getattr(getattr(client, "api", None), "base_url", ""))
    # docker-py spells a unix socket (and a Windows named pipe) as http+docker://localhost,
    # an ssh:// engine as http+docker://ssh and a tcp:// one as http(s)://HOST:PORT.
    return base_url.startswith(("http+docker://localhost", "http+docker://localnpipe"))

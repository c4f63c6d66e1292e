"""Access to the Docker engine through the ``docker`` SDK, with errors that say what to do.

The SDK is the optional extra ``kubeless-runtime[docker]``: it is imported here, lazily, so
that the runtime server (which never talks to Docker) does not need it.
"""

from __future__ import annotations

import os
from typing import Any, Optional

from ..errors import KubelessRuntimeError

SETUP_HINT = "run scripts/setup-docker.sh (as root) or start dockerd"


class EngineError(KubelessRuntimeError):
    """Talking to the Docker engine failed; the message says how to fix it."""

    code = "engine"


class DockerSDKMissingError(EngineError):
    """The ``docker`` Python package is not installed."""

    code = "docker-sdk-missing"


class DockerUnavailableError(EngineError):
    """No Docker engine answers at DOCKER_HOST (or the default socket)."""

    code = "engine-unavailable"


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

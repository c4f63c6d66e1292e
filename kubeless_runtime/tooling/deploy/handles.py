"""Deployed functions as handles: find, list, read logs of and delete what a deploy made.

Every container and volume of a deploy carries the label ``io.kubeless-runtime.function=<name>``
(which is how ``ls``, ``logs`` and ``delete`` find them) and ``...deploy-id`` naming the one
deploy that created it (which is how a failed deploy removes only its own objects).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Optional

from ...contract import DEFAULT_PORT, LABEL_PREFIX
from ..engine import get_client, import_docker
from .errors import FunctionNotFoundError

LABEL_FUNCTION = f"{LABEL_PREFIX}.function"
LABEL_PHASE = f"{LABEL_PREFIX}.phase"
LABEL_RUNTIME = f"{LABEL_PREFIX}.runtime"
LABEL_HANDLER = f"{LABEL_PREFIX}.handler"
LABEL_PORT = f"{LABEL_PREFIX}.port"
LABEL_MEMORY = f"{LABEL_PREFIX}.memory"
LABEL_STATE = f"{LABEL_PREFIX}.state-dir"
LABEL_DEPLOY_ID = f"{LABEL_PREFIX}.deploy-id"


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
    port: int = DEFAULT_PORT
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


def deployment_from_container(container: Any, client: Any) -> Deployment:
    labels = container.labels or {}
    port = int(labels.get(LABEL_PORT) or DEFAULT_PORT)
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


def runtime_containers(client: Any, name: Optional[str] = None) -> List[Any]:
    label = f"{LABEL_FUNCTION}={name}" if name else LABEL_FUNCTION
    containers = client.containers.list(all=True, filters={"label": [label,
                                                                     f"{LABEL_PHASE}=runtime"]})
    return sorted(containers, key=lambda c: (c.labels.get(LABEL_FUNCTION, ""), c.name))


def get_deployment(name: str, client: Any = None) -> Deployment:
    """The deployed function ``name``, or :class:`FunctionNotFoundError`."""
    client = get_client(client)
    containers = runtime_containers(client, name)
    if not containers:
        raise FunctionNotFoundError(name)
    return deployment_from_container(containers[0], client)


def list_deployments(client: Any = None) -> List[Deployment]:
    """Every deployed function, by name."""
    client = get_client(client)
    return [deployment_from_container(c, client) for c in runtime_containers(client)]


def delete_deployment(name: str, client: Any = None) -> None:
    """Remove every container and volume labelled with function ``name``.

    Raises :class:`FunctionNotFoundError` when there is nothing to remove.
    """
    client = get_client(client)
    if not remove_labelled(client, f"{LABEL_FUNCTION}={name}"):
        raise FunctionNotFoundError(name)


def remove_labelled(client: Any, label: str) -> bool:
    """Remove every container and volume carrying ``label`` (``KEY=VALUE``), and their state
    folders; whether there was anything."""
    docker = import_docker()
    found = False
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


def state_root() -> Path:
    return Path(tempfile.gettempdir()) / "kubeless-runtime"


def _remove_state_dir(path: str) -> None:
    # Only ever remove what we created: a folder directly under our state root.
    target = Path(path)
    if target.parent == state_root() and target.name.startswith("fn-"):
        shutil.rmtree(target, ignore_errors=True)

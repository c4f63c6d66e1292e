"""Helpers the container tests share (the fixtures are in conftest.py).

Names made by one pytest session carry :data:`SESSION_ID`: images are tagged
``kubeless-runtime-test/<name>:<version>-s<id>`` (see :func:`session_tag`) and every function a
test deploys is called ``<FUNCTION_PREFIX>-<label>``, so the session's clean-up finds exactly
what it made and never touches a developer's own images or functions.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

from kubeless_runtime.contract import LABEL_PREFIX, dns_label
from kubeless_runtime.tooling.catalog import load_catalog
from kubeless_runtime.tooling.deploy import LABEL_FUNCTION, FunctionNotFoundError, delete_deployment

REPO = Path(__file__).resolve().parents[2]
SESSION_ID = secrets.token_hex(3)
FUNCTION_PREFIX = f"k{SESSION_ID}"
LABEL_SESSION = f"{LABEL_PREFIX}.test-session"
LABEL_OWNER = f"{LABEL_PREFIX}.test-owner"
OWNER = f"{socket.gethostname()}:{os.getpid()}"
SESSION_LABELS = {LABEL_SESSION: SESSION_ID, LABEL_OWNER: OWNER}
"""On every container, volume and image a test session creates (deploys and builds get them
through $KUBELESS_RUNTIME_LABELS), so a later session can remove what a killed one left."""
HTTP_TIMEOUT = 30
SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

CATALOG = load_catalog()
ALL_RUNTIMES = tuple(CATALOG.names)
PYTHON_RUNTIMES = tuple(r.name for r in CATALOG.of_language("python"))
NODE_RUNTIMES = tuple(r.name for r in CATALOG.of_language("nodejs"))
DISTROLESS = "nodejs_distroless20"


def session_tag(ref: str) -> str:
    """The session-unique tag of a catalog image: kubeless-runtime/python:3.11 ->
    kubeless-runtime-test/python:3.11-s<id>."""
    return ref.replace("kubeless-runtime/", "kubeless-runtime-test/", 1) + f"-s{SESSION_ID}"


def default_ca_bundle() -> Optional[str]:
    """KUBELESS_CA_BUNDLE, else the system bundle when it exists (pip/npm behind a TLS proxy)."""
    value = os.environ.get("KUBELESS_CA_BUNDLE")
    if value:
        return value
    return SYSTEM_CA_BUNDLE if Path(SYSTEM_CA_BUNDLE).is_file() else None


def http(url: str, data: Optional[bytes] = None, method: Optional[str] = None,
         headers: Optional[Dict[str, str]] = None) -> Tuple[int, bytes]:
    """(status, body) of one bounded request to a loopback URL (no proxy, 127.0.0.1 only)."""
    assert url.startswith("http://127.0.0.1:"), url
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=HTTP_TIMEOUT) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@contextlib.contextmanager
def serve_directory(directory: Path, tls: Optional[ssl.SSLContext] = None,
                    host: str = "127.0.0.1") -> Iterator[str]:
    """``directory`` served on 127.0.0.1 (a package source a test builds); yields the base URL,
    http://HOST:PORT or https:// with ``tls``. Files written after it starts are served too."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{'https' if tls else 'http'}://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run_phase(docker_engine: Any, runtime_images: Any, runtime: str, phase: str, volume: Path,
              env: Optional[Dict[str, str]] = None, *, network: str = "host",
              ca_file: Optional[Path] = None) -> int:
    """The catalog's command of ``phase`` for ``runtime`` over ``volume`` at /kubeless, as root,
    on the host network by default (to reach a source a test serves on 127.0.0.1); its exit
    code, its log printed. ``ca_file`` is mounted and named by SSL_CERT_FILE as the deploy does
    with --ca-bundle."""
    (volume / "termination-log").write_text("")  # Kubernetes creates it; so does the deploy
    mounts = {str(volume): {"bind": "/kubeless", "mode": "rw"}}
    environment = {"KUBELESS_TERMINATION_LOG": "/kubeless/termination-log",
                   "MOD_NAME": "fn", "FUNC_HANDLER": "handler", **(env or {})}
    if ca_file is not None:
        mounts[str(ca_file)] = {"bind": "/etc/kubeless/ca-bundle.crt", "mode": "ro"}
        environment["SSL_CERT_FILE"] = "/etc/kubeless/ca-bundle.crt"
    command = runtime_images.runtime(runtime).image(phase).command
    container = docker_engine.containers.run(
        runtime_images.image(runtime, phase), ["sh", "-c", command], detach=True,
        network_mode=network, user="0:0", working_dir="/kubeless", environment=environment,
        volumes=mounts, labels=SESSION_LABELS)
    try:
        code = container.wait(timeout=300)["StatusCode"]
        print(container.logs().decode(errors="replace")[-3000:])
        return code
    finally:
        container.remove(force=True)


@contextlib.contextmanager
def serve_function(docker_engine: Any, image: str, volume: Path) -> Iterator[str]:
    """The runtime ``image`` serving the function ``fn.handler`` of ``volume`` (read-only);
    yields its 127.0.0.1 URL once /healthz answers 200."""
    container = docker_engine.containers.run(
        image, detach=True, ports={"8080/tcp": ("127.0.0.1", None)},
        environment={"MOD_NAME": "fn", "FUNC_HANDLER": "handler", "FUNC_TIMEOUT": "10"},
        volumes={str(volume): {"bind": "/kubeless", "mode": "ro"}}, labels=SESSION_LABELS)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            container.reload()
            ports = container.attrs["NetworkSettings"]["Ports"].get("8080/tcp")
            if ports:
                url = f"http://127.0.0.1:{ports[0]['HostPort']}"
                try:
                    if http(url + "/healthz")[0] == 200:
                        yield url
                        return
                except OSError:
                    pass
            if container.status == "exited":
                break
            time.sleep(0.2)
        raise AssertionError(f"the function did not start:\n{container.logs().decode()[-2000:]}")
    finally:
        container.remove(force=True)


def short(runtime: str) -> str:
    """A name-safe tag of a runtime: python3.11 -> python3-11, java1.8 -> java1-8."""
    return dns_label(runtime, 24)


def container_env(client: Any, container_id: str) -> Dict[str, str]:
    """The environment a container was created with."""
    env = client.containers.get(container_id).attrs["Config"]["Env"]
    return dict(item.split("=", 1) for item in env)


def _function_label(obj: Any) -> str:
    labels = getattr(obj, "labels", None)
    if labels is None:  # a volume
        labels = obj.attrs.get("Labels")
    return (labels or {}).get(LABEL_FUNCTION) or ""


def leftovers(client: Any, prefix: str) -> List[str]:
    """Containers and volumes of functions named ``prefix...`` that still exist."""
    found = [c.name for c in client.containers.list(all=True, filters={"label": LABEL_FUNCTION})
             if _function_label(c).startswith(prefix)]
    found += [v.name for v in client.volumes.list(filters={"label": LABEL_FUNCTION})
              if _function_label(v).startswith(prefix)]
    return found


def delete_functions(client: Any, prefix: str) -> List[str]:
    """Delete every function named ``prefix...`` (containers, volume, state folder)."""
    names = {_function_label(c) for c in client.containers.list(
        all=True, filters={"label": LABEL_FUNCTION})}
    names |= {_function_label(v) for v in client.volumes.list(filters={"label": LABEL_FUNCTION})}
    deleted = []
    for name in sorted(n for n in names if n.startswith(prefix)):
        try:
            delete_deployment(name, client=client)
            deleted.append(name)
        except FunctionNotFoundError:
            pass
    return deleted


def _owner_gone(owner: str) -> bool:
    """Whether the session process ``host:pid`` of this machine no longer runs."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's session (a shared engine): not ours to judge
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return int(pid) != os.getpid() and _is_zombie(int(pid))


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except (OSError, IndexError):
        return False


def reap_dead_sessions(client: Any) -> List[str]:
    """Remove the containers, volumes and images of test sessions whose process is gone."""
    removed: List[str] = []
    label = {"label": LABEL_OWNER}
    for container in client.containers.list(all=True, filters=label):
        if _owner_gone(container.labels.get(LABEL_OWNER, "")):
            container.remove(force=True, v=True)
            removed.append(f"container {container.name}")
    for volume in client.volumes.list(filters=label):
        if _owner_gone((volume.attrs.get("Labels") or {}).get(LABEL_OWNER, "")):
            volume.remove(force=True)
            removed.append(f"volume {volume.name}")
    for image in client.images.list(filters=label):
        if _owner_gone((image.labels or {}).get(LABEL_OWNER, "")):
            for tag in image.tags or [image.id]:
                try:
                    client.images.remove(tag, force=True)
                except Exception:  # noqa: BLE001 - a child of it went first, or in use
                    continue
            removed.append(f"image {(image.tags or [image.short_id])[0]}")
    return removed

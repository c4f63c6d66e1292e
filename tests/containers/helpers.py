"""Helpers the container tests share (the fixtures are in conftest.py).

Names made by one pytest session carry :data:`SESSION_ID`: images are tagged
``kubeless-runtime-test/<name>:<version>-s<id>`` (see :func:`session_tag`) and every function a
test deploys is called ``<FUNCTION_PREFIX>-<label>``, so the session's clean-up finds exactly
what it made and never touches a developer's own images or functions.
"""

from __future__ import annotations

import os
import secrets
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from kubeless_runtime.contract import dns_label
from kubeless_runtime.tooling.catalog import load_catalog
from kubeless_runtime.tooling.deploy import LABEL_FUNCTION, FunctionNotFoundError, delete_deployment

REPO = Path(__file__).resolve().parents[2]
SESSION_ID = secrets.token_hex(3)
FUNCTION_PREFIX = f"k{SESSION_ID}"
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

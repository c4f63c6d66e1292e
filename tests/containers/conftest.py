"""Session fixtures for the container tests: the Docker engine and our Python runtime images.

``runtime_catalog`` builds the catalog's Python images once per session under unique tags
(``kubeless-runtime-test/...:<version>-<random>``, so a developer's own images are never
touched) and removes them, and the build-stage images the session created, at the end.
The layer cache makes a rebuild of unchanged images take seconds.

Environment: KUBELESS_CA_BUNDLE (default /etc/ssl/certs/ca-certificates.crt when present)
reaches pip; KUBELESS_TEST_NOCACHE=1 builds without the layer cache; KUBELESS_REQUIRE_DOCKER=1
fails instead of skipping when no engine answers.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

from kubeless_runtime.catalog import Catalog, load_catalog
from kubeless_runtime.engine import EngineError, get_client

PYTHON_RUNTIMES = ("python3.11", "python3.13")
SESSION_ID = secrets.token_hex(3)


def default_ca_bundle() -> Optional[str]:
    """KUBELESS_CA_BUNDLE, else the system bundle when it exists (pip behind a TLS proxy)."""
    value = os.environ.get("KUBELESS_CA_BUNDLE")
    if value:
        return value
    default = "/etc/ssl/certs/ca-certificates.crt"
    return default if Path(default).is_file() else None


@pytest.fixture(scope="session")
def ca_bundle() -> Optional[str]:
    """The CA bundle the installation phase gets (see :func:`default_ca_bundle`)."""
    return default_ca_bundle()


@pytest.fixture(scope="session")
def docker_engine() -> Any:
    """A Docker client, or a skip (a failure with KUBELESS_REQUIRE_DOCKER=1)."""
    try:
        return get_client()
    except EngineError as exc:
        if os.environ.get("KUBELESS_REQUIRE_DOCKER") == "1":
            pytest.fail(str(exc))
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def runtime_catalog(docker_engine: Any) -> Iterator[Catalog]:
    """The shipped catalog retagged to session-unique tags, with its Python images built."""
    from kubeless_runtime.images import build_images, remove_images

    client = docker_engine
    catalog = load_catalog().retagged(
        lambda ref: ref.replace("kubeless-runtime/", "kubeless-runtime-test/", 1)
        + f"-s{SESSION_ID}")
    existing = {image.id for image in client.images.list(all=True)}
    built = []
    started = time.monotonic()
    try:
        built = build_images(list(PYTHON_RUNTIMES), ca_bundle=default_ca_bundle(),
                             catalog=catalog, client=client,
                             nocache=os.environ.get("KUBELESS_TEST_NOCACHE") == "1",
                             progress=lambda line: None)
        print(f"\nbuilt {len(built)} runtime images in {time.monotonic() - started:.1f}s")
        yield catalog
    finally:
        tags = [image.image for runtime in catalog.runtimes for image in runtime.images]
        remove_images(tags, client=client)
        for stage in {stage for image in built for stage in image.stage_images}:
            if not any(known.split(":")[-1].startswith(stage) for known in existing):
                try:
                    client.images.remove(stage)
                except Exception:  # noqa: BLE001 - still used by another image: keep it
                    pass

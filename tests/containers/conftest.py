"""Session fixtures of the container tests: the Docker engine, the runtime images, deploys.

``runtime_images`` is the shipped catalog retagged to session-unique tags
(``kubeless-runtime-test/...:<version>-s<id>``, so a developer's own images are never touched).
A runtime's images are built the first time a test asks for them (``runtime_images.image(
"nodejs20")``, or a deploy through ``fn``), so ``pytest -k nodejs20`` builds nodejs20 only.
At the end of the session it removes exactly what its builds created: its tags, then every
image layer (build stages included) that did not exist before and that a build step made
rather than took from the layer cache, newest first.  The layer cache of earlier builds is
kept, so a warm session rebuilds in seconds; the build times are printed after the run.

``fn`` deploys a function under a session-unique name and deletes every function the test
deployed when it ends, passed or failed; anything left (a crashed test, the CLI tests) is
deleted at the end of the session.

Environment: KUBELESS_CA_BUNDLE (default /etc/ssl/certs/ca-certificates.crt when present)
reaches pip and npm; KUBELESS_TEST_NOCACHE=1 builds without the layer cache;
KUBELESS_REQUIRE_DOCKER=1 fails instead of skipping when no engine answers.
"""

from __future__ import annotations

import io
import os
import re
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

from kubeless_runtime.tooling.catalog import Catalog, Runtime, load_catalog
from kubeless_runtime.tooling.deploy import (
    Deployment,
    DeploySpec,
    FunctionNotFoundError,
    delete_deployment,
    deploy,
)
from kubeless_runtime.tooling.engine import EngineError, get_client, import_docker
from kubeless_runtime.tooling.images import BuiltImage, build_images

from .helpers import FUNCTION_PREFIX, default_ca_bundle, delete_functions, session_tag

_LAYER_RE = re.compile(r"---> [0-9a-f]{12,64}")
_SUMMARY: List[str] = []
"""Lines for the terminal summary (build times, clean-up), filled by the fixtures."""


class RuntimeImages:
    """The session's test catalog; builds a runtime's images (every phase) on first use."""

    def __init__(self, client: Any, ca_bundle: Optional[str], nocache: bool = False) -> None:
        self.client = client
        self.ca_bundle = ca_bundle
        self.nocache = nocache
        self.catalog: Catalog = load_catalog().retagged(session_tag)
        self.built: Dict[str, List[BuiltImage]] = {}
        self.attempted: List[str] = []
        self.failed: Dict[str, Exception] = {}
        self.created: List[str] = []
        """Full IDs of the images the builds made, oldest first (a parent before its child)."""
        self.report: List[str] = []

    def runtime(self, name: str) -> Runtime:
        """The test catalog's ``name``, its images built."""
        if name in self.failed:
            raise self.failed[name]
        if name not in self.built:
            self._build(name)
        return self.catalog.runtime(name)

    def image(self, name: str, phase: str = "runtime") -> str:
        """The tag of ``name``'s ``phase`` image, built."""
        return self.runtime(name).image(phase).image

    def _build(self, name: str) -> None:
        before = {image.id for image in self.client.images.list(all=True)}
        log = _BuildLog()
        self.attempted.append(name)
        started = time.monotonic()
        try:
            self.built[name] = build_images([name], ca_bundle=self.ca_bundle,
                                            catalog=self.catalog, client=self.client,
                                            nocache=self.nocache, progress=log, verbose=True)
        except Exception as exc:
            self.failed[name] = exc
            raise
        finally:
            log.end_step()
            made = self._remember(log.layers, before)
        images = ", ".join(f"{b.phase} {b.size_mb:.0f} MB in {b.seconds:.1f} s"
                           for b in self.built[name])
        slowest = sorted(log.ran, reverse=True)[:2]
        self.report.append(
            f"built {name} in {time.monotonic() - started:.1f} s ({images}): {made} layers "
            f"made, {log.cached} from the cache" + "".join(
                f"; {seconds:.1f} s {step[:72]}" for seconds, step in slowest if seconds >= 1))

    def _remember(self, layers: List[str], before: set) -> int:
        """Add the new images among ``layers`` to :attr:`created`; how many were new."""
        docker = import_docker()
        count = 0
        for layer in layers:
            try:
                image_id = self.client.images.get(layer).id
            except docker.errors.ImageNotFound:
                continue
            if image_id not in before and image_id not in self.created:
                self.created.append(image_id)
                count += 1
        return count

    def remove(self) -> List[str]:
        """Remove the session's tags and the layers its builds made; what could not go."""
        docker = import_docker()
        kept = []
        tags = {image.image for name in self.attempted
                for image in self.catalog.runtime(name).images}
        for tag in sorted(tags):
            try:
                self._untag(tag)
            except docker.errors.ImageNotFound:
                pass
        for image_id in reversed(self.created):  # children before their parents
            try:
                self.client.images.remove(image_id, noprune=True)
            except docker.errors.ImageNotFound:
                pass
            except docker.errors.APIError as exc:  # a child or a tag of someone else's
                kept.append(image_id[7:19])
                if "child" not in str(exc):
                    kept[-1] += f" ({getattr(exc, 'explanation', exc)})"
        return kept

    def _untag(self, tag: str) -> None:
        """Remove the tag ``tag``; delete its image only if a build of ours made it.

        Why the holder: removing an image's last tag deletes the image, and a fully cached
        build can tag an image that existed, untagged, before the session (an earlier build's
        cache).  The engine has no "untag only" call, but it keeps an image that has a child:
        the tag goes, the image stays (the call answers 409 for the image), then the child,
        a LABEL on top, is deleted without pruning its parent.
        """
        docker = import_docker()
        image = self.client.images.get(tag)
        if image.id in self.created or len(image.tags) > 1:
            self.client.images.remove(tag, force=True, noprune=True)
            return
        dockerfile = f"FROM {image.id.split(':')[-1]}\nLABEL io.kubeless-runtime.test-holder=1\n"
        holder, _logs = self.client.images.build(fileobj=io.BytesIO(dockerfile.encode()),
                                                 rm=True, forcerm=True, pull=False)
        try:
            try:
                self.client.images.remove(tag, force=True, noprune=True)
            except docker.errors.APIError:  # "image has dependent child images": untagged
                pass
        finally:
            self.client.images.remove(holder.id, noprune=True)
        if tag in self.client.images.get(image.id).tags:
            raise RuntimeError(f"could not remove the tag {tag}")


class _BuildLog:
    """Reads build_images' verbose output: the layers that steps made (not the ones taken
    from the cache) and how long each step that ran took."""

    def __init__(self) -> None:
        self.layers: List[str] = []
        self.cached = 0
        self.ran: List[Tuple[float, str]] = []
        self._step = ""
        self._since = 0.0
        self._from_cache = False

    def __call__(self, line: str) -> None:
        image, _, text = line.partition("] ")
        text = text.strip()  # without the "[runtime phase]" prefix
        if text.startswith("Step "):
            self.end_step()
            step = " ".join(text.split(" : ", 1)[-1].split())
            self._step = f"{image.split()[-1]}: {step}"
            self._since, self._from_cache = time.monotonic(), False
        elif text == "---> Using cache":
            self._from_cache = True
            self.cached += 1
        elif not self._from_cache and _LAYER_RE.fullmatch(text):
            self.layers.append(text[5:])

    def end_step(self) -> None:
        if self._step and not self._from_cache:
            self.ran.append((time.monotonic() - self._since, self._step))
        self._step = ""


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
def ca_bundle() -> Optional[str]:
    """The CA bundle the installation phase gets (see :func:`helpers.default_ca_bundle`)."""
    return default_ca_bundle()


@pytest.fixture(scope="session")
def runtime_images(docker_engine: Any, ca_bundle: Optional[str]) -> Iterator[RuntimeImages]:
    """The test catalog; builds lazily, removes what it built (and leftover functions)."""
    images = RuntimeImages(docker_engine, ca_bundle,
                           nocache=os.environ.get("KUBELESS_TEST_NOCACHE") == "1")
    try:
        yield images
    finally:
        swept = delete_functions(docker_engine, f"{FUNCTION_PREFIX}-")
        kept = images.remove()
        _SUMMARY.extend(images.report)
        _SUMMARY.append(f"removed the tags of {len(images.attempted)} runtimes and "
                        f"{len(images.created) - len(kept)} of {len(images.created)} layers "
                        "the builds made" + (f"; deleted leftover functions {swept}"
                                             if swept else ""))
        if kept:
            _SUMMARY.append(f"kept {len(kept)} layers that other images now build on: "
                            + ", ".join(kept))


class Functions:
    """``fn(label, runtime, **deploy_kwargs)``: deploy() with the test catalog, built images
    and the CA bundle, as ``<session prefix>-<label>``; ``fn.name(label)`` for the CLI."""

    def __init__(self, images: RuntimeImages, client: Any, ca_bundle: Optional[str]) -> None:
        self.images = images
        self.client = client
        self.ca_bundle = ca_bundle
        self.names: List[str] = []

    def name(self, label: str) -> str:
        """The function name of ``label``, deleted when the test ends."""
        name = f"{FUNCTION_PREFIX}-{label}"
        if name not in self.names:
            self.names.append(name)
        return name

    def __call__(self, label: str, runtime: Optional[str], **fields: Any) -> Deployment:
        if runtime in self.images.catalog:
            self.images.runtime(runtime)
        options = {key: fields.pop(key) for key in ("keep_on_failure", "phase_timeout",
                                                     "progress") if key in fields}
        catalog = fields.pop("catalog", self.images.catalog)
        fields.setdefault("ca_bundle", self.ca_bundle)
        spec = DeploySpec(name=self.name(label), runtime=runtime, **fields)
        return deploy(spec, self.client, catalog=catalog, **options)

    def delete_all(self) -> List[str]:
        errors = []
        for name in self.names:
            try:
                delete_deployment(name, client=self.client)
            except FunctionNotFoundError:
                pass
            except Exception as exc:  # noqa: BLE001 - delete the others, then report
                errors.append(f"{name}: {exc}")
        return errors


@pytest.fixture
def fn(runtime_images: RuntimeImages, docker_engine: Any,
       ca_bundle: Optional[str]) -> Iterator[Functions]:
    """Deploys functions for one test; deletes all of them afterwards, passed or failed."""
    functions = Functions(runtime_images, docker_engine, ca_bundle)
    yield functions
    errors = functions.delete_all()
    assert not errors, f"could not delete: {errors}"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _SUMMARY:
        terminalreporter.section("container test images")
        for line in _SUMMARY:
            terminalreporter.write_line(line)

"""Build the runtime images the catalog lists, through the Docker engine.

Why the build context is assembled here rather than taken from the repository: the same
command must work from a wheel (``pip install kubeless-runtime[docker]``) with no checkout.
The context is the installed ``kubeless_runtime`` package (minus ``_images`` and caches), the
files of ``images/<directory>/``, a ``requirements.txt`` made from the package's own metadata
(so pyproject stays the one list of runtime dependencies) and ``ca-bundle.crt`` (the
``--ca-bundle`` file, or empty).  Each Dockerfile decides what to do with them; the Python one
uses the bundle in its build stage only, so the final image does not keep it.
"""

from __future__ import annotations

import fnmatch
import io
import os
import re
import tarfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Deque, Dict, Iterable, List, Optional, Sequence, Tuple

import kubeless_runtime

from ..contract import LABEL_PREFIX
from ..errors import KubelessRuntimeError
from .catalog import Catalog, CatalogError, PhaseImage, Runtime, images_dir, load_catalog
from .engine import SETUP_HINT, extra_labels, get_client, import_docker

Progress = Callable[[str], None]

CA_BUNDLE_ENV = "KUBELESS_CA_BUNDLE"
"""Environment variable naming the default ``--ca-bundle`` (none when unset)."""

OUTPUT_TAIL_LINES = 40
_SKIP_NAMES = {"_images", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".git"}
"""Never part of a build context: caches (each language file adds its own, e.g. node_modules)."""
_STEP_RE = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_LAYER_RE = re.compile(r"^ ---> ([0-9a-f]{12,64})$")
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class ImageError(KubelessRuntimeError):
    """Building or finding a runtime image failed; the message says what to do."""

    code = "image"


class NoBuildRecipeError(ImageError):
    """The catalog lists an image without a ``build`` section, so we cannot build it."""

    code = "no-build-recipe"


class ImageBuildError(ImageError):
    """``docker build`` failed: carries the failing Dockerfile step and its output tail."""

    code = "image-build"

    def __init__(self, tag: str, step: str, error: str, output_tail: str) -> None:
        self.tag = tag
        self.step = step
        self.error = error
        self.output_tail = output_tail
        hint = ""
        if re.search(r"pull access denied|registry|repository does not exist|no such host|"
                     r"manifest unknown|not found: manifest", error, re.I):
            hint = (f"\nhint: a base image is missing and no registry is reachable: {SETUP_HINT}"
                    " (it builds debian:bookworm-slim and debian:trixie-slim offline)")
        if re.search(r"CERTIFICATE_VERIFY_FAILED|certificate verify failed|SELF_SIGNED_CERT|"
                     r"unable to get local issuer", error + output_tail, re.I):
            hint += (f"\nhint: TLS is intercepted by a proxy: pass --ca-bundle PATH (or set "
                     f"{CA_BUNDLE_ENV}); on the project's machines "
                     "/etc/ssl/certs/ca-certificates.crt")
        super().__init__(f"building {tag} failed at {step or 'the start'}:\n{error.strip()}\n"
                         f"--- output tail ---\n{output_tail.rstrip()}{hint}")


@dataclass(frozen=True)
class BuiltImage:
    """One image that :func:`build_images` built."""

    runtime: str
    phase: str
    tag: str
    image_id: str
    size: int
    seconds: float
    stage_images: Tuple[str, ...] = ()
    """IDs of the last image of each earlier build stage (untagged; for cleanup)."""

    @property
    def size_mb(self) -> float:
        return self.size / 1e6


def default_ca_bundle() -> Optional[str]:
    """``$KUBELESS_CA_BUNDLE`` if set, else None (no CA bundle).

    Behind a TLS-intercepting proxy pip needs the proxy's CA; on the project's machines that
    is /etc/ssl/certs/ca-certificates.crt.
    """
    value = os.environ.get(CA_BUNDLE_ENV, "").strip()
    return value or None


def package_dir() -> Path:
    """The directory of the ``kubeless_runtime`` package that the images will contain."""
    return Path(kubeless_runtime.__file__).resolve().parent


def runtime_requirements(package: Optional[Path] = None) -> List[str]:
    """The runtime dependencies of kubeless-runtime, as requirement lines (no extras).

    A source checkout reads ``pyproject.toml`` next to the package (it is the truth there); an
    installed package reads its metadata.
    """
    package = package or package_dir()
    pyproject = package.parent / "pyproject.toml"
    if pyproject.is_file():
        try:
            import tomllib  # Python >= 3.11
        except ImportError:
            tomllib = None  # type: ignore[assignment]
        if tomllib is not None:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            project = data.get("project", {})
            if project.get("name") == "kubeless-runtime":
                return [str(dep) for dep in project.get("dependencies", [])]
    from importlib import metadata

    try:
        requires = metadata.requires("kubeless-runtime") or []
    except metadata.PackageNotFoundError:
        raise ImageError("cannot tell the runtime dependencies of kubeless-runtime: it is not "
                         "installed and no pyproject.toml is next to the package; "
                         "pip install it first") from None
    return [req for req in requires if "extra ==" not in req.replace("extra==", "extra ==")]


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = 0  # the legacy builder hashes content, not times; fixed times keep it so
    tar.addfile(info, io.BytesIO(data))


def _dockerignore(source: Path) -> List[str]:
    """Patterns of ``source/.dockerignore`` (the engine does not read it: the client does)."""
    try:
        lines = (source / ".dockerignore").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    patterns = []
    for line in lines:
        line = line.strip()
        if line and not line.startswith(("#", "!")):
            patterns.append(line.strip("/"))
    return patterns


def _ignored(relative: Path, patterns: List[str]) -> bool:
    parts = relative.parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(fnmatch.fnmatchcase(prefix, pattern) for pattern in patterns for prefix in prefixes)


def _add_tree(tar: tarfile.TarFile, source: Path, prefix: str,
              exclude: Sequence[str] = ()) -> None:
    patterns = _dockerignore(source) + [pattern.strip("/") for pattern in exclude]
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if any(part in _SKIP_NAMES for part in relative.parts) or _ignored(relative, patterns):
            continue
        if path.suffix in (".pyc", ".pyo") or path.is_dir() or not path.is_file():
            continue
        mode = 0o755 if os.access(path, os.X_OK) else 0o644
        _add_bytes(tar, f"{prefix}{relative.as_posix()}", path.read_bytes(), mode)


def build_context(runtime: Runtime, phase: str = "runtime", ca_bundle: Optional[str] = None,
                  package: Optional[Path] = None, base_dir: Optional[Path] = None) -> bytes:
    """The tar build context of one image (see the module docstring for its contents)."""
    image = runtime.image(phase)
    build = _recipe(runtime, image)
    base_dir = base_dir or images_dir()
    recipe_dir = base_dir / build.directory
    if not (recipe_dir / build.dockerfile).is_file():
        raise ImageError(f"{runtime.name} {phase}: {recipe_dir / build.dockerfile} does not "
                         "exist; fix the catalog's build section")
    package = package or package_dir()
    ca_data = b""
    if ca_bundle:
        try:
            ca_data = Path(ca_bundle).read_bytes()
        except OSError as exc:
            raise ImageError(f"cannot read --ca-bundle {ca_bundle}: {exc}") from None
    requirements = ("\n".join(runtime_requirements(package)) + "\n"
                    if runtime.context_package else "")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        _add_tree(tar, recipe_dir, "", runtime.context_exclude)
        if runtime.context_package:
            _add_tree(tar, package, "kubeless_runtime/")
            _add_bytes(tar, "requirements.txt", requirements.encode())
        _add_bytes(tar, "ca-bundle.crt", ca_data)
    return buffer.getvalue()


def _recipe(runtime: Runtime, image: PhaseImage):
    if image.build is None:
        raise NoBuildRecipeError(
            f"{runtime.name} {image.phase}: the catalog has no build section for {image.image};"
            " it is used as is (pull it, or add a build section)")
    return image.build


def dockerfile_text(runtime: str, phase: str = "runtime",
                    catalog: Optional[Catalog] = None) -> str:
    """The Dockerfile that builds ``runtime``'s ``phase`` image, as shipped."""
    catalog = catalog or load_catalog()
    spec = catalog.runtime(runtime)
    build = _recipe(spec, spec.image(phase))
    path = (catalog.base_dir or images_dir()) / build.directory / build.dockerfile
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ImageError(f"cannot read {path}: {exc}") from None


def buildable_images(runtimes: Optional[Sequence[str]] = None,
                     catalog: Optional[Catalog] = None) -> List[Tuple[Runtime, PhaseImage]]:
    """(runtime, image) pairs to build, in catalog and phase order; unknown names raise."""
    catalog = catalog or load_catalog()
    chosen = [catalog.runtime(name) for name in runtimes] if runtimes else catalog.runtimes
    return [(runtime, image) for runtime in chosen for image in runtime.images
            if image.build is not None]


def build_images(runtimes: Optional[Sequence[str]] = None, ca_bundle: Optional[str] = None,
                 progress: Optional[Progress] = None, *, catalog: Optional[Catalog] = None,
                 client: Any = None, nocache: bool = False, package: Optional[Path] = None,
                 verbose: bool = False) -> List[BuiltImage]:
    """Build every phase image the catalog lists for ``runtimes`` (all when None).

    ``progress`` receives one line per Dockerfile step (every output line when ``verbose``).
    Images are built phase by phase so that shared first layers (the installation image and
    the runtime image's build stage) are cached for the next one.
    """
    catalog = catalog or load_catalog()
    if ca_bundle is None:
        ca_bundle = default_ca_bundle()
    pairs = buildable_images(runtimes, catalog)
    if runtimes and not pairs:
        raise NoBuildRecipeError(f"the catalog has no build section for {', '.join(runtimes)}")
    client = get_client(client)
    say = progress or (lambda line: None)
    built = []
    contexts: Dict[Tuple[str, str], bytes] = {}
    for runtime, image in pairs:
        key = (runtime.name, image.build.directory if image.build else "")
        if key not in contexts:
            contexts[key] = build_context(runtime, image.phase, ca_bundle, package,
                                          catalog.base_dir)
        say(f"[{runtime.name} {image.phase}] building {image.image}")
        built.append(_build_one(client, runtime, image, contexts[key], say, nocache, verbose))
        last = built[-1]
        say(f"[{runtime.name} {image.phase}] built {last.tag} ({last.size_mb:.0f} MB) "
            f"in {last.seconds:.1f}s")
    return built


def _package_version() -> str:
    version = getattr(kubeless_runtime, "__version__", "")
    if version:
        return str(version)
    from importlib import metadata

    try:
        return metadata.version("kubeless-runtime")
    except metadata.PackageNotFoundError:
        return "unknown"


def _build_one(client: Any, runtime: Runtime, image: PhaseImage, context: bytes,
               say: Progress, nocache: bool, verbose: bool) -> BuiltImage:
    docker = import_docker()
    build = _recipe(runtime, image)
    labels = {**extra_labels(), f"{LABEL_PREFIX}.runtime": runtime.name,
              f"{LABEL_PREFIX}.phase": image.phase,
              f"{LABEL_PREFIX}.version": _package_version()}
    started = time.monotonic()
    step = ""
    last_layer = ""
    stages: List[str] = []
    tail: Deque[str] = deque(maxlen=OUTPUT_TAIL_LINES)
    prefix = f"[{runtime.name} {image.phase}]"
    try:
        stream: Iterable[Dict[str, Any]] = client.api.build(
            fileobj=io.BytesIO(context), custom_context=True, dockerfile=build.dockerfile,
            tag=image.image, buildargs=dict(build.args), labels=labels, rm=True, forcerm=True,
            nocache=nocache, pull=False, decode=True)
        for chunk in stream:
            if "error" in chunk or "errorDetail" in chunk:
                detail = chunk.get("errorDetail") or {}
                raise ImageBuildError(image.image, step,
                                      detail.get("message") or chunk.get("error", ""),
                                      "\n".join(tail))
            text = chunk.get("stream")
            if not text:
                continue
            for line in _ANSI_RE.sub("", text).splitlines():
                if not line.strip():
                    continue
                match = _STEP_RE.match(line.strip())
                layer = _LAYER_RE.match(line.rstrip())
                if layer:
                    last_layer = layer.group(1)
                if match:
                    if match.group(3).upper().startswith("FROM ") and last_layer:
                        stages.append(last_layer)
                    step = line.strip()
                    tail.clear()
                    say(f"{prefix} {step[:160]}")
                else:
                    tail.append(line)
                    if verbose:
                        say(f"{prefix}   {line}")
    except docker.errors.APIError as exc:
        raise ImageBuildError(image.image, step, str(exc), "\n".join(tail)) from None
    try:
        result = client.images.get(image.image)
    except docker.errors.ImageNotFound:
        raise ImageBuildError(image.image, step, "the build ended without an image",
                              "\n".join(tail)) from None
    return BuiltImage(runtime=runtime.name, phase=image.phase, tag=image.image,
                      image_id=result.id, size=int(result.attrs.get("Size") or 0),
                      seconds=time.monotonic() - started, stage_images=tuple(stages))


def remove_images(tags: Iterable[str], client: Any = None) -> List[str]:
    """Remove images by tag (missing ones are skipped); returns the tags removed."""
    docker = import_docker()
    client = get_client(client)
    removed = []
    for tag in tags:
        try:
            client.images.remove(tag, force=True)
            removed.append(tag)
        except docker.errors.ImageNotFound:
            continue
    return removed


__all__ = [
    "CA_BUNDLE_ENV", "BuiltImage", "CatalogError", "ImageBuildError", "ImageError",
    "NoBuildRecipeError", "build_context", "build_images", "buildable_images",
    "default_ca_bundle", "dockerfile_text", "package_dir", "remove_images",
    "runtime_requirements",
]

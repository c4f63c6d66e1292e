"""Read a function's zip bundle without letting it write outside its folder.

Kubeless accepts a zip as ``--from-file``; a crafted archive with ``../``
entries, absolute paths, links or devices could otherwise overwrite files of
the runtime (a "zip slip"), and a zip bomb could fill the disk, so every entry
is checked before anything is written. ``serve`` extracts with
:func:`extract_zip`; ``deploy`` streams :func:`zip_entries` into a volume.
"""

from __future__ import annotations

import io
import re
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import List, Optional, Tuple

from .errors import UsageError

MAX_BUNDLE_BYTES = 256 * 1024 * 1024
MAX_BUNDLE_ENTRIES = 20000

Entry = Tuple[str, Optional[bytes], int]
"""(relative path, content or None for a folder, file mode)."""


class BundleError(UsageError):
    """The bundle is not a usable zip file; the message says why and what to do."""

    code = "invalid-bundle"


class UnsafeBundleError(BundleError):
    """An entry would land outside the function folder, or the bundle is too big."""

    code = "unsafe-bundle"


def zip_entries(data: bytes, source: str = "bundle") -> List[Entry]:
    """Every entry of a zip bundle, after checking them all."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise BundleError(f"{source} is not a readable zip file ({exc}); pass a source file or "
                          "a zip made with 'zip -r function.zip .'") from None
    entries: List[Entry] = []
    total = 0
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_BUNDLE_ENTRIES:
            raise UnsafeBundleError(f"{source} has {len(infos)} entries; the limit is "
                                    f"{MAX_BUNDLE_ENTRIES}")
        for info in infos:
            raw = info.filename
            name = raw.replace("\\", "/")
            path = PurePosixPath(name)
            if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
                raise UnsafeBundleError(f"{source}: entry {raw!r} is an absolute path; "
                                        "rebuild the zip with paths relative to the function "
                                        "folder")
            if ".." in path.parts:
                raise UnsafeBundleError(f"{source}: entry {raw!r} escapes the function folder "
                                        "with '..'; rebuild the zip with paths inside it")
            mode = info.external_attr >> 16
            kind = stat.S_IFMT(mode)
            if kind == stat.S_IFLNK:
                raise UnsafeBundleError(f"{source}: entry {raw!r} is a symbolic link, which a "
                                        "function bundle may not contain; store the file itself")
            if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise UnsafeBundleError(f"{source}: entry {raw!r} is not a regular file or "
                                        "folder")
            parts = [part for part in path.parts if part not in ("", ".")]
            if not parts:
                continue
            relative = "/".join(parts)
            if info.is_dir() or kind == stat.S_IFDIR:
                entries.append((relative, None, 0o755))
                continue
            total += info.file_size
            if total > MAX_BUNDLE_BYTES:
                raise UnsafeBundleError(f"{source} unpacks to more than "
                                        f"{MAX_BUNDLE_BYTES // 2**20} MiB")
            try:
                with archive.open(info) as handle:
                    content = handle.read(info.file_size + 1)
            except (zipfile.BadZipFile, zlib.error, EOFError, ValueError,
                    NotImplementedError, OSError) as exc:
                # zipfile stops at the size the header claims, so a lying header shows up
                # as a CRC or stream error rather than as extra bytes.
                raise UnsafeBundleError(
                    f"{source}: entry {raw!r} does not match its header ({exc}): it is larger "
                    "than its header says, or damaged; rebuild the zip with 'zip -r "
                    "function.zip .'") from None
            if len(content) > info.file_size:
                raise UnsafeBundleError(f"{source}: entry {raw!r} is larger than its header "
                                        "says")
            entries.append((relative, content, 0o755 if mode & 0o111 else 0o644))
    return entries


def extract_zip(bundle: Path, destination: Path) -> List[Path]:
    """Extract ``bundle`` into ``destination``; nothing is written unless every entry is safe."""
    try:
        data = bundle.read_bytes()
    except OSError as exc:
        raise BundleError(f"cannot read {bundle}: {exc}") from None
    written = []
    for relative, content, mode in zip_entries(data, str(bundle)):
        target = destination / relative
        if content is None:
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        target.chmod(mode)
        written.append(target)
    return written

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


def _relative_path(raw: str, source: str, rebuild: str) -> Optional[str]:
    """An entry's path inside the function folder (None for the folder itself), or
    :class:`UnsafeBundleError` when it is absolute or climbs out with ``..``."""
    name = raw.replace("\\", "/")
    path = PurePosixPath(name)
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise UnsafeBundleError(f"{source}: entry {raw!r} is an absolute path; rebuild "
                                f"{rebuild} with paths relative to the function folder")
    if ".." in path.parts:
        raise UnsafeBundleError(f"{source}: entry {raw!r} escapes the function folder with "
                                f"'..'; rebuild {rebuild} with paths inside it")
    parts = [part for part in path.parts if part not in ("", ".")]
    return "/".join(parts) if parts else None


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
            relative = _relative_path(raw, source, "the zip")
            mode = info.external_attr >> 16
            kind = stat.S_IFMT(mode)
            if kind == stat.S_IFLNK:
                raise UnsafeBundleError(f"{source}: entry {raw!r} is a symbolic link, which a "
                                        "function bundle may not contain; store the file itself")
            if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise UnsafeBundleError(f"{source}: entry {raw!r} is not a regular file or "
                                        "folder")
            if relative is None:
                continue
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
    return _write_entries(zip_entries(_read_bundle(bundle), str(bundle)), destination)


def _read_bundle(bundle: Path) -> bytes:
    try:
        return bundle.read_bytes()
    except OSError as exc:
        raise BundleError(f"cannot read {bundle}: {exc}") from None


def _write_entries(entries: List[Entry], destination: Path) -> List[Path]:
    written = []
    for relative, content, mode in entries:
        target = destination / relative
        if content is None:
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        target.chmod(mode)
        written.append(target)
    return written


# --- tar archives (.tar.gz, .tar.bz2, .tar.xz, .tar) ------------------------------------------
# Kubeless also deploys a function from a compressed tar.  The same rules hold: every member is
# checked before anything is written, and the decompressed stream is read through a counter so
# a small archive that inflates to gigabytes stops at the limit instead of filling memory.

TAR_SUFFIXES = {".tar.gz": "gz", ".tgz": "gz", ".tar.bz2": "bz2", ".tbz2": "bz2",
                ".tar.xz": "xz", ".txz": "xz", ".tar": ""}
_TAR_OVERHEAD = 3 * 512  # a header, a long-name header and padding per member


def bundle_format(name: str) -> Optional[str]:
    """``"zip"``, ``"tar"`` or None (a plain source file), from the file name as Kubeless does."""
    lower = name.lower()
    if lower.endswith(".zip"):
        return "zip"
    if any(lower.endswith(suffix) for suffix in TAR_SUFFIXES):
        return "tar"
    return None


def _inflate(data: bytes, source: str) -> bytes:
    """The decompressed tar, read in chunks so a bomb stops at the limit, not at memory's end."""
    import bz2
    import gzip
    import lzma

    raw = io.BytesIO(data)
    if data[:2] == b"\x1f\x8b":
        stream: "io.BufferedIOBase" = gzip.GzipFile(fileobj=raw)  # type: ignore[assignment]
    elif data[:3] == b"BZh":
        stream = bz2.BZ2File(raw)  # type: ignore[assignment]
    elif data[:6] == b"\xfd7zXZ\x00":
        stream = lzma.LZMAFile(raw)  # type: ignore[assignment]
    else:
        return data
    limit = MAX_BUNDLE_BYTES + MAX_BUNDLE_ENTRIES * _TAR_OVERHEAD + 1024 * 1024
    chunks, size = [], 0
    with stream:
        while True:
            chunk = stream.read(1024 * 1024)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise UnsafeBundleError(f"{source} unpacks to more than "
                                        f"{MAX_BUNDLE_BYTES // 2**20} MiB")
            chunks.append(chunk)
    return b"".join(chunks)


def _tar_member(member, source: str) -> Optional[str]:
    """The member's safe relative path (None for the folder itself), or UnsafeBundleError."""
    raw = member.name
    relative = _relative_path(raw, source, "the archive (tar -C folder -czf function.tar.gz .)")
    if member.issym() or member.islnk():
        raise UnsafeBundleError(f"{source}: entry {raw!r} is a link, which a function bundle "
                                "may not contain; store the file itself (tar --dereference)")
    if not (member.isfile() or member.isdir()):
        raise UnsafeBundleError(f"{source}: entry {raw!r} is not a regular file or folder")
    return relative


def tar_entries(data: bytes, source: str = "bundle") -> List[Entry]:
    """Every member of a (compressed) tar bundle, after checking them all."""
    import lzma
    import tarfile
    import zlib

    entries: List[Entry] = []
    total = count = 0
    current = ""
    try:
        raw = _inflate(data, source)
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as archive:
            while True:
                member = archive.next()
                if member is None:
                    break
                count += 1
                if count > MAX_BUNDLE_ENTRIES:
                    raise UnsafeBundleError(f"{source} has more than {MAX_BUNDLE_ENTRIES} "
                                            "entries; that is the limit")
                current = member.name
                relative = _tar_member(member, source)
                if relative is None:
                    continue
                if member.isdir():
                    entries.append((relative, None, 0o755))
                    continue
                total += member.size
                if total > MAX_BUNDLE_BYTES:
                    raise UnsafeBundleError(f"{source} unpacks to more than "
                                            f"{MAX_BUNDLE_BYTES // 2**20} MiB")
                handle = archive.extractfile(member)
                content = handle.read() if handle is not None else b""
                if len(content) != member.size:
                    raise tarfile.ReadError("unexpected end of data")
                entries.append((relative, content, 0o755 if member.mode & 0o111 else 0o644))
            # tarfile stops quietly at a block that is not a header: after the last member only
            # the zero blocks of the end marker may follow, else a member lied about its size.
            if raw[archive.offset:].strip(b"\0"):
                raise tarfile.ReadError("data that is not a tar header follows it")
    except UnsafeBundleError:
        raise
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
        if current:
            raise UnsafeBundleError(f"{source}: the data after entry {current!r} does not match "
                                    f"its header ({exc}); a member lies about its size or the "
                                    "archive is damaged; rebuild it with tar") from None
        raise BundleError(f"{source} is not a readable tar archive ({exc}); pass a source file, "
                          "a zip, or a .tar.gz/.tar.bz2/.tar.xz made with "
                          "'tar -C folder -czf function.tar.gz .'") from None
    return entries


def bundle_entries(data: bytes, source: str) -> List[Entry]:
    """The checked entries of a zip or tar bundle, chosen by ``source``'s file name."""
    if bundle_format(source) == "tar":
        return tar_entries(data, source)
    return zip_entries(data, source)


def extract_bundle(bundle: Path, destination: Path) -> List[Path]:
    """Extract a zip or tar bundle into ``destination``; nothing is written unless all is safe."""
    if bundle_format(bundle.name) != "tar":
        return extract_zip(bundle, destination)
    return _write_entries(tar_entries(_read_bundle(bundle), str(bundle)), destination)

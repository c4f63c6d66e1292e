"""Unpack a function's zip bundle without letting it write outside its folder.

Kubeless accepts a zip as ``--from-file``; a crafted archive with ``../``
entries, absolute paths or symlinks could otherwise overwrite files of the
runtime (a "zip slip"), so every entry is checked before anything is written.
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath
from typing import List


class BundleError(ValueError):
    """The bundle is not a usable zip file; the message says which entry and why."""


def check_entries(archive: zipfile.ZipFile, source: str) -> List[zipfile.ZipInfo]:
    """Every entry, or :class:`BundleError` for the first that would escape the folder."""
    entries = []
    for info in archive.infolist():
        name = info.filename.replace("\\", "/")
        path = PurePosixPath(name)
        if path.is_absolute() or (len(name) > 1 and name[1] == ":"):
            raise BundleError(f"{source}: entry {info.filename!r} is an absolute path; "
                              "rebuild the zip with paths relative to the function folder.")
        if ".." in path.parts:
            raise BundleError(f"{source}: entry {info.filename!r} escapes the function folder "
                              "with '..'; rebuild the zip with paths inside the folder.")
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise BundleError(f"{source}: entry {info.filename!r} is a symbolic link, which a "
                              "function bundle may not contain; store the file itself.")
        entries.append(info)
    return entries


def extract_zip(bundle: Path, destination: Path) -> List[Path]:
    """Extract ``bundle`` into ``destination`` after checking every entry."""
    try:
        archive = zipfile.ZipFile(bundle)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BundleError(f"{bundle} is not a readable zip file ({exc}); pass a .py file or a "
                          "zip made with 'zip -r function.zip .'.") from None
    written = []
    with archive:
        destination = destination.resolve()
        for info in check_entries(archive, str(bundle)):
            target = (destination / info.filename).resolve()
            if destination != target and destination not in target.parents:
                raise BundleError(f"{bundle}: entry {info.filename!r} escapes the function "
                                  "folder; rebuild the zip with paths inside the folder.")
            archive.extract(info, destination)
            written.append(target)
    return written

"""Zip a folder's files, relative to it, in sorted order: `python3 zip-folder.py FOLDER OUT.zip`.

Used by the make-bundle.sh scripts that rebuild the zip bundles kept beside their sources.
"""

import os
import sys
import zipfile


def main(folder: str, target: str) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for root, dirs, files in sorted(os.walk(folder)):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(root, name)
                archive.write(path, os.path.relpath(path, folder))


if __name__ == "__main__":
    main(*sys.argv[1:3])

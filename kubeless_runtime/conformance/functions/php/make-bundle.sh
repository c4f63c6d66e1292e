#!/usr/bin/env bash
# Rebuild conformance.zip from bundle/: the function plus the `path` repository it installs.
set -euo pipefail
cd "$(dirname "$0")"
root=$(git rev-parse --show-toplevel)
rm -f conformance.zip
python3 "$root/scripts/zip-folder.py" bundle conformance.zip
echo "wrote $PWD/conformance.zip"

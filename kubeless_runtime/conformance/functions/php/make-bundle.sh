#!/usr/bin/env bash
# Rebuild conformance.zip from bundle/: the function plus the `path` repository it installs.
set -euo pipefail
cd "$(dirname "$0")/bundle"
rm -f ../conformance.zip
python3 - ../conformance.zip <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for folder, dirs, files in sorted(os.walk(".")):
        dirs.sort()
        for name in sorted(files):
            z.write(os.path.join(folder, name)[2:])
PY
echo "wrote $(cd .. && pwd)/conformance.zip"

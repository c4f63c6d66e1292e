#!/usr/bin/env bash
# Rebuild hellowithdeps.zip (the function and the `path` repository its composer.json names)
# from the folder hellowithdeps/.
set -euo pipefail
cd "$(dirname "$0")/hellowithdeps"
rm -f ../hellowithdeps.zip
python3 - ../hellowithdeps.zip <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for folder, dirs, files in sorted(os.walk(".")):
        dirs.sort()
        for name in sorted(files):
            z.write(os.path.join(folder, name)[2:])
PY
echo "wrote $(cd .. && pwd)/hellowithdeps.zip"

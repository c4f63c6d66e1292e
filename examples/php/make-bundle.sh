#!/usr/bin/env bash
# Rebuild hellowithdeps.zip (the function and the `path` repository its composer.json names)
# from the folder hellowithdeps/.
set -euo pipefail
cd "$(dirname "$0")"
root=$(git rev-parse --show-toplevel)
rm -f hellowithdeps.zip
python3 "$root/scripts/zip-folder.py" hellowithdeps hellowithdeps.zip
echo "wrote $PWD/hellowithdeps.zip"

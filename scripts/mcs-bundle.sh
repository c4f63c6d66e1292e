#!/usr/bin/env bash
# Build a C# function bundle: FILEs at the zip's root, LIBRARY.cs compiled by Mono's mcs (in the
# C# installation image, no network) into lib/LIBRARY.dll, the folder the runtime references.
#   bash scripts/mcs-bundle.sh OUT.zip LIBRARY.cs FILE...
#   IMAGE=kubeless-runtime/mono-init:6.12 bash scripts/mcs-bundle.sh ...   (default mono-init:6.8)
set -euo pipefail
out=$(realpath -m "$1") library=$2
shift 2
image=${IMAGE:-kubeless-runtime/mono-init:6.8}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bundle/lib" "$work/src"
cp "$library" "$work/src/"
cp "$@" "$work/bundle/"
name=$(basename "$library" .cs)
docker run --rm --network none --user "$(id -u):$(id -g)" -v "$work:/work" -w /work "$image" \
    mcs -target:library -deterministic -out:"bundle/lib/$name.dll" "src/$name.cs"
rm -f "$out"
python3 "$(dirname "$0")/zip-folder.py" "$work/bundle" "$out"
echo "wrote $out"

#!/usr/bin/env bash
# Rebuild fibonacci.zip from fibonacci/: the function, its project.csproj and lib/MathTools.dll
# (compiled from fibonacci/lib-src by mcs in the C# installation image IMAGE).
#   bash make-bundle.sh [IMAGE]      default kubeless-runtime/mono-init:6.8
set -euo pipefail
cd "$(dirname "$0")"
image=${1:-kubeless-runtime/mono-init:6.8}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bundle/lib"
cp fibonacci/fibonacci.cs fibonacci/project.csproj "$work/bundle/"
cp -r fibonacci/lib-src "$work/src"
docker run --rm --network none --user "$(id -u):$(id -g)" -v "$work:/work" -w /work "$image" \
    mcs -target:library -deterministic -out:bundle/lib/MathTools.dll src/MathTools.cs
rm -f fibonacci.zip
python3 "$(git rev-parse --show-toplevel)/scripts/zip-folder.py" "$work/bundle" fibonacci.zip
echo "wrote $PWD/fibonacci.zip"

#!/usr/bin/env bash
# Rebuild conformance.zip: conformance.cs, project.csproj and lib/KubelessConformanceDep.dll
# (compiled from dep/ by mcs in the C# installation image IMAGE).
#   bash make-bundle.sh [IMAGE]      default kubeless-runtime/mono-init:6.8
set -euo pipefail
cd "$(dirname "$0")"
image=${1:-kubeless-runtime/mono-init:6.8}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bundle/lib"
cp -r dep "$work/dep"
docker run --rm --network none --user "$(id -u):$(id -g)" -v "$work:/work" -w /work "$image" \
    mcs -target:library -deterministic -out:bundle/lib/KubelessConformanceDep.dll dep/KubelessConformanceDep.cs
cp conformance.cs project.csproj "$work/bundle/"
rm -f conformance.zip
python3 "$(git rev-parse --show-toplevel)/scripts/zip-folder.py" "$work/bundle" conformance.zip
echo "wrote $PWD/conformance.zip"

#!/usr/bin/env bash
# Rebuild conformance.zip: conformance.rb plus vendor/cache/kubeless_conformance_dep-1.0.0.gem
# (built from dep/ with `gem build` in the Ruby installation image IMAGE).
#   bash make-bundle.sh [IMAGE]      default kubeless-runtime/ruby-init:3.3
set -euo pipefail
cd "$(dirname "$0")"
image=${1:-kubeless-runtime/ruby-init:3.3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/vendor/cache"
cp -r dep "$work/dep"
docker run --rm --network none --user "$(id -u):$(id -g)" -v "$work:/work" -w /work/dep \
    "$image" gem build --silent kubeless_conformance_dep.gemspec
mv "$work/dep/kubeless_conformance_dep-1.0.0.gem" "$work/vendor/cache/"
cp conformance.rb "$work/"
rm -rf "$work/dep"
rm -f conformance.zip
python3 "$(git rev-parse --show-toplevel)/scripts/zip-folder.py" "$work" conformance.zip
echo "wrote $PWD/conformance.zip"

#!/usr/bin/env bash
# Native tests of the Ruby worker (images/ruby/worker.rb) with minitest. Ruby is not on the
# project's machines, so they run in the Ruby installation image (same Debian ruby and rack as
# the runtime image), built here from images/ruby/Dockerfile.init; with no Docker engine they
# are skipped with a message (scripts/test.sh runs native tests after setting the engine up).
set -euo pipefail
cd "$(dirname "$0")/../../.."
tests='Dir["tests/native/ruby/*_test.rb"].sort.each { |f| require File.expand_path(f) }'
if command -v ruby >/dev/null && ruby -e 'require "rack"; require "minitest"' 2>/dev/null; then
    exec ruby -e "$tests"
fi
if ! docker info >/dev/null 2>&1; then
    echo "ruby native tests SKIPPED: no ruby with rack and minitest here and no Docker engine answers"
    exit 0
fi
# The images are this run's own: removed when it ends, passed or failed.
built=()
trap 'for i in "${built[@]}"; do docker rmi "$i" >/dev/null 2>&1 || true; done' EXIT
for version in 3.3:trixie 3.1:bookworm; do
    ruby=${version%%:*}
    image=kubeless-runtime/ruby-native-tests:$ruby
    built+=("$image")
    echo "-- ruby $ruby ($image)"
    docker build -q -t "$image" --build-arg "BASE_IMAGE=debian:${version#*:}-slim" \
        --build-arg "RUBY_VERSION=$ruby" -f images/ruby/Dockerfile.init images/ruby >/dev/null
    docker run --rm --network none --user 1000:1000 -v "$PWD:/repo:ro" -w /repo "$image" \
        ruby -e "$tests"
done

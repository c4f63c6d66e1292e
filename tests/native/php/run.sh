#!/usr/bin/env bash
# Native tests of the PHP worker (images/php/worker.php): a plain PHP test script ending in
# "N passed, N failed". PHP is not on the project's machines, so they run in the PHP
# installation image (the same Debian php-cli as the runtime image), built here from
# images/php/Dockerfile.init; with no Docker engine they are skipped with a message
# (scripts/test.sh runs native tests after setting the engine up).
set -euo pipefail
cd "$(dirname "$0")/../../.."
if command -v php >/dev/null; then
    exec php tests/native/php/worker_test.php
fi
if ! docker info >/dev/null 2>&1; then
    echo "php native tests SKIPPED: no php here and no Docker engine answers"
    exit 0
fi
# The images are this run's own: removed when it ends, passed or failed.
built=()
trap 'for i in "${built[@]}"; do docker rmi "$i" >/dev/null 2>&1 || true; done' EXIT
for version in 8.4:trixie 8.2:bookworm; do
    php=${version%%:*}
    image=kubeless-runtime/php-native-tests:$php
    built+=("$image")
    echo "-- php $php ($image)"
    docker build -q -t "$image" --build-arg "BASE_IMAGE=debian:${version#*:}-slim" \
        --build-arg "PHP_VERSION=$php" -f images/php/Dockerfile.init images/php >/dev/null
    docker run --rm --network none --user 1000:1000 -v "$PWD:/repo:ro" -w /repo "$image" \
        php tests/native/php/worker_test.php
done

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
source tests/native/in-image.sh
in_image php PHP_VERSION "8.4:trixie 8.2:bookworm" php tests/native/php/worker_test.php

#!/usr/bin/env bash
# Native tests of the Node.js runtime server, with Node's own test runner.
set -euo pipefail
cd "$(dirname "$0")/../../.."
(cd images/nodejs && npm ci --no-audit --no-fund --loglevel=error)
node --test tests/native/nodejs/

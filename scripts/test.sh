#!/usr/bin/env bash
# The test command of the README and of .ci/run: on a fresh Debian machine (as root for the
# Docker part) it installs what the tests need and runs all of them.
#   bash scripts/test.sh              unit + server + Node tests, then the Docker engine and the
#                                     container tests
#   SKIP_CONTAINERS=1 bash scripts/test.sh   everything that needs no Docker engine
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${VENV:-.venv}
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
"$venv/bin/python" -m pip install --quiet -e '.[test]'
export PATH="$PWD/$venv/bin:$PATH"

echo "== lint"
"$venv/bin/python" -m pip install --quiet ruff
ruff check kubeless_runtime tests benchmarks

# Native tests: every tests/native/<lang>/run.sh, with that language's own test runner. They
# run once the Docker engine is up: Ruby, PHP and Mono are not on these machines, so their run.sh
# runs the tests in that language's image (and skips, saying so, when no engine answers).
native_tests() {
    for native in tests/native/*/run.sh; do
        [ -f "$native" ] || continue
        echo "== native tests: $(basename "$(dirname "$native")")"
        bash "$native"
    done
}

if [ "${SKIP_CONTAINERS:-0}" = 1 ]; then
    native_tests
    echo "== pytest (no containers)"
    exec pytest -m "not container" "$@"
fi
echo "== docker engine and base images"
bash scripts/setup-docker.sh
native_tests
echo "== pytest"
exec pytest "$@"

#!/bin/bash
# The Kubernetes tests, end to end, with their timings:
#   bash scripts/test-kubernetes.sh     (as root; measured: about 24 min on a fresh machine, 3 warm)
# 1. a venv with the [test,kubernetes] extras; 2. the images of python3.11, nodejs20 and the
# first runtime with a compilation phase, when missing, and the no-healthz test image (cached
# rebuild); 3. scripts/kubernetes-up.sh (builds the Kubernetes binaries once, caches them);
# 4. pytest -m kubernetes tests/kubernetes with KUBELESS_REQUIRE_KUBERNETES=1;
# 5. scripts/kubernetes-down.sh, unless KUBELESS_K8S_KEEP=1.
# Extra pytest arguments pass through: bash scripts/test-kubernetes.sh -k liveness
# KUBELESS_K8S_POD_EGRESS=1 also runs the examples whose dependencies come from PyPI and npm.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
cd "$REPO"
. "$HERE/kubernetes-env.sh"
CA=${KUBELESS_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
t0=$(date +%s)
if [ ! -x .venv/bin/pytest ] || ! .venv/bin/python -c 'import kubernetes, yaml' 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/pip install -q -e '.[test,kubernetes]'
fi
t1=$(date +%s)
ca_args=(); [ -f "$CA" ] && ca_args=(--ca-bundle "$CA")
# python3.11, nodejs20, and the first runtime with a compilation phase (the compile-error test).
runtimes=$(.venv/bin/python -c "
from kubeless_runtime.tooling.catalog import load_catalog
compiled = [r.name for r in load_catalog().runtimes if r.has_phase('compilation')][:1]
print(' '.join(['python3.11', 'nodejs20'] + compiled))")
for rt in $runtimes; do
  need=0
  for img in $(.venv/bin/python -c "from kubeless_runtime.tooling.catalog import load_catalog as l; print(' '.join(i.image for i in l().runtime('$rt').images))"); do
    docker image inspect "$img" >/dev/null 2>&1 || need=1
  done
  [ "$need" = 0 ] || .venv/bin/kubeless-runtime build "$rt" "${ca_args[@]}"
done
NO_HEALTHZ=${KUBELESS_K8S_NO_HEALTHZ_IMAGE:-kubeless-runtime/test-no-healthz:3.11}
docker build -q -t "$NO_HEALTHZ" \
  --build-arg BASE_IMAGE=kubeless-runtime/python:3.11 tests/kubernetes/no-healthz >/dev/null
t2=$(date +%s)
up_was=$(k8s_alive apiserver && echo warm-running || echo started)
bash "$HERE/kubernetes-up.sh"
# A cluster already up does not reload images: load the ones the tests use.
[ "$up_was" = started ] || bash "$HERE/kubernetes-up.sh" load "$NO_HEALTHZ"
t3=$(date +%s)
rc=0
KUBECONFIG=$KUBECONFIG_PATH KUBELESS_REQUIRE_KUBERNETES=1 \
  .venv/bin/pytest -q -m kubernetes tests/kubernetes "$@" || rc=$?
t4=$(date +%s)
if [ "${KUBELESS_K8S_KEEP:-0}" != 1 ]; then bash "$HERE/kubernetes-down.sh"; fi
t5=$(date +%s)
echo "test-kubernetes: venv $((t1 - t0))s, images $((t2 - t1))s, cluster up $((t3 - t2))s ($up_was)," \
     "tests $((t4 - t3))s, down $((t5 - t4))s, total $((t5 - t0))s; pytest exit $rc"
exit "$rc"

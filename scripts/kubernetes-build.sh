#!/bin/bash
# Build the Kubernetes server binaries (kube-apiserver, kube-controller-manager, kube-scheduler,
# kubelet) from the Go module proxy only: k8s.io/kubernetes ships no binaries there, and no
# registry or release download is reachable from these machines.
# usage: scripts/kubernetes-build.sh OUTDIR      (env: K8S_VERSION, default v1.31.14)
# The Go proxy comes from `go env GOPROXY` (the tool's default or the user's setting).
set -euo pipefail
OUT=$1
V=${K8S_VERSION:-v1.31.14}
SV=v0.${V#v1.}
BINS="kube-apiserver kube-controller-manager kube-scheduler kubelet"

have_all() { for b in $BINS; do [ -x "$OUT/$b" ] || return 1; done; }
if have_all; then echo "kubernetes-build: $OUT already holds $V"; exit 0; fi

export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local
W=$(mktemp -d)
trap 'chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT
cd "$W"
dir_of() { python3 -c 'import json,sys; print(json.load(sys.stdin).get("Dir", ""))'; }

D=$(go mod download -json "k8s.io/kubernetes@$V" | dir_of)
cp -r "$D" src
chmod -R u+w src
# The module zip has staging/ empty and vendor/ reduced to modules.txt: build in module mode
# and fill each staging dir that a replace directive names with the published module.
rm -rf src/vendor src/go.work src/go.work.sum
mods=$(sed -n '/^replace (/,/^)/p' src/go.mod | awk '/=>/{print $1}')
for m in $mods; do
  dst=src/staging/src/k8s.io/${m#k8s.io/}
  rm -rf "$dst"; mkdir -p "$(dirname "$dst")"
  ver=$SV
  d=$(go mod download -json "$m@$SV" 2>/dev/null | dir_of || true)
  if [ -z "$d" ]; then
    # The proxy lacks some staging modules at some patch versions: newest of the same minor.
    ver=$(go list -m -versions "$m" 2>/dev/null | tr ' ' '\n' \
          | grep -E "^${SV%.*}\.[0-9]+$" | sort -t. -k3 -n | tail -1 || true)
    if [ -n "$ver" ]; then d=$(go mod download -json "$m@$ver" 2>/dev/null | dir_of || true); fi
  fi
  if [ -n "$d" ]; then
    cp -r "$d" "$dst"
    if [ "$ver" != "$SV" ]; then echo "kubernetes-build: note: $m uses $ver"; fi
  else
    # Only sample-* modules end here; no binary we build imports them.
    mkdir -p "$dst"; printf 'module %s\n\ngo 1.22.0\n' "$m" > "$dst/go.mod"
    echo "kubernetes-build: note: $m stubbed"
  fi
done
chmod -R u+w src/staging
LD="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  LD="$LD -X $p.gitVersion=$V -X $p.gitMajor=1 -X $p.gitMinor=$(echo "$V" | cut -d. -f2)"
  LD="$LD -X $p.gitTreeState=clean"
done
mkdir -p "$OUT.tmp"
cd src
targets=""
for b in $BINS; do targets="$targets ./cmd/$b"; done
# shellcheck disable=SC2086
go build -ldflags "$LD" -o "$OUT.tmp/" $targets
mkdir -p "$OUT"; mv "$OUT.tmp"/* "$OUT/"; rmdir "$OUT.tmp"
echo "kubernetes-build: built $V into $OUT"

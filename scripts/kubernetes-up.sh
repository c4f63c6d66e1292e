#!/bin/bash
# Bring up a real single-node Kubernetes on this machine, for --target kubernetes and its tests.
#
#   bash scripts/kubernetes-up.sh              # up (idempotent), loads this checkout's images
#   bash scripts/kubernetes-up.sh load IMG...  # load more Docker images into the cluster
#   export KUBECONFIG=/var/tmp/kubeless-k8s/admin.kubeconfig   (printed at the end)
#
# What it runs (see /work/shared/kubernetes-on-this-machine.md for why each piece):
# etcd and kubectl from Debian trixie, the CNI plugins from bookworm (extracted, no daemon
# started, the host's apt sources untouched), kube-apiserver/controller-manager/scheduler/
# kubelet built once from the Go module proxy and cached (scripts/kubernetes-build.sh), a
# second containerd as the CRI runtime (Docker's is untouched), pods on a bridge and subnet of
# its own. Images come from the local Docker engine (`docker save | ctr import`), no registry.
# Everything binds to 127.0.0.1; functions are reached only through port-forward.
# Tear down completely with scripts/kubernetes-down.sh. Needs root.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/kubernetes-env.sh
. "$HERE/kubernetes-env.sh"
export PATH=$K8S_PATH

load_images() {
  [ $# -gt 0 ] || return 0
  k8s_log "loading into the cluster: $*"
  docker save "$@" | ctr --address "$K8S_SOCK" -n k8s.io images import - >/dev/null
}

if [ "${1:-}" = load ]; then
  shift
  load_images "$@"
  exit 0
fi

[ "$(id -u)" = 0 ] || { echo "kubernetes-up: run as root (kubelet and containerd need it)" >&2; exit 1; }
started=$(date +%s)
mkdir -p "$K8S_CACHE" "$K8S_RUN" "$K8S_LOGS"

# --- 1. Debian packages: etcd + kubectl (trixie), CNI plugins (bookworm), into a prefix ------
if [ ! -x "$K8S_ROOT/usr/bin/etcd" ] || [ ! -x "$K8S_ROOT/usr/bin/kubectl" ] \
   || [ ! -x "$K8S_ROOT/usr/lib/cni/bridge" ]; then
  k8s_log "fetching etcd, kubectl and the CNI plugins (private apt state)"
  A=$K8S_CACHE/apt
  rm -rf "$A"; mkdir -p "$A/etc/sources.list.d" "$A/lists/partial" "$A/cache/archives/partial" "$A/debs"
  # The host's Debian mirror, with the suites we need; the host's apt state is not touched.
  src=$(ls /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 || true)
  if [ -n "$src" ]; then
    awk '/^Suites:/{print "Suites: bookworm trixie"; next} {print}' "$src" \
      | awk 'BEGIN{RS=""; ORS="\n\n"} !/security/' > "$A/etc/sources.list.d/k8s.sources"
  else
    grep -E '^deb ' /etc/apt/sources.list | grep -v security | head -1 \
      | awk '{print "deb", $2, "bookworm main"; print "deb", $2, "trixie main"}' \
      > "$A/etc/sources.list.d/k8s.list"
  fi
  APT=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$A/etc/sources.list.d"
       -o Dir::State::Lists="$A/lists" -o Dir::Cache="$A/cache" -o APT::Default-Release=bookworm -o APT::Sandbox::User=root)
  apt-get "${APT[@]}" -qq update
  (cd "$A/debs" && apt-get "${APT[@]}" -qq download etcd-server/trixie etcd-client/trixie \
     kubectl/trixie containernetworking-plugins/bookworm)
  mkdir -p "$K8S_ROOT"
  for deb in "$A"/debs/*.deb; do dpkg-deb -x "$deb" "$K8S_ROOT"; done
  rm -rf "$A"
fi

# --- 2. the Kubernetes binaries (built once, then reused) ---------------------------------
bash "$HERE/kubernetes-build.sh" "$K8S_BIN"

# --- 3. a pause image, built here (no registry) -------------------------------------------
if ! docker image inspect "$K8S_PAUSE_IMAGE" >/dev/null 2>&1; then
  k8s_log "building $K8S_PAUSE_IMAGE"
  P=$(mktemp -d)
  cat > "$P/main.go" <<'EOF'
// pause: holds a pod's namespaces; reaps children; exits on SIGTERM/SIGINT.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range signals {
		if s == syscall.SIGCHLD {
			for {
				pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
			continue
		}
		os.Exit(0)
	}
}
EOF
  printf 'module pause\n\ngo 1.21\n' > "$P/go.mod"
  (cd "$P" && CGO_ENABLED=0 GOTOOLCHAIN=local go build -ldflags "-s -w" -o pause .)
  printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' > "$P/Dockerfile"
  docker build -q -t "$K8S_PAUSE_IMAGE" "$P" >/dev/null
  rm -rf "$P"
fi

if k8s_alive apiserver && k8s_alive kubelet && k8s_alive containerd; then
  k8s_log "already up"
else
# --- 4. certificates and kubeconfigs -------------------------------------------------------
PKI=$K8S_DIR/pki
if [ ! -f "$PKI/admin.crt" ]; then
  k8s_log "certificates"
  mkdir -p "$PKI"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=kubeless-runtime-ca" \
    -keyout "$PKI/ca.key" -out "$PKI/ca.crt" 2>/dev/null
  cert() {  # name subject [san]
    openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$PKI/$1.key" -out "$PKI/$1.csr" 2>/dev/null
    if [ -n "${3:-}" ]; then printf 'subjectAltName=%s\n' "$3" > "$PKI/$1.ext"; else : > "$PKI/$1.ext"; fi
    openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
      -days 3650 -extfile "$PKI/$1.ext" -out "$PKI/$1.crt" 2>/dev/null
    rm -f "$PKI/$1.csr" "$PKI/$1.ext"
  }
  svc_ip=$(python3 -c "import ipaddress,sys; print(next(ipaddress.ip_network(sys.argv[1]).hosts()))" "$K8S_SERVICE_RANGE")
  cert apiserver "/CN=kube-apiserver" \
    "IP:127.0.0.1,IP:$svc_ip,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
  cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  cert kcm "/CN=system:kube-controller-manager"
  cert scheduler "/CN=system:kube-scheduler"
  cert node "/O=system:nodes/CN=system:node:localhost"
  cert kubelet "/CN=localhost" "DNS:localhost,IP:127.0.0.1"
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  cert admin "/O=system:masters/CN=kubeless-runtime-admin"
  for who in admin kcm scheduler node; do
    kc=$K8S_DIR/$who.kubeconfig
    kubectl config --kubeconfig="$kc" set-cluster local --server="https://127.0.0.1:$K8S_API_PORT" \
      --certificate-authority="$PKI/ca.crt" --embed-certs >/dev/null
    kubectl config --kubeconfig="$kc" set-credentials "$who" --client-certificate="$PKI/$who.crt" \
      --client-key="$PKI/$who.key" --embed-certs >/dev/null
    kubectl config --kubeconfig="$kc" set-context local --cluster=local --user="$who" \
      --namespace=default >/dev/null
    kubectl config --kubeconfig="$kc" use-context local >/dev/null
  done
fi

start() {  # name command...: start in its own session, remember the PID
  local name=$1; shift
  if k8s_alive "$name"; then return 0; fi
  setsid "$@" >"$K8S_LOGS/$name.log" 2>&1 < /dev/null &
  echo $! > "$K8S_RUN/$name.pid"
}
wait_for() {  # what seconds command...
  local what=$1 limit=$2; shift 2
  for _ in $(seq 1 "$limit"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "kubernetes-up: $what not ready after ${limit}s; see $K8S_LOGS" >&2
  exit 1
}

# --- 5. etcd, kube-apiserver ---------------------------------------------------------------
k8s_log "etcd and kube-apiserver"
start etcd etcd --name kubeless-runtime --data-dir "$K8S_DIR/etcd" \
  --listen-client-urls "http://127.0.0.1:$K8S_ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$K8S_ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$((K8S_ETCD_PORT + 10))" \
  --initial-advertise-peer-urls "http://127.0.0.1:$((K8S_ETCD_PORT + 10))" \
  --initial-cluster "kubeless-runtime=http://127.0.0.1:$((K8S_ETCD_PORT + 10))"
wait_for etcd 30 curl -sf "http://127.0.0.1:$K8S_ETCD_PORT/health"
start apiserver kube-apiserver --etcd-servers="http://127.0.0.1:$K8S_ETCD_PORT" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$K8S_API_PORT" \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" --service-account-issuer=https://kubernetes.default.svc \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-cluster-ip-range="$K8S_SERVICE_RANGE" --authorization-mode=Node,RBAC \
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
  --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$PKI/ca.crt" \
  --kubelet-preferred-address-types=Hostname,InternalIP --enable-admission-plugins=NodeRestriction
wait_for kube-apiserver 90 curl -sf --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
  "https://127.0.0.1:$K8S_API_PORT/readyz"

# --- 6. the second containerd (restrict_oom_score_adj: root here lacks CAP_SYS_RESOURCE) ----
k8s_log "containerd (CRI) and the pods' network $K8S_BRIDGE $K8S_POD_SUBNET"
mkdir -p "$K8S_DIR/ctrd" "$K8S_DIR/cni/net.d"
# Egress (opt-in): NAT on the bridge, and the firewall plugin's CNI-FORWARD rules, since
# Docker's FORWARD policy drops what it does not know.
masq=false; firewall=""
if [ "${KUBELESS_K8S_POD_EGRESS:-0}" = 1 ]; then masq=true; firewall='{"type": "firewall"},'; fi
cat > "$K8S_DIR/cni/net.d/10-kubeless-runtime.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "$K8S_CNI_NAME",
  "plugins": [
    {"type": "bridge", "bridge": "$K8S_BRIDGE", "isGateway": true, "ipMasq": $masq, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$K8S_POD_SUBNET"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    $firewall
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
cat > "$K8S_DIR/ctrd/config.toml" <<EOF
version = 2
root = "$K8S_DIR/ctrd/root"
state = "$K8S_DIR/ctrd/state"
[grpc]
  address = "$K8S_SOCK"
[ttrpc]
  address = "$K8S_SOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$K8S_PAUSE_IMAGE"
  enable_unprivileged_ports = false
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$K8S_DIR/ctrd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$K8S_ROOT/usr/lib/cni"
    conf_dir = "$K8S_DIR/cni/net.d"
EOF
start containerd containerd --config "$K8S_DIR/ctrd/config.toml"
wait_for containerd 30 ctr --address "$K8S_SOCK" version

# This checkout's catalog images that Docker has, and the test images (kubeless-runtime/test-*).
mapfile -t ours < <(
  { PYTHONPATH="$(dirname "$HERE")" python3 -c '
from kubeless_runtime.tooling.catalog import load_catalog
print("\n".join(sorted({i.image for r in load_catalog().runtimes for i in r.images})))'
    docker images --format '{{.Repository}}:{{.Tag}}' --filter 'reference=kubeless-runtime/test-*'
  } | while read -r img; do docker image inspect "$img" >/dev/null 2>&1 && echo "$img"; done)
load_images "$K8S_PAUSE_IMAGE" "${ours[@]}" ${KUBELESS_K8S_IMAGES:-}

# --- 7. controller-manager, scheduler, kubelet ---------------------------------------------
k8s_log "controller-manager, scheduler and kubelet"
start kcm kube-controller-manager --kubeconfig="$K8S_DIR/kcm.kubeconfig" \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
  --use-service-account-credentials=true --leader-elect=false \
  --controllers='*,-nodeipam,-cloud-node-lifecycle' --bind-address=127.0.0.1
start scheduler kube-scheduler --kubeconfig="$K8S_DIR/scheduler.kubeconfig" \
  --leader-elect=false --bind-address=127.0.0.1
cat > "$K8S_DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet.crt
tlsPrivateKeyFile: $PKI/kubelet.key
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$K8S_SOCK
failSwapOn: false
resolvConf: /etc/resolv.conf
evictionHard: {memory.available: "100Mi", nodefs.available: "2%", imagefs.available: "2%"}
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
serializeImagePulls: false
EOF
# Node name "localhost": the kubelet refuses a loopback node IP, and with the apiserver
# preferring Hostname, logs/exec/port-forward reach the kubelet over loopback.
start kubelet kubelet --config="$K8S_DIR/kubelet.yaml" --kubeconfig="$K8S_DIR/node.kubeconfig" \
  --hostname-override=localhost --root-dir="$K8S_DIR/kubelet"
export KUBECONFIG=$KUBECONFIG_PATH
node_ready() {
  kubectl get node localhost -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' | grep -qx True
}
wait_for "the node" 120 node_ready
wait_for "the default service account" 60 kubectl get serviceaccount default
fi

export KUBECONFIG=$KUBECONFIG_PATH
k8s_log "up in $(( $(date +%s) - started ))s: $(kubectl version -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])')"
echo "export KUBECONFIG=$KUBECONFIG_PATH"

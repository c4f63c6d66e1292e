# Settings shared by kubernetes-up.sh, kubernetes-down.sh and test-kubernetes.sh (sourced).
# Every value can be set in the environment first.
K8S_VERSION=${K8S_VERSION:-v1.31.14}
# Built binaries and extracted Debian packages: kept across clusters (and sessions).
K8S_CACHE=${KUBELESS_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubeless-runtime/kubernetes}
K8S_BIN=$K8S_CACHE/$K8S_VERSION/bin
K8S_ROOT=$K8S_CACHE/debian-root
# The cluster's state: certificates, etcd data, the second containerd, the kubelet, logs, PIDs.
K8S_DIR=${KUBELESS_K8S_DIR:-/var/tmp/kubeless-k8s}
K8S_RUN=$K8S_DIR/run
K8S_LOGS=$K8S_DIR/logs
K8S_SOCK=$K8S_DIR/ctrd/containerd.sock
export KUBECONFIG_PATH=$K8S_DIR/admin.kubeconfig
# The pods' own bridge and subnet (no NAT to the outside unless KUBELESS_K8S_POD_EGRESS=1).
K8S_BRIDGE=${KUBELESS_K8S_BRIDGE:-klr0}
K8S_POD_SUBNET=${KUBELESS_K8S_POD_SUBNET:-10.244.0.0/24}
K8S_SERVICE_RANGE=${KUBELESS_K8S_SERVICE_RANGE:-10.96.0.0/24}
K8S_CNI_NAME=kubeless-runtime
K8S_API_PORT=${KUBELESS_K8S_API_PORT:-6443}
K8S_ETCD_PORT=${KUBELESS_K8S_ETCD_PORT:-23790}
K8S_PAUSE_IMAGE=kubeless-runtime/pause:3.10
K8S_PATH=$K8S_BIN:$K8S_ROOT/usr/bin:$PATH
k8s_log() { echo "[kubernetes $(date +%H:%M:%S)] $*" >&2; }
k8s_alive() { [ -f "$K8S_RUN/$1.pid" ] && kill -0 "$(cat "$K8S_RUN/$1.pid")" 2>/dev/null; }

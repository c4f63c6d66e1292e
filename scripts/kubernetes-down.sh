#!/bin/bash
# Tear down the cluster of scripts/kubernetes-up.sh completely: its pods, its processes (by the
# PIDs it recorded, and the containerd shims of its own socket), its mounts, the pods' bridge,
# network namespaces and IP allocations, the iptables chains the kubelet and CNI made, the
# kubepods cgroups, and its state folder. The cache (built binaries) stays for the next run.
#   bash scripts/kubernetes-down.sh            (KUBELESS_K8S_KEEP_STATE=1 keeps certificates)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/kubernetes-env.sh
. "$HERE/kubernetes-env.sh"
export PATH=$K8S_PATH
[ "$(id -u)" = 0 ] || { echo "kubernetes-down: run as root" >&2; exit 1; }
started=$(date +%s)

stop_pid() {  # name [seconds]: TERM, then KILL after a bounded wait
  local name=$1 limit=${2:-10} pid
  [ -f "$K8S_RUN/$name.pid" ] || return 0
  pid=$(cat "$K8S_RUN/$name.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 $((limit * 5))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$K8S_RUN/$name.pid"
}

# 1. Pods first, while the kubelet runs: it stops their sandboxes, so CNI removes the veths,
#    the IP allocations and the portmap rules itself.
if k8s_alive apiserver && k8s_alive kubelet; then
  export KUBECONFIG=$KUBECONFIG_PATH
  kubectl delete deployments,replicasets --all --all-namespaces --wait=false >/dev/null 2>&1
  kubectl delete pods --all --all-namespaces --grace-period=2 --wait=false >/dev/null 2>&1
  for _ in $(seq 1 30); do
    [ -z "$(kubectl get pods --all-namespaces -o name 2>/dev/null)" ] && break
    sleep 1
  done
  k8s_log "pods deleted"
fi
stop_pid kubelet
stop_pid kcm
stop_pid scheduler

# 2. What is left in our containerd: tasks and containers, then the shims of our socket.
if k8s_alive containerd; then
  C=(ctr --address "$K8S_SOCK" -n k8s.io)
  for t in $("${C[@]}" tasks ls -q 2>/dev/null); do "${C[@]}" tasks kill -s SIGKILL "$t" >/dev/null 2>&1; done
  sleep 1
  for t in $("${C[@]}" tasks ls -q 2>/dev/null); do "${C[@]}" tasks rm -f "$t" >/dev/null 2>&1; done
  for c in $("${C[@]}" containers ls -q 2>/dev/null); do "${C[@]}" containers rm "$c" >/dev/null 2>&1; done
fi
# Shims re-parent to init; they are ours when their command line names our socket.
for proc in /proc/[0-9]*; do
  cmd=$(tr '\0' ' ' 2>/dev/null < "$proc/cmdline") || continue
  case "$cmd" in
    *containerd-shim*"$K8S_SOCK"*) kill -9 "${proc#/proc/}" 2>/dev/null ;;
  esac
done
stop_pid containerd
stop_pid apiserver
stop_pid etcd

# 3. Mounts under the state folder (pod volumes, overlay snapshots, sandbox shm), deepest first.
findmnt -rn -o TARGET 2>/dev/null | awk -v d="$K8S_DIR" 'index($0, d) == 1' | sort -r \
  | while read -r target; do umount "$target" 2>/dev/null || umount -l "$target" 2>/dev/null; done

# 4. Network: the CNI namespaces, the bridge, its IP allocations, the iptables chains.
for ns in /var/run/netns/cni-*; do
  [ -e "$ns" ] || continue
  umount "$ns" 2>/dev/null; rm -f "$ns"
done
ip link del "$K8S_BRIDGE" 2>/dev/null
rm -rf "/var/lib/cni/networks/$K8S_CNI_NAME" "/var/lib/cni/results/$K8S_CNI_NAME"-*
rmdir /var/lib/cni/networks /var/lib/cni/results /var/lib/cni 2>/dev/null  # only when empty
for ipt in iptables ip6tables; do
  command -v "$ipt" >/dev/null || continue
  for table in filter nat mangle raw; do
    rules=$("$ipt" -t "$table" -S 2>/dev/null) || continue
    # Rules jumping to KUBE-*/CNI-* chains from other chains, then those chains themselves.
    echo "$rules" | grep -E '^-A ' | grep -E -- '-j (KUBE|CNI)-' | grep -vE '^-A (KUBE|CNI)-' \
      | sed 's/^-A /-D /' | while read -r rule; do eval "$ipt -t $table $rule" 2>/dev/null; done
    for chain in $(echo "$rules" | awk '/^-N (KUBE|CNI)-/{print $2}'); do
      "$ipt" -t "$table" -F "$chain" 2>/dev/null
    done
    for chain in $(echo "$rules" | awk '/^-N (KUBE|CNI)-/{print $2}'); do
      "$ipt" -t "$table" -X "$chain" 2>/dev/null
    done
  done
done

# 5. The kubelet's cgroups (cgroupfs driver: "kubepods" in every hierarchy), leaves first.
for root in /sys/fs/cgroup /sys/fs/cgroup/*; do
  [ -d "$root/kubepods" ] || continue
  find "$root/kubepods" -depth -type d -exec rmdir {} \; 2>/dev/null
done

# 6. The state folder (certificates too unless asked to keep them).
if [ "${KUBELESS_K8S_KEEP_STATE:-0}" = 1 ]; then
  rm -rf "$K8S_DIR/etcd" "$K8S_DIR/ctrd" "$K8S_DIR/kubelet" "$K8S_RUN"
else
  rm -rf "$K8S_DIR" 2>/dev/null || echo "kubernetes-down: could not remove all of $K8S_DIR" >&2
fi
k8s_log "down in $(( $(date +%s) - started ))s"

#!/usr/bin/env bash
# Stop exactly what hack/cluster-up.sh started (by PID file), remove its pods' sandboxes through the CRI
# (so CNI releases their interfaces), unmount what lives under the state folder and /run/flalliance,
# delete the bridge, the iptables rules and chains the cluster added, the kubepods cgroups, and restore
# the sysctls it changed. Harmless when nothing runs. CLEAN=1 also deletes .state/cluster (certificates,
# etcd data, images: the next `make cluster` is then a first start again, without rebuilding binaries).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root "make cluster-down"
PIDS="$STATE/pids" LOGS="$STATE/logs"
problems=()

if [[ ! -d "$STATE" ]]; then log "no local cluster state ($STATE): nothing to stop"; exit 0; fi

# 1. Controllers first (nothing new gets scheduled), then the kubelet (nothing gets restarted).
for c in hostpath-provisioner kube-scheduler kube-controller-manager kubelet; do stop_pidfile "$c"; done

# 2. Pods: stop and remove every sandbox while containerd still runs, so CNI DEL frees veths and IPs.
if pid_alive "$PIDS/containerd.pid" && [[ -x "$STATE/bin/crictl" ]]; then
  crictl=("$STATE/bin/crictl" --runtime-endpoint "unix://$CTR_SOCK" --timeout 30s)
  mapfile -t pods < <("${crictl[@]}" pods -q 2>/dev/null || true)
  if (( ${#pods[@]} )); then
    log "removing ${#pods[@]} pod sandbox(es)"
    "${crictl[@]}" stopp "${pods[@]}" >/dev/null 2>&1 || true
    "${crictl[@]}" rmp -f "${pods[@]}" >/dev/null 2>&1 || problems+=("crictl rmp failed for some pods")
  fi
fi
stop_pidfile containerd
# Runtime shims are detached by design and outlive containerd: stop the ones serving our containerd
# (identified by its socket path on their command line), then nothing of ours runs in a container.
for p in /proc/[0-9]*; do
  if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -- "-address $CTR_SOCK"; then
    pid="${p#/proc/}"; log "stopping leftover runtime shim $pid"; kill -KILL "$pid" 2>/dev/null || true
  fi
done
stop_pidfile kube-proxy
# The API server logs "apiserver is exiting" within a second of SIGTERM but can linger for 15 s more after
# it; it keeps no state of its own, so it gets less grace than etcd.
stop_pidfile kube-apiserver 5
stop_pidfile etcd

# 3. Mounts under the state folder, the containerd root and /run/flalliance (deepest first).
for root in "$STATE" "$CTR_ROOT" /run/flalliance; do
  [[ -e "$root" ]] || continue
  for _ in 1 2 3; do
    mapfile -t mnts < <(awk -v r="$root" '$5 == r || index($5, r "/") == 1 {print $5}' /proc/self/mountinfo | sort -r)
    (( ${#mnts[@]} )) || break
    for m in "${mnts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  done
  left="$(awk -v r="$root" '$5 == r || index($5, r "/") == 1' /proc/self/mountinfo | wc -l)"
  (( left == 0 )) || problems+=("$left mount(s) under $root could not be unmounted")
done
# Network namespaces whose sandboxes are gone (named by containerd's CNI as cni-<uuid>) that still hold a
# veth on our bridge are ours: found through the bridge, not by name.
if ip link show "$BRIDGE" >/dev/null 2>&1; then
  for v in $(ip -o link show master "$BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
    ip link del "$v" 2>/dev/null || true
  done
  ip link del "$BRIDGE" 2>/dev/null || problems+=("could not delete interface $BRIDGE")
fi
rm -f "$STATE/network.created"

# 4. iptables: our FLALLIANCE-* chains, and the KUBE-* / CNI-* chains the kubelet, kube-proxy and CNI add.
for fam in iptables ip6tables; do
  command -v "$fam-save" >/dev/null || continue
  rules="$("$fam-save" 2>/dev/null || true)"   # captured first: grep -q on a live pipe trips pipefail
  if grep -qE 'KUBE-|CNI-|FLALLIANCE-' <<<"$rules"; then
    if ! grep -vE '^(:|-A ).*(KUBE-|CNI-|FLALLIANCE-)' <<<"$rules" | "$fam-restore" -w 5 >>"$LOGS/cluster-down.log" 2>&1; then
      problems+=("$fam: could not remove the cluster's rules (see $LOGS/cluster-down.log)")
    elif "$fam-save" 2>/dev/null | grep -cE '^(:|-A ).*(KUBE-|CNI-|FLALLIANCE-)' >/dev/null; then
      problems+=("$fam: rules of the cluster still present after removal")
    fi
  fi
done

# 5. The kubepods cgroups the kubelet made (cgroupfs driver), deepest first.
# (k8s.io/ holds sandboxes created through the CRI without a cgroup parent, e.g. by hand with crictl.)
for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods /sys/fs/cgroup/*/k8s.io /sys/fs/cgroup/k8s.io; do
  [[ -d "$d" ]] || continue
  find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  [[ -d "$d" ]] && problems+=("cgroup $d still holds processes")
done

# 6. Sysctls back to what they were before the first start; small leftovers outside the state folder.
if [[ -f "$STATE/sysctl.orig" ]]; then
  # Docker needs forwarding and bridge netfilter too: while a dockerd runs, those stay as they are.
  docker_up=0
  [[ -f /var/run/docker.pid ]] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null && docker_up=1
  while IFS='=' read -r k v; do
    [[ -n "$k" ]] || continue
    if (( docker_up )) && [[ "$k" == net.ipv4.ip_forward || "$k" == net.bridge.* ]]; then
      [[ "$(sysctl -n "$k")" == "$v" ]] || log "leaving $k=$(sysctl -n "$k") (dockerd runs and needs it; was $v)"
      continue
    fi
    sysctl -qw "$k=$v" 2>/dev/null || true
  done <"$STATE/sysctl.orig"
  rm -f "$STATE/sysctl.orig"
fi
rm -rf /run/flalliance
find /var/log/containers -maxdepth 1 -type l -lname "$STATE/*" -delete 2>/dev/null || true
rm -rf /var/lib/cni/results/flalliance-* 2>/dev/null || true
# Hard-coded paths our first start created (recorded by cluster-up.sh), deepest first, if nothing else
# has put files there since (the kubelet's own device-plugin socket and checkpoint aside).
if [[ -f "$STATE/created-paths" ]]; then
  rm -f /var/lib/kubelet/device-plugins/kubelet.sock /var/lib/kubelet/device-plugins/kubelet_internal_checkpoint
  while read -r d; do rmdir "$d" 2>/dev/null || true; done < <(sort -r "$STATE/created-paths")
  rm -f "$STATE/created-paths"
fi

# 7. Verify: no process of ours is left (command lines that name the state folder or our socket).
for p in /proc/[0-9]*; do
  cmd="$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null || true)"
  [[ "$cmd" == *"$STATE/"* || "$cmd" == *"$CTR_SOCK"* ]] || continue
  [[ "${p#/proc/}" == "$$" ]] && continue
  problems+=("process ${p#/proc/} still running: ${cmd:0:120}")
done

if [[ "${CLEAN:-0}" == 1 && ${#problems[@]} == 0 ]]; then rm -rf "$STATE"; log "removed $STATE"; fi
if (( ${#problems[@]} )); then
  printf 'ERROR: cluster-down: %s\n' "${problems[@]}" >&2
  printf 'logs: %s\n' "$LOGS" >&2
  exit 1
fi
log "local cluster stopped; nothing of it is left running"

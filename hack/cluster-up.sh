#!/usr/bin/env bash
# Bring up a real single-node Kubernetes cluster on this machine, from binaries built from source
# (hack/build-tools.sh). Idempotent: a healthy running cluster is left as it is.
#
# Everything it makes lives in .state/cluster/ (certificates, kubeconfigs, PID files, logs, etcd data,
# containerd and kubelet state, volumes) plus what cluster-down.sh removes again: the bridge $BRIDGE,
# the iptables chains FLALLIANCE-* / KUBE-* / CNI-*, the kubepods cgroups, the sysctls it changed
# (recorded in .state/cluster/sysctl.orig) and /run/flalliance.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root "make cluster"

PIDS="$STATE/pids" LOGS="$STATE/logs" PKI="$STATE/pki"
COMPONENTS=(etcd kube-apiserver containerd kube-controller-manager kube-scheduler kubelet kube-proxy hostpath-provisioner)
export KUBECONFIG="$STATE/kubeconfig"

# ---------------------------------------------------------------------------------------------------------
# 0. Already running? Healthy -> nothing to do. Partly running -> say so and stop.
running=() stopped=()
for c in "${COMPONENTS[@]}"; do
  if pid_alive "$PIDS/$c.pid"; then running+=("$c"); else stopped+=("$c"); fi
done
if (( ${#running[@]} == ${#COMPONENTS[@]} )); then
  if "$STATE/bin/kubectl" get --raw /readyz >/dev/null 2>&1; then
    log "cluster already running (kubeconfig: $KUBECONFIG)"; exit 0
  fi
  die "cluster processes are running but the API server is not ready: read $LOGS/kube-apiserver.log, or run 'make cluster-down' then 'make cluster'"
elif (( ${#running[@]} )); then
  die "a partial cluster from an earlier run is still up (running: ${running[*]}; stopped: ${stopped[*]}); logs in $LOGS. Run 'make cluster-down' then 'make cluster'"
fi

# ---------------------------------------------------------------------------------------------------------
# 1. Prerequisites: Debian packages (installed if missing) and the built binaries.
"$HACK/install-deps.sh"
CLUSTER_TOOLS=(kubernetes crictl coredns hostpath-provisioner helm)
"$HACK/build-tools.sh" "${CLUSTER_TOOLS[@]}"
mkdir -p "$STATE/bin" "$PIDS" "$LOGS" "$PKI"
for t in "${CLUSTER_TOOLS[@]}"; do
  d="$("$HACK/build-tools.sh" --path "$t")"
  for b in "$d"/*; do ln -sfn "$b" "$STATE/bin/$(basename "$b")"; done
done
BIN="$STATE/bin"
for cmd in containerd containerd-shim-runc-v2 runc etcd iptables iptables-save iptables-restore conntrack openssl ip ss gcc; do
  command -v "$cmd" >/dev/null || die "prerequisite '$cmd' not found (hack/install-deps.sh installs it)"
done
[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] \
  || die "CNI plugins missing in /usr/lib/cni (Debian package containernetworking-plugins)"
for ctl in cpu memory pids devices freezer cpuset; do
  [[ -d /sys/fs/cgroup/$ctl || -f /sys/fs/cgroup/cgroup.controllers ]] || die "kubelet: cgroup controller '$ctl' not mounted"
done
[[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]] || die "kube-proxy: the kernel has no br_netfilter (net.bridge.bridge-nf-call-iptables)"

# Ports: a port in use fails here, naming the component that needs it.
check_port() { # ADDR PORT COMPONENT
  if ss -Hltn "sport = :$2" | awk '{print $4}' | grep -qE "^(\*|0\.0\.0\.0|\[::\]|$1):$2$"; then
    die "$3 needs $1:$2, which is in use: $(ss -Hltnp "sport = :$2" | head -1)"
  fi
}
check_port 127.0.0.1 12379 etcd; check_port 127.0.0.1 12380 etcd
check_port "$HOST_IP" 6443 kube-apiserver; check_port 127.0.0.1 10257 kube-controller-manager
check_port 127.0.0.1 10259 kube-scheduler; check_port "$HOST_IP" 10250 kubelet; check_port 127.0.0.1 10248 kubelet
check_port 127.0.0.1 10249 kube-proxy; check_port 127.0.0.1 10256 kube-proxy
if ip link show "$BRIDGE" >/dev/null 2>&1 && [[ ! -f "$STATE/network.created" ]]; then
  die "network: interface $BRIDGE exists but was not made by this checkout's cluster (another checkout's cluster running? run its 'make cluster-down')"
fi

# ---------------------------------------------------------------------------------------------------------
# 2. Host networking: sysctls (originals recorded once), the bridge, firewall rules confining pod traffic.
if [[ ! -f "$STATE/sysctl.orig" ]]; then
  for k in net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables \
           vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes; do
    echo "$k=$(sysctl -n "$k")"
  done >"$STATE/sysctl.orig.tmp" && mv "$STATE/sysctl.orig.tmp" "$STATE/sysctl.orig"
fi
sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1

# Paths outside the state folder that the kubelet/CNI/containerd hard-code; the ones that did not exist
# before are recorded, and cluster-down.sh removes them again.
for d in /var/lib/kubelet/device-plugins /var/lib/kubelet /var/lib/cni/results /var/lib/cni /var/log/containers /run/containerd/runc/k8s.io; do
  [[ -e "$d" ]] || grep -qx "$d" "$STATE/created-paths" 2>/dev/null || echo "$d" >>"$STATE/created-paths"
done

touch "$STATE/network.created"
if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
  ip link add "$BRIDGE" type bridge
fi
ip addr replace "$HOST_IP/${NODE_POD_CIDR#*/}" dev "$BRIDGE"
ip link set "$BRIDGE" up
# Service addresses route to the bridge: a packet for a Service that kube-proxy has not translated (yet)
# stays on this machine instead of following the default route out.
ip route replace "$SERVICE_CIDR" dev "$BRIDGE"

# FLALLIANCE-FORWARD: pods talk to pods (and, through kube-proxy's DNAT, to Services); every other packet a
# pod sends through the host is dropped, so no pod traffic ever leaves the machine. Pods reach the host
# itself (INPUT, e.g. a dev chain bound to $HOST_IP) and the API server.
iptables -w -N FLALLIANCE-FORWARD 2>/dev/null || iptables -w -F FLALLIANCE-FORWARD
iptables -w -A FLALLIANCE-FORWARD -s "$POD_CIDR" -d "$POD_CIDR" -j ACCEPT
iptables -w -A FLALLIANCE-FORWARD -s "$POD_CIDR" -j DROP
iptables -w -A FLALLIANCE-FORWARD -d "$POD_CIDR" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
iptables -w -C FORWARD -j FLALLIANCE-FORWARD 2>/dev/null || iptables -w -I FORWARD 1 -j FLALLIANCE-FORWARD

# ---------------------------------------------------------------------------------------------------------
# 3. Certificates, keys and kubeconfigs (made once per state folder; reused by warm starts).
"$HACK/cluster-pki.sh"

# ---------------------------------------------------------------------------------------------------------
# start NAME CMD...: run CMD detached (own session, survives make), PID file + log; fail fast if it dies.
start() {
  local name="$1"; shift
  local logf="$LOGS/$name.log"
  echo "=== $(date -Is) start: $*" >>"$logf"
  setsid "$@" >>"$logf" 2>&1 </dev/null &
  echo $! >"$PIDS/$name.pid"
  sleep 0.2
  pid_alive "$PIDS/$name.pid" || die_component "$name" "$logf" "exited right after start"
}
# await NAME SECONDS DESCRIPTION CMD...: bounded wait; names the component and its log on failure.
await() {
  local name="$1" secs="$2" what="$3"; shift 3
  local deadline=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    pid_alive "$PIDS/$name.pid" || die_component "$name" "$LOGS/$name.log" "exited while waiting for $what"
    (( $(date +%s) < deadline )) || die_component "$name" "$LOGS/$name.log" "not $what after ${secs}s"
    sleep 0.5
  done
}
kc() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG" --request-timeout=20s "$@"; }

t0=$(date +%s)
# etcd (Debian's etcd-server): plain HTTP on loopback only.
mkdir -p "$STATE/etcd"; chmod 700 "$STATE/etcd"
start etcd etcd --name flalliance --data-dir "$STATE/etcd" \
  --listen-client-urls http://127.0.0.1:12379 --advertise-client-urls http://127.0.0.1:12379 \
  --listen-peer-urls http://127.0.0.1:12380 --initial-advertise-peer-urls http://127.0.0.1:12380 \
  --initial-cluster flalliance=http://127.0.0.1:12380 --listen-metrics-urls http://127.0.0.1:12381 \
  --quota-backend-bytes 2147483648 --snapshot-count 10000
await etcd 30 "healthy" curl -sf http://127.0.0.1:12381/health

start kube-apiserver "$BIN/kube-apiserver" \
  --etcd-servers=http://127.0.0.1:12379 \
  --bind-address="$HOST_IP" --advertise-address="$HOST_IP" --secure-port=6443 \
  --service-cluster-ip-range="$SERVICE_CIDR" --service-node-port-range=30000-32767 \
  --authorization-mode=Node,RBAC --anonymous-auth=true \
  --enable-admission-plugins=NodeRestriction \
  --allow-privileged=true \
  --client-ca-file="$PKI/ca.crt" \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=InternalIP \
  --service-account-issuer="https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --api-audiences="https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
  --profiling=false --v=1
await kube-apiserver 90 "ready (/readyz)" kc get --raw /readyz

# containerd: its own instance (socket, root, state), CRI with cgroupfs and the locally built pause image.
"$HACK/cluster-containerd-config.sh"
mkdir -p /run/flalliance/containerd
start containerd containerd --config "$STATE/containerd/config.toml"
await containerd 30 "serving CRI on $CTR_SOCK" "$BIN/crictl" --runtime-endpoint "unix://$CTR_SOCK" --timeout 5s info
"$HACK/cluster-system-images.sh"

start kube-controller-manager "$BIN/kube-controller-manager" \
  --kubeconfig="$PKI/controller-manager.kubeconfig" \
  --authentication-kubeconfig="$PKI/controller-manager.kubeconfig" --authorization-kubeconfig="$PKI/controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --leader-elect=false \
  --client-ca-file="$PKI/ca.crt" --root-ca-file="$PKI/ca.crt" \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --service-account-private-key-file="$PKI/sa.key" --use-service-account-credentials=true \
  --allocate-node-cidrs=true --cluster-cidr="$POD_CIDR" --node-cidr-mask-size=24 --service-cluster-ip-range="$SERVICE_CIDR" \
  --profiling=false --v=1
start kube-scheduler "$BIN/kube-scheduler" \
  --kubeconfig="$PKI/scheduler.kubeconfig" \
  --authentication-kubeconfig="$PKI/scheduler.kubeconfig" --authorization-kubeconfig="$PKI/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --leader-elect=false --profiling=false --v=1
await kube-controller-manager 60 "healthy" curl -skf https://127.0.0.1:10257/healthz
await kube-scheduler 60 "healthy" curl -skf https://127.0.0.1:10259/healthz

# kubelet
"$HACK/cluster-node-config.sh"
start kubelet "$BIN/kubelet" --config="$STATE/kubelet/config.yaml" --kubeconfig="$PKI/kubelet.kubeconfig" \
  --root-dir="$STATE/kubelet/root" --hostname-override="$NODE_NAME" --node-ip="$HOST_IP" --v=1
await kubelet 60 "healthy" curl -sf http://127.0.0.1:10248/healthz
start kube-proxy "$BIN/kube-proxy" --config="$STATE/kube-proxy/config.yaml" --v=1
await kube-proxy 60 "healthy" curl -sf http://127.0.0.1:10256/healthz
# Ready, as reported by this kubelet: the stored condition of an earlier run does not count.
node_ready_now() {
  local out; out="$(kc get node "$NODE_NAME" -o jsonpath='{range .status.conditions[?(@.type=="Ready")]}{.status} {.lastHeartbeatTime}{end}')"
  [[ "${out%% *}" == True ]] && (( $(date -d "${out#* }" +%s) >= t0 ))
}
await kubelet 90 "registered with a Ready node" node_ready_now
# Schedulable: a fresh node carries no taint (a pressure taint means pods would sit Pending forever).
node_untainted() { [[ -z "$(kc get node "$NODE_NAME" -o jsonpath='{.spec.taints}')" ]]; }
if ! wait_for 60 "an untainted node" node_untainted; then
  kc describe node "$NODE_NAME" >>"$LOGS/kubelet.log" 2>&1 || true
  die "node $NODE_NAME is tainted: $(kc get node "$NODE_NAME" -o jsonpath='{.spec.taints}'); free disk: $(df -h --output=avail "$STATE" | tail -1) (node description appended to $LOGS/kubelet.log)"
fi

# Add-ons: storage (provisioner + default class, RBAC), CoreDNS.
start hostpath-provisioner "$BIN/hostpath-provisioner" --kubeconfig="$PKI/hostpath-provisioner.kubeconfig" \
  --root="$STATE/volumes" --node-name="$NODE_NAME"
kc apply -f "$HACK/manifests/storage.yaml" >>"$LOGS/addons.log" 2>&1 || die_component "add-ons (storage)" "$LOGS/addons.log" "kubectl apply failed"
sed -e "s|@COREDNS_IMAGE@|$(cat "$STATE/images/coredns.ref")|" -e "s|@DNS_SERVICE_IP@|$DNS_SERVICE_IP|" \
    -e "s|@CLUSTER_DOMAIN@|$CLUSTER_DOMAIN|" "$HACK/manifests/coredns.yaml" | kc apply -f - >>"$LOGS/addons.log" 2>&1 \
  || die_component "add-ons (coredns)" "$LOGS/addons.log" "kubectl apply failed"
if ! kc -n kube-system rollout status deployment/coredns --timeout=120s >>"$LOGS/addons.log" 2>&1; then
  kc -n kube-system describe pods -l k8s-app=kube-dns >>"$LOGS/addons.log" 2>&1 || true
  die_component "coredns" "$LOGS/addons.log" "deployment not available after 120s (pod events appended; kubelet log: $LOGS/kubelet.log)"
fi
# Cluster DNS answers for real (through the Service address and kube-proxy's rules).
if ! wait_for 90 "cluster DNS" python3 "$HACK/dns_probe.py" "$DNS_SERVICE_IP" "kubernetes.default.svc.$CLUSTER_DOMAIN"; then
  kc -n kube-system describe pods -l k8s-app=kube-dns >>"$LOGS/addons.log" 2>&1 || true
  die_component "coredns" "$LOGS/addons.log" "no answer from $DNS_SERVICE_IP after 90s (kube-proxy log: $LOGS/kube-proxy.log)"
fi
await kube-controller-manager 60 "done creating the default ServiceAccount" kc -n default get serviceaccount default

cat >"$STATE/env" <<ENV
# Written by hack/cluster-up.sh: facts about the running local cluster.
KUBECONFIG=$KUBECONFIG
FLALLIANCE_HOST_IP=$HOST_IP
FLALLIANCE_POD_CIDR=$POD_CIDR
FLALLIANCE_SERVICE_CIDR=$SERVICE_CIDR
FLALLIANCE_DNS_SERVICE_IP=$DNS_SERVICE_IP
FLALLIANCE_CTR_SOCK=$CTR_SOCK
ENV
log "cluster ready in $(( $(date +%s) - t0 )) s after the build step; kubeconfig: $KUBECONFIG"
log "host services for pods: bind to $HOST_IP; logs: $LOGS; stop with 'make cluster-down'"

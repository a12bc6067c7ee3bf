#!/usr/bin/env bash
# Shared helpers for the cluster scripts: paths, versions, logging, bounded waits, PID files.
# Sourced, never executed. Every failure names the component and the log to read.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HACK="$REPO_ROOT/hack"
STATE="${FLALLIANCE_CLUSTER_STATE:-$REPO_ROOT/.state/cluster}"
# Built binaries and Go caches live outside the repository, shared by every checkout on the machine.
CACHE="${FLALLIANCE_CACHE:-/var/cache/flalliance}"
BIN_CACHE="$CACHE/bin"
HEAVY_LOCK=/tmp/flalliance-heavy.lock

# Versions (the go.mod under hack/tools/<tool>/ pins the same; build-tools.sh checks they agree).
K8S_VERSION=v1.35.8
HELM_VERSION=v4.3.1
CRICTL_VERSION=v1.34.0
COREDNS_VERSION=v1.15.0
KIND_VERSION=v0.31.0
GETH_VERSION=v1.17.10       # hack/tools/geth/go.mod pins the same go-ethereum
PROVISIONER_VERSION=v0.1.0   # hack/tools/hostpath-provisioner: our own, versioned by its source hash too

# Networks the cluster creates and owns. Nothing else is ever routed to or from pods.
POD_CIDR=10.244.0.0/16
NODE_POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/16
API_SERVICE_IP=10.96.0.1
DNS_SERVICE_IP=10.96.0.10
BRIDGE=flcni0
# The bridge's address: the node IP, the API server's address and the address pods use to reach the host
# (a dev chain on the host binds here so pods can reach it).
HOST_IP=10.244.0.1
NODE_NAME=flalliance-node
CLUSTER_DOMAIN=cluster.local
CTR_SOCK=/run/flalliance/containerd/containerd.sock
# The cluster containerd's root (image content and snapshots): machine-wide, see cluster-containerd-config.sh.
CTR_ROOT="${FLALLIANCE_CONTAINERD_ROOT:-$CACHE/containerd/root}"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }
# die_component NAME LOGFILE MESSAGE: fail naming the component and its log (last lines included).
die_component() {
  local comp="$1" logf="$2"; shift 2
  {
    printf 'ERROR: %s: %s\n' "$comp" "$*"
    if [[ -n "$logf" && -f "$logf" ]]; then
      printf -- '--- last lines of %s ---\n' "$logf"; tail -n 25 "$logf"; printf -- '--- read the whole log: %s\n' "$logf"
    fi
  } >&2
  exit 1
}

# wait_for SECONDS DESCRIPTION CMD...: poll CMD every 0.5 s; return 1 on timeout (never hangs).
wait_for() {
  local timeout="$1" what="$2"; shift 2
  local deadline=$(( $(date +%s) + timeout ))
  until "$@" >/dev/null 2>&1; do
    if (( $(date +%s) >= deadline )); then log "timed out after ${timeout}s waiting for $what"; return 1; fi
    sleep 0.5
  done
}

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_pidfile NAME [SECONDS]: SIGTERM the process in $STATE/pids/NAME.pid, SIGKILL after SECONDS (15);
# remove the file.
stop_pidfile() {
  local f="$STATE/pids/$1.pid" pid grace="${2:-15}"
  [[ -f "$f" ]] || return 0
  pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 $(( grace * 2 ))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then log "$1 (pid $pid) ignored SIGTERM; SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; sleep 0.5; fi
  fi
  rm -f "$f"
}

# port_free PORT: true when nothing listens on TCP PORT.
port_free() { ! ss -Hltn "sport = :$1" | grep -q .; }

heavy() { flock "$HEAVY_LOCK" nice -n 10 "$@"; }

need_root() { [[ $(id -u) == 0 ]] || die "$1 needs root (it starts containerd, the kubelet and edits iptables)"; }

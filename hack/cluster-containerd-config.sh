#!/usr/bin/env bash
# containerd configuration for the cluster's own containerd instance (never the system's or Docker's):
# its own socket under /run/flalliance, the CRI plugin with cgroupfs, the locally built pause image, and
# CNI config/state inside the state folder.
# Its root (image content and snapshots) lives in the machine cache, like the built binaries: the worker
# image is ~3.7 GB, and importing it again into every checkout's cluster cost 90 s and 8 GB of disk each
# time (CI's fresh clone among them). cluster-load.sh skips an image whose ID the root already holds.
# Only one local cluster runs on a machine at a time (fixed bridge and ports), so one root is never shared
# by two running containerds; cluster-down removes every pod sandbox and container before stopping it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
C="$STATE/containerd" R=/run/flalliance/containerd
mkdir -p "$CTR_ROOT" "$C/opt" "$STATE/cni/net.d" "$STATE/cni/ipam" "$R"
cat >"$C/config.toml" <<TOML
version = 2
root = "$CTR_ROOT"
state = "$R/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$CTR_SOCK"
[ttrpc]
  address = "$CTR_SOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$C/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$(cat "$STATE/images/pause.ref" 2>/dev/null || echo "flalliance.local/pause:$K8S_VERSION")"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  max_container_log_line_size = 16384
  # These machines withhold CAP_SYS_RESOURCE, so no process may lower its OOM score (the kubelet asks
  # -998 for sandboxes, -997 for Guaranteed pods). Clamp to containerd's own score instead of failing.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/net.d"
    max_conf_num = 1
TOML

# The pod network: one bridge ($BRIDGE, made by cluster-up.sh with the host's address), host-local IPAM
# on the node's pod CIDR, no masquerade (pod traffic never leaves the machine).
cat >"$STATE/cni/net.d/10-flalliance.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "flalliance",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$STATE/cni/ipam",
        "ranges": [[{"subnet": "$NODE_POD_CIDR", "gateway": "$HOST_IP"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON

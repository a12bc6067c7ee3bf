#!/usr/bin/env bash
# Kubelet and kube-proxy configuration files for the local node.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PKI="$STATE/pki"
mkdir -p "$STATE/kubelet/root" "$STATE/kubelet/pod-logs" "$STATE/kube-proxy" "$STATE/volumes"
: >"$STATE/kubelet/resolv.conf"   # pods get no host nameservers: cluster DNS only
cat >"$STATE/kubelet/config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $HOST_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
containerRuntimeEndpoint: unix://$CTR_SOCK
cgroupDriver: cgroupfs
# These machines mount cgroup v1; Kubernetes 1.35 refuses it unless told (cgroup v1 is in maintenance mode).
failCgroupV1: false
failSwapOn: false
clusterDNS: [$DNS_SERVICE_IP]
clusterDomain: $CLUSTER_DOMAIN
resolvConf: $STATE/kubelet/resolv.conf
podLogsDir: $STATE/kubelet/pod-logs
serializeImagePulls: false
# Locally imported images are never garbage-collected (nothing could pull them back).
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
# Absolute floors, not percentages: on a large shared disk 2% is gigabytes, and the disk-pressure taint it
# set stopped every pod from scheduling (and would have evicted the locally imported images).
evictionHard: {memory.available: 100Mi, nodefs.available: 256Mi, nodefs.inodesFree: 1%, imagefs.available: 256Mi}
maxPods: 110
podPidsLimit: 4096
nodeStatusUpdateFrequency: 5s
syncFrequency: 10s
fileCheckFrequency: 10s
volumeStatsAggPeriod: 1m
YAML
cat >"$STATE/kube-proxy/config.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $PKI/kube-proxy.kubeconfig}
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $POD_CIDR
bindAddress: $HOST_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# NodePorts only on the bridge address, never on the machine's other interfaces.
nodePortAddresses: ["$HOST_IP/32"]
# No OOM score change (these machines withhold CAP_SYS_RESOURCE); leave the host's conntrack size alone.
oomScoreAdj: 0
conntrack: {maxPerCore: 0, min: 0}
iptables: {localhostNodePorts: false, syncPeriod: 30s, minSyncPeriod: 0s}
YAML

#!/usr/bin/env bash
# Certificates, service-account keys and kubeconfigs for the local cluster, in .state/cluster/pki.
# Made once (a warm start reuses them); `make cluster-down CLEAN=1` deletes the state folder.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PKI="$STATE/pki"
mkdir -p "$PKI"; chmod 700 "$PKI"
cd "$PKI"
[[ -f .complete ]] && exit 0
log "generating certificates in $PKI"
exec 3>>"$STATE/logs/pki.log"
ossl() { openssl "$@" 2>&3 || die_component pki "$STATE/logs/pki.log" "openssl $1 failed"; }

ossl genrsa -out ca.key 2048
ossl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=flalliance-local-ca" -out ca.crt
ossl genrsa -out sa.key 2048
ossl rsa -in sa.key -pubout -out sa.pub

# cert NAME CN ORG SANS(usage: comma list or '') EXTKEYUSAGE
cert() {
  local name="$1" cn="$2" org="$3" sans="$4" eku="$5" subj="/CN=$2"
  [[ -n "$org" ]] && subj="/O=$org/CN=$cn"
  ossl genrsa -out "$name.key" 2048
  ossl req -new -key "$name.key" -subj "$subj" -out "$name.csr"
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [[ -n "$sans" ]] && echo "subjectAltName=$sans"
  } >"$name.ext"
  ossl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -sha256 -extfile "$name.ext" -out "$name.crt"
  rm -f "$name.csr" "$name.ext"
}
d="$CLUSTER_DOMAIN"
cert apiserver kube-apiserver "" "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$d,DNS:localhost,IP:$HOST_IP,IP:$API_SERVICE_IP,IP:127.0.0.1" serverAuth
cert apiserver-kubelet-client kube-apiserver-kubelet-client "" "" clientAuth
cert kubelet-serving "system:node:$NODE_NAME" "system:nodes" "DNS:$NODE_NAME,IP:$HOST_IP,IP:127.0.0.1" serverAuth
cert admin flalliance-admin "system:masters" "" clientAuth
cert controller-manager system:kube-controller-manager "" "" clientAuth
cert scheduler system:kube-scheduler "" "" clientAuth
cert kubelet "system:node:$NODE_NAME" "system:nodes" "" clientAuth
cert kube-proxy system:kube-proxy "" "" clientAuth
cert hostpath-provisioner flalliance:hostpath-provisioner "" "" clientAuth

kubeconfig() { # FILE CERTNAME USER
  cat >"$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: flalliance
  cluster:
    server: https://$HOST_IP:6443
    certificate-authority-data: $(base64 -w0 ca.crt)
users:
- name: $3
  user:
    client-certificate-data: $(base64 -w0 "$2.crt")
    client-key-data: $(base64 -w0 "$2.key")
contexts:
- name: flalliance
  context: {cluster: flalliance, user: $3}
current-context: flalliance
KC
  chmod 600 "$1"
}
kubeconfig controller-manager.kubeconfig controller-manager system:kube-controller-manager
kubeconfig scheduler.kubeconfig scheduler system:kube-scheduler
kubeconfig kubelet.kubeconfig kubelet "system:node:$NODE_NAME"
kubeconfig kube-proxy.kubeconfig kube-proxy system:kube-proxy
kubeconfig hostpath-provisioner.kubeconfig hostpath-provisioner flalliance:hostpath-provisioner
kubeconfig "$STATE/kubeconfig" admin flalliance-admin
touch .complete

#!/usr/bin/env bash
# Debian packages the cluster and the image builds need. Installs only what is missing (apt-get update
# runs once, when something is). A fresh CI machine gets everything from here.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root "installing Debian packages"
PKGS=(containerd runc containernetworking-plugins etcd-server iptables conntrack iproute2 openssl curl
      gcc libc6-dev binutils debootstrap docker.io util-linux procps)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
(( ${#missing[@]} )) || exit 0
log "installing Debian packages: ${missing[*]}"
mkdir -p "$CACHE/logs"
logf="$CACHE/logs/apt.log"
export DEBIAN_FRONTEND=noninteractive
# Another apt run (another engineer, unattended) may hold the dpkg lock: wait for it, bounded.
flock -w 600 /tmp/flalliance-apt.lock bash -c '
  apt-get -o DPkg::Lock::Timeout=300 update -qq &&
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "$@"' _ "${missing[@]}" >"$logf" 2>&1 \
  || die_component "apt-get install" "$logf" "could not install: ${missing[*]}"

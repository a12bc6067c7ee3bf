#!/usr/bin/env bash
# The cluster's own images, built locally and imported into its containerd (no registry):
#   pause   - the pod sandbox, compiled statically from the pinned Kubernetes source (build/pause/linux)
#   coredns - the CoreDNS binary from hack/build-tools.sh
# Archives are cached next to the binaries, by version.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
IMG_CACHE="$CACHE/images"; mkdir -p "$IMG_CACHE" "$STATE/images"
logf="$STATE/logs/system-images.log"
PAUSE_REF="flalliance.local/pause:$K8S_VERSION"
COREDNS_DIR="$("$HACK/build-tools.sh" --path coredns)"
COREDNS_REF="flalliance.local/coredns:$COREDNS_VERSION-$(cut -c1-8 "$COREDNS_DIR/.stamp")"

pause_tar="$IMG_CACHE/pause-$K8S_VERSION.tar"
if [[ ! -f "$pause_tar" ]]; then
  src="$(GOFLAGS=-mod=mod go env GOMODCACHE)/k8s.io/kubernetes@$K8S_VERSION/build/pause/linux/pause.c"
  if [[ ! -f "$src" ]]; then
    (cd "$HACK/tools/kubernetes" && GOFLAGS=-mod=mod go mod download k8s.io/kubernetes) >>"$logf" 2>&1 || true
  fi
  [[ -f "$src" ]] || die_component "pause image" "$logf" "pause.c not found in the module cache ($src)"
  tmp="$(mktemp -d)"
  gcc -Os -static -Wall -DVERSION="$K8S_VERSION" -o "$tmp/pause" "$src" >>"$logf" 2>&1 \
    || die_component "pause image" "$logf" "gcc -static failed (needs Debian's gcc and libc6-dev)"
  strip "$tmp/pause"
  python3 "$HACK/oci_image.py" --name "$PAUSE_REF" --out "$pause_tar.tmp" \
    --file "$tmp/pause:/pause:0755" --entrypoint /pause --user 65535:65535
  mv "$pause_tar.tmp" "$pause_tar"; rm -rf "$tmp"
fi
coredns_tar="$IMG_CACHE/coredns-$COREDNS_VERSION-$(cut -c1-8 "$COREDNS_DIR/.stamp").tar"
if [[ ! -f "$coredns_tar" ]]; then
  python3 "$HACK/oci_image.py" --name "$COREDNS_REF" --out "$coredns_tar.tmp" \
    --file "$COREDNS_DIR/coredns:/coredns:0755" --entrypoint /coredns --user 65532:65532
  mv "$coredns_tar.tmp" "$coredns_tar"
fi
for t in "$pause_tar" "$coredns_tar"; do
  ctr --address "$CTR_SOCK" -n k8s.io images import "$t" >>"$logf" 2>&1 \
    || die_component "containerd image import" "$logf" "ctr import of $t failed"
done
echo "$PAUSE_REF" >"$STATE/images/pause.ref"
echo "$COREDNS_REF" >"$STATE/images/coredns.ref"

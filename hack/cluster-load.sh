#!/usr/bin/env bash
# Import the project's images (flalliance/<name>:dev, built by hack/images.sh) into the local cluster's
# containerd, so pods use them with imagePullPolicy IfNotPresent/Never. An image whose ID containerd
# already has is skipped.
#
#   hack/cluster-load.sh [NAME...]     default: every images/<name>
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root "make cluster-load"
DOCKER="$(command -v /usr/bin/docker || command -v docker)"
pid_alive "$STATE/pids/containerd.pid" || die "cluster-load: the local cluster's containerd is not running (run 'make cluster' first)"
"$HACK/docker-up.sh"
crictl=("$STATE/bin/crictl" --runtime-endpoint "unix://$CTR_SOCK" --timeout 30s)
logf="$STATE/logs/cluster-load.log"
names=("$@")
if (( ${#names[@]} == 0 )); then
  # every image but those marked `# cluster-load: skip` (the GPU worker: no GPU here, and gigabytes more)
  for df in "$REPO_ROOT"/images/*/Dockerfile; do
    [[ -f "$df" ]] && ! grep -q '^# *cluster-load: *skip' "$df" && names+=("$(basename "$(dirname "$df")")")
  done
fi
# A training logic pins its worker image by digest (runtime.image: repo@sha256:...). Pulled from a registry,
# containerd records that reference itself; imported, the image has only its tag, so the manifest digest
# is added as a second name, which the kubelet then finds without a registry.
tag_digest() {
  local ref="docker.io/$1" digest
  digest="$(ctr --address "$CTR_SOCK" -n k8s.io images ls "name==$ref" | awk 'NR==2 {print $3}')"
  [[ "$digest" == sha256:* ]] || die "cluster-load: no manifest digest for $ref in containerd"
  ctr --address "$CTR_SOCK" -n k8s.io images tag --force "$ref" "${ref%:*}@$digest" >/dev/null
  log "$1 is also ${ref%:*}@$digest"
}
# `docker save` writes the whole image to Docker's temp dir before streaming it, and containerd keeps the
# layers it receives plus their unpacked snapshots: loading the 3.9 GB worker needs about twice its size
# free. Old builds of the :dev tags (dangling) and the build cache are dropped first when space is short,
# and a shortfall that remains is named with its figures rather than failing mid-import with ENOSPC.
free_mib() { df -Pm "$1" | awk 'NR==2 {print $4}'; }
ensure_space() {
  local ref="$1" need root have_docker have_state
  need=$(( $("$DOCKER" image inspect -f '{{.Size}}' "$ref") * 2 / 1048576 + 1024 ))
  root="$("$DOCKER" info -f '{{.DockerRootDir}}' 2>/dev/null || echo /var/lib/docker)"
  have_docker=$(free_mib "$root"); have_state=$(free_mib "$STATE")
  (( have_docker >= need && have_state >= need )) && return 0
  log "cluster-load: $ref needs ~$need MiB free; $root has $have_docker MiB, $STATE $have_state MiB: pruning dangling images and the build cache"
  "$DOCKER" image prune -f >>"$logf" 2>&1 || true
  "$DOCKER" builder prune -f >>"$logf" 2>&1 || true
  have_docker=$(free_mib "$root"); have_state=$(free_mib "$STATE")
  (( have_docker >= need && have_state >= need )) \
    || die "cluster-load: not enough disk for $ref: ~$need MiB needed, $root has $have_docker MiB free, $STATE $have_state MiB (free space, or 'make cluster-down CLEAN=1' for old cluster state)"
}
for n in "${names[@]}"; do
  ref="flalliance/$n:dev"
  id="$("$DOCKER" image inspect -f '{{.Id}}' "$ref" 2>/dev/null)" || die "cluster-load: image $ref not built (run 'make images')"
  have="$("${crictl[@]}" inspecti -o go-template --template '{{.status.id}}' "docker.io/$ref" 2>/dev/null || true)"
  if [[ "$have" == "$id" ]]; then log "$ref already in the cluster"; tag_digest "$ref"; continue; fi
  ensure_space "$ref"
  start=$(date +%s)
  # Only the layers containerd lacks travel (hack/ctr_import.py): a source change re-sends one small layer.
  python3 "$HACK/ctr_import.py" --image "$ref" --ctr-address "$CTR_SOCK" --docker "$DOCKER" \
      --cache "$CACHE/containerd/layer-digests.json" >>"$logf" 2>&1 \
    || die_component "cluster-load $ref" "$logf" "import into containerd failed"
  log "loaded $ref into the cluster in $(( $(date +%s) - start )) s"
  tag_digest "$ref"
done

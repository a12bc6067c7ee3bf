#!/usr/bin/env bash
# Build every images/<name>/Dockerfile as flalliance/<name>:dev (stand-in bases first, no registry).
#
# Build context: the repository root by default (its .dockerignore keeps .venv, .state and caches out), so
# Dockerfiles COPY repository paths. A Dockerfile that needs only its own folder says so with a comment
# line `# build-context: <path relative to the repository root>` (e.g. `# build-context: images/smoke`).
# A Dockerfile whose context needs something made first names the command in a line
# `# prepare: <command>` (run from the repository root before the build, e.g. `# prepare: make wheels`).
#
#   hack/images.sh [NAME...]     default: all images
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DOCKER="$(command -v /usr/bin/docker || command -v docker)"
mkdir -p "$CACHE/logs"
names=("$@")
if (( ${#names[@]} == 0 )); then
  for df in "$REPO_ROOT"/images/*/Dockerfile; do [[ -f "$df" ]] && names+=("$(basename "$(dirname "$df")")"); done
fi
(( ${#names[@]} )) || { log "no images/*/Dockerfile: nothing to build"; exit 0; }
"$HACK/base-images.sh"
export DOCKER_BUILDKIT=0   # Debian's docker.io 20.10 builds with the classic builder; no buildx needed
for n in "${names[@]}"; do
  df="$REPO_ROOT/images/$n/Dockerfile"
  [[ -f "$df" ]] || die "image '$n': $df not found"
  ctx_rel="$(sed -n 's/^# *build-context: *//p' "$df" | head -1)"
  ctx="$REPO_ROOT"; [[ -n "$ctx_rel" ]] && ctx="$REPO_ROOT/$ctx_rel"
  logf="$CACHE/logs/image-$n.log"
  start=$(date +%s)
  prep="$(sed -n 's/^# *prepare: *//p' "$df" | head -1)"
  if [[ -n "$prep" ]]; then
    log "image $n: preparing the build context: $prep"
    (cd "$REPO_ROOT" && bash -c "$prep") >"$logf" 2>&1 \
      || die_component "image flalliance/$n:dev" "$logf" "its prepare step failed: $prep"
  fi
  log "building flalliance/$n:dev (context: ${ctx_rel:-.}; log: $logf)"
  heavy "$DOCKER" build -f "$df" -t "flalliance/$n:dev" "$ctx" >>"$logf" 2>&1 \
    || die_component "image flalliance/$n:dev" "$logf" "docker build failed"
  size="$("$DOCKER" image inspect -f '{{.Size}}' "flalliance/$n:dev")"
  log "flalliance/$n:dev built in $(( $(date +%s) - start )) s, $(( size / 1024 / 1024 )) MiB"
done

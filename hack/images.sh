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
# `# wheels: serve`: the machine's wheel cache (hack/wheels.sh) is served read-only on 127.0.0.1 for the
# build (run with --network host) at a fixed address, so the build-arg, and with it the layer cache, is
# stable. The server stops when this script ends.
WHEELS_PORT="${FLALLIANCE_WHEELS_PORT:-18765}"
WHEELS_URL="http://127.0.0.1:$WHEELS_PORT/"
wheels_pid=""
serve_wheels() {
  [[ -n "$wheels_pid" ]] && return 0
  [[ -d "$CACHE/wheels" ]] || die "wheel cache $CACHE/wheels missing (run 'make wheels')"
  python3 -m http.server --bind 127.0.0.1 --directory "$CACHE/wheels" "$WHEELS_PORT" >>"$CACHE/logs/wheels-server.log" 2>&1 &
  wheels_pid=$!
  trap '[[ -n "$wheels_pid" ]] && kill "$wheels_pid" 2>/dev/null; true' EXIT
  wait_for 15 "the wheel server on 127.0.0.1:$WHEELS_PORT" curl -sf -o /dev/null "$WHEELS_URL" \
    || die_component "wheel server" "$CACHE/logs/wheels-server.log" "not answering on $WHEELS_URL (port taken? set FLALLIANCE_WHEELS_PORT)"
}
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
  # A Dockerfile FROM one of our own images needs that image built first (in this run or earlier).
  for own in $(awk 'toupper($1)=="FROM" && $2 ~ /^flalliance\// {print $2}' "$df"); do
    "$DOCKER" image inspect "$own" >/dev/null 2>&1 \
      || die "image '$n' builds FROM $own, which is not built: list ${own#flalliance/} before $n (hack/images.sh ${own#flalliance/} $n)"
  done
  build_args=()
  if grep -q '^# *wheels: *serve' "$df"; then serve_wheels; build_args=(--network host --build-arg "WHEELS_URL=$WHEELS_URL"); fi
  log "building flalliance/$n:dev (context: ${ctx_rel:-.}; log: $logf)"
  heavy "$DOCKER" build "${build_args[@]}" -f "$df" -t "flalliance/$n:dev" "$ctx" >>"$logf" 2>&1 \
    || die_component "image flalliance/$n:dev" "$logf" "docker build failed"
  size="$("$DOCKER" image inspect -f '{{.Size}}' "flalliance/$n:dev")"
  log "flalliance/$n:dev built in $(( $(date +%s) - start )) s, $(( size / 1024 / 1024 )) MiB"
done

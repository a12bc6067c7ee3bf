#!/usr/bin/env bash
# Load the project's images (flalliance/<name>:dev from `make images`) into the kind cluster's node.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
KIND="$("$HACK/build-tools.sh" --path kind)/kind"
names=("$@")
if (( ${#names[@]} == 0 )); then
  # every image but those marked `# cluster-load: skip` (the GPU worker: no GPU here, and gigabytes more)
  for df in "$REPO_ROOT"/images/*/Dockerfile; do
    [[ -f "$df" ]] && ! grep -q '^# *cluster-load: *skip' "$df" && names+=("$(basename "$(dirname "$df")")")
  done
fi
for n in "${names[@]}"; do "$KIND" load docker-image --name flalliance "flalliance/$n:dev"; done

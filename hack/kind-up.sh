#!/usr/bin/env bash
# Create (or reuse) the kind cluster "flalliance" from hack/kind/config.yaml, for a laptop with Docker
# and internet. kind itself is built from the Go module proxy like the other tools (pinned in
# hack/tools/kind). The kubeconfig goes to .state/kind/kubeconfig; point the e2e tests at it with
# `FLALLIANCE_KUBECONFIG=.state/kind/kubeconfig make test-e2e`.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
KIND="$("$HACK/build-tools.sh" --path kind)/kind"
mkdir -p "$REPO_ROOT/.state/kind"
kcfg="$REPO_ROOT/.state/kind/kubeconfig"
args=(--config "$HACK/kind/config.yaml" --kubeconfig "$kcfg" --wait 180s)
[[ -n "${KIND_NODE_IMAGE:-}" ]] && args+=(--image "$KIND_NODE_IMAGE")
if "$KIND" get clusters 2>/dev/null | grep -qx flalliance; then
  log "kind cluster flalliance exists"
  "$KIND" export kubeconfig --name flalliance --kubeconfig "$kcfg"
else
  "$KIND" create cluster "${args[@]}"
fi
log "kubeconfig: $kcfg"

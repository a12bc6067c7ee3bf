#!/usr/bin/env bash
# Delete the kind cluster "flalliance" (harmless when there is none).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
KIND="$("$HACK/build-tools.sh" --path kind)/kind"
"$KIND" delete cluster --name flalliance --kubeconfig "$REPO_ROOT/.state/kind/kubeconfig"

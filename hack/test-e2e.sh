#!/usr/bin/env bash
# `make test-e2e`: run the e2e tests (pytest -m e2e) against a real cluster.
#
# - FLALLIANCE_KUBECONFIG set: use that cluster (kind, or any existing one) and start nothing; its images
#   must already be loaded (make kind-load).
# - otherwise the local cluster: bring it up if it is not running (make cluster), build and load the
#   images (make images cluster-load), run the tests, and always tear down what this run started
#   (cluster-down, and dockerd if this run started it), failure or not.
# E2E_IMAGES: the images/<name> to build and load (default: every image tests/e2e uses; "all" for
# every images/*/Dockerfile). Add a name here when e2e tests start using its image.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
PY="$REPO_ROOT/.venv/bin/python"
export FLALLIANCE_E2E_REQUIRED=1
pytest_args=(-m e2e -q -p no:cacheprovider "$@")

if [[ -n "${FLALLIANCE_KUBECONFIG:-}" ]]; then
  log "e2e against the cluster in $FLALLIANCE_KUBECONFIG (nothing started)"
  exec "$PY" -m pytest "${pytest_args[@]}"
fi

started_cluster=0 started_docker=0
cleanup() {
  local rc=$?
  if (( started_cluster )); then "$HACK/cluster-down.sh" || rc=1; fi
  if (( started_docker )); then "$HACK/docker-down.sh" || rc=1; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t0=$(date +%s)
if [[ ! -f "$REPO_ROOT/.state/docker/started-by-us" ]] && ! docker info >/dev/null 2>&1; then started_docker=1; fi
if ! pid_alive "$STATE/pids/kube-apiserver.pid"; then started_cluster=1; fi
# Set-up steps (each names its component and log on failure), as `make cluster images cluster-load`.
"$HACK/cluster-up.sh"
images=(${E2E_IMAGES:-smoke operator worker worker-ridge devchain minio})
[[ "${images[*]}" == all ]] && images=()
"$HACK/images.sh" "${images[@]}"
"$HACK/cluster-load.sh" "${images[@]}"
log "e2e set-up took $(( $(date +%s) - t0 )) s; running pytest -m e2e"
"$PY" -m pytest "${pytest_args[@]}"

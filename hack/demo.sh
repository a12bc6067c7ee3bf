#!/usr/bin/env bash
# `make demo`: the example federated task on a real cluster, end to end, from a fresh machine.
#
#  1. the cluster: the local one built from source (default), or kind on a laptop (DEMO_CLUSTER=kind);
#  2. the images (operator, worker, devchain), built without a registry and loaded into the cluster;
#  3. the Helm chart in namespace $DEMO_NS with the dev chain (anvil + the contracts) and the PVC store;
#  4. examples/digits: wallets, each participant's private data volume (written by a Job), the FLTask and
#     four Participants (one attacker training on flipped labels);
#  5. progress while it runs (`flalliance demo watch`: round, phase, Jobs, accuracy), then a summary read
#     from the chain (rewards, slashes, escrow audit) and a plot: .state/demo/outcome.json, demo.png.
# A re-run starts the example over (the chart, chain and images are kept). The cluster stays up for
# exploring (`kubectl get fltasks,participants,jobs -n flalliance-demo`); `make cluster-down` stops it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
NS="${DEMO_NS:-flalliance-demo}"
CLUSTER="${DEMO_CLUSTER:-local}"
t0=$(date +%s)
case "$CLUSTER" in
  local)
    "$HACK/cluster-up.sh"
    export KUBECONFIG="$STATE/kubeconfig"
    KUBECTL="$STATE/bin/kubectl" HELM="$STATE/bin/helm"
    "$HACK/images.sh" operator worker devchain
    "$HACK/cluster-load.sh" operator worker devchain
    ;;
  kind)
    "$HACK/kind-up.sh"
    export KUBECONFIG="$REPO_ROOT/.state/kind/kubeconfig"
    KUBECTL="$("$HACK/build-tools.sh" --path kubernetes)/kubectl" HELM="$("$HACK/build-tools.sh" --path helm)/helm"
    "$HACK/images.sh" operator worker devchain
    "$HACK/kind-load.sh" operator worker devchain
    ;;
  *) die "DEMO_CLUSTER must be 'local' or 'kind', not '$CLUSTER'" ;;
esac
kc() { "$KUBECTL" -n "$NS" "$@"; }

log "installing the chart (release flalliance, namespace $NS, dev chain and PVC store enabled)"
# --take-ownership: an install by an older chart left objects the chart now renders (the Lease); adopt them.
"$HELM" upgrade --install flalliance charts/flalliance -n "$NS" --create-namespace --force-conflicts --take-ownership \
  --set devChain.enabled=true --set store.enabled=true --set testMode=true --set "watchNamespaces={$NS}" --wait --timeout 5m
# The images may have been rebuilt under the same tag: restart the operator on the current one.
kc rollout restart deployment/flalliance >/dev/null
kc rollout status deployment/flalliance --timeout=180s
log "waiting for the dev chain's contracts"
deployer="$(kc get jobs -l app.kubernetes.io/component=devchain-deployer -o name | tail -1)"
kc wait --for=condition=complete "$deployer" --timeout=300s >/dev/null \
  || { kc logs "$deployer" --tail=30 || true; die "the dev chain deployer ($deployer) did not complete"; }
factory="$(kc get configmap flalliance-devchain-addresses -o jsonpath='{.data.factory}')"
want="$(sed -n 's/^ *factoryAddress: *"\(0x[0-9a-fA-F]*\)".*/\1/p' examples/digits/fltask.yaml)"
[[ "$factory" == "$want" ]] || die "the dev chain's factory is $factory but examples/digits/fltask.yaml names $want"

log "starting the example over: removing a previous run's objects"
kc delete -k examples/digits --ignore-not-found --wait --timeout=180s >/dev/null
log "writing each participant's private data volume (Job digits-data)"
kc apply -f examples/digits/wallets.yaml -f examples/digits/data.yaml >/dev/null
kc wait --for=condition=complete job/digits-data --timeout=300s >/dev/null \
  || { kc logs job/digits-data --tail=30 || true; die "the data writer Job did not complete"; }
log "applying the FLTask and four Participants (p4 trains on flipped labels: an attacker)"
kc apply -f examples/digits/fltask.yaml -f examples/digits/participants.yaml >/dev/null
log "set-up took $(( $(date +%s) - t0 )) s; following the task (kubectl get fltasks -n $NS shows the same)"
mkdir -p .state/demo
.venv/bin/flalliance demo watch --namespace "$NS" --task digits --kubectl "$KUBECTL" --out .state/demo
kc get fltasks
log "the cluster is still up: kubectl --kubeconfig $KUBECONFIG -n $NS get fltasks,participants,jobs; 'make cluster-down' stops it"

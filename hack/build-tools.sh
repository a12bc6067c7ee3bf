#!/usr/bin/env bash
# Build the cluster's binaries from the Go module proxy, pinned by hack/tools/<tool>/go.mod + go.sum,
# into $CACHE/bin/<tool>-<version>/ (outside the repository). A cached build is reused when its stamp (a
# hash of go.mod, go.sum, sources and flags) matches; otherwise it is rebuilt. Heavy builds take the
# machine-wide heavy-build lock and run at low priority.
#
#   hack/build-tools.sh [TOOL...]     tools: kubernetes helm crictl coredns kind hostpath-provisioner geth
#   hack/build-tools.sh --path TOOL   print the tool's binary directory (building it if needed)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v go >/dev/null || die "build-tools: the Go toolchain ('go') is not on PATH; it builds the cluster's binaries"
export GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local
export GOCACHE="${GOCACHE:-$(go env GOCACHE)}" GOMODCACHE="${GOMODCACHE:-$(go env GOMODCACHE)}"

tool_version() {
  case "$1" in
    kubernetes) echo "$K8S_VERSION" ;; helm) echo "$HELM_VERSION" ;; crictl) echo "$CRICTL_VERSION" ;;
    coredns) echo "$COREDNS_VERSION" ;; kind) echo "$KIND_VERSION" ;; hostpath-provisioner) echo "$PROVISIONER_VERSION" ;;
    geth) echo "$GETH_VERSION" ;;
    *) die "unknown tool '$1' (known: kubernetes helm crictl coredns kind hostpath-provisioner geth)" ;;
  esac
}

# tool_build_args TOOL: the packages and -ldflags for go build.
tool_pkgs() {
  case "$1" in
    kubernetes) printf 'k8s.io/kubernetes/cmd/%s ' kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl ;;
    helm) echo helm.sh/helm/v4/cmd/helm ;;
    crictl) echo sigs.k8s.io/cri-tools/cmd/crictl ;;
    coredns) echo . ;;  # our main.go: CoreDNS with only the plugins the cluster uses
    kind) echo sigs.k8s.io/kind ;;
    hostpath-provisioner) echo . ;;
    geth) echo github.com/ethereum/go-ethereum/cmd/geth ;;  # the real Ethereum client (tests, dev chain)
  esac
}
tool_ldflags() {
  local v; v="$(tool_version "$1")"
  case "$1" in
    kubernetes)
      local minor x
      minor="${v#v1.}"; minor="${minor%%.*}"
      for x in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        printf -- '-X %s.gitVersion=%s -X %s.gitMajor=1 -X %s.gitMinor=%s -X %s.gitTreeState=clean -X %s.buildDate=2026-08-20T15:16:14Z ' \
          "$x" "$v" "$x" "$x" "$minor" "$x" "$x"
      done ;;
    helm) echo "-X helm.sh/helm/v4/internal/version.version=$v" ;;
    crictl) echo "-X sigs.k8s.io/cri-tools/pkg/version.Version=$v" ;;
    coredns) echo "-X github.com/coredns/coredns/coremain.GitCommit=$v" ;;
    *) echo "" ;;
  esac
}

tool_dir() { echo "$BIN_CACHE/$1-$(tool_version "$1")"; }

tool_stamp() {
  local src="$HACK/tools/$1"
  { cat "$src"/go.mod "$src"/go.sum; cat "$src"/*.go 2>/dev/null || true
    echo "$(go env GOVERSION) $(tool_pkgs "$1") $(tool_ldflags "$1")"; } | sha256sum | cut -c1-16
}

build_tool() {
  local tool="$1" out stamp src tmp start
  out="$(tool_dir "$tool")"; src="$HACK/tools/$tool"; stamp="$(tool_stamp "$tool")"
  [[ -f "$src/go.mod" ]] || die "build-tools: $src/go.mod missing"
  if [[ -f "$out/.stamp" && "$(cat "$out/.stamp")" == "$stamp" ]]; then return 0; fi
  mkdir -p "$BIN_CACHE" "$CACHE/logs"
  local logf="$CACHE/logs/build-$tool.log"
  log "building $tool $(tool_version "$tool") (log: $logf; waits for the heavy-build lock)"
  tmp="$(mktemp -d "$BIN_CACHE/.tmp-$tool.XXXXXX")"; chmod 755 "$tmp"
  start=$(date +%s)
  # shellcheck disable=SC2046
  if ! (cd "$src" && heavy go build -trimpath -ldflags "-s -w $(tool_ldflags "$tool")" -o "$tmp/" $(tool_pkgs "$tool")) >"$logf" 2>&1; then
    rm -rf "$tmp"; die_component "build $tool" "$logf" "go build failed"
  fi
  echo "$stamp" >"$tmp/.stamp"
  rm -rf "$out"; mv "$tmp" "$out"
  log "built $tool in $(( $(date +%s) - start )) s -> $out"
}

if [[ "${1:-}" == --path ]]; then
  build_tool "$2"; tool_dir "$2"; exit 0
fi
tools=("$@")
(( ${#tools[@]} )) || tools=(kubernetes crictl coredns hostpath-provisioner helm)
for t in "${tools[@]}"; do build_tool "$t"; done

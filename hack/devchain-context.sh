#!/usr/bin/env bash
# The devchain image's build context: the pinned geth (hack/build-tools.sh, cached outside the repository)
# copied to .state/image-context/devchain/geth, which .dockerignore lets through.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
dir="$("$HACK/build-tools.sh" --path geth | tail -1)"
[[ -x "$dir/geth" ]] || die "geth not built at $dir (hack/build-tools.sh geth)"
mkdir -p "$REPO_ROOT/.state/image-context/devchain"
install -m 0755 "$dir/geth" "$REPO_ROOT/.state/image-context/devchain/geth"
log "devchain context: geth $("$dir/geth" version 2>/dev/null | sed -n 's/^Version: //p') copied"

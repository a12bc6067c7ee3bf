#!/usr/bin/env bash
# The minio image's build context: the pinned MinIO server (hack/minio/build.sh, built once and cached outside
# the repository) copied to .state/image-context/minio/minio.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bin="$("$HACK/minio/build.sh" | tail -1)"
[[ -x "$bin" ]] || die "MinIO not built at $bin (hack/minio/build.sh)"
mkdir -p "$REPO_ROOT/.state/image-context/minio"
install -m 0755 "$bin" "$REPO_ROOT/.state/image-context/minio/minio"
log "minio context: $(basename "$bin") copied"

#!/usr/bin/env bash
# Builds the pinned MinIO server (hack/minio/go.mod) once and caches it by version outside the repository.
# Prints the binary's path. Heavy (~minutes on 2 cores): serialised with the other heavy builds by flock.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="$(sed -n 's/^\(require\)\{0,1\}[[:space:]]*github.com\/minio\/minio \(v[^ ]*\).*/\2/p' "$here/go.mod" | head -n1)"
[[ -n "$version" ]] || { echo "hack/minio/go.mod does not pin github.com/minio/minio" >&2; exit 1; }
cache="${FLALLIANCE_BIN_CACHE:-/var/cache/flalliance/bin}"
bin="$cache/minio-$version"
if [[ ! -x "$bin" ]]; then
  mkdir -p "$cache"
  tmp="$bin.tmp.$$"
  (cd "$here" && flock /tmp/flalliance-heavy.lock nice -n 10 go build -trimpath -o "$tmp" github.com/minio/minio)
  mv -f "$tmp" "$bin"
fi
echo "$bin"

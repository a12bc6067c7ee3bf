#!/usr/bin/env bash
# `make wheels`: download every wheel the worker image installs (torch and its CUDA libraries from PyPI,
# which also run on CPU; the project's pinned dependencies; the build backend), once, into the machine's
# cache ($FLALLIANCE_CACHE/wheels, outside the repository: every checkout on the machine shares the ~3 GB).
# hack/images.sh serves that folder to the worker build over 127.0.0.1 (`# wheels: serve`), so building
# the image downloads nothing and never copies the wheels into a layer.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
out="$CACHE/wheels"
stamp="$out/.stamp-$(sha256sum pyproject.toml | cut -c1-16)"
[[ -f "$stamp" ]] && { log "wheels up to date in $out"; exit 0; }
mkdir -p "$out"
exec 8>"$out/.lock"
flock -w 1800 8 || die "wheels: another download holds $out/.lock for over 30 min"
[[ -f "$stamp" ]] && { log "wheels up to date in $out"; exit 0; }
# A checkout made before the cache moved out of the repository: take its wheels instead of downloading.
if [[ -d .state/wheels ]] && compgen -G ".state/wheels/*.whl" >/dev/null; then
  log "moving .state/wheels into $out"
  mv -n .state/wheels/*.whl "$out"/ && rm -rf .state/wheels
fi
reqs="$(.venv/bin/python - <<'PY'
import tomllib
p = tomllib.load(open("pyproject.toml", "rb"))
deps = p["project"]["dependencies"] + p["project"]["optional-dependencies"]["fl"] + p["build-system"]["requires"]
print("\n".join(deps))
PY
)"
log "downloading wheels into $out (torch with its CUDA libraries is ~3 GB; once per machine)"
# The host is what the image is: CPython 3.11 on Debian bookworm's glibc, x86_64; its wheels fit.
# shellcheck disable=SC2086
.venv/bin/pip download --quiet --only-binary=:all: --dest "$out" $reqs
rm -f "$out"/.stamp-*
touch "$stamp"
log "wheels ready: $(du -sh "$out" | cut -f1) in $out"

#!/usr/bin/env bash
# `make wheels`: download every wheel the worker image installs (torch and its CUDA libraries from PyPI,
# which also run on CPU; the project's pinned dependencies; the build backend) into .state/wheels, once.
# The worker Dockerfile installs from there with --no-index, so rebuilding the image downloads nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=.state/wheels
stamp="$out/.stamp-$(sha256sum pyproject.toml | cut -c1-16)"
[[ -f "$stamp" ]] && { echo "wheels up to date in $out"; exit 0; }
mkdir -p "$out"
reqs="$(.venv/bin/python - <<'PY'
import tomllib
p = tomllib.load(open("pyproject.toml", "rb"))
deps = p["project"]["dependencies"] + p["project"]["optional-dependencies"]["fl"] + p["build-system"]["requires"]
print("\n".join(deps))
PY
)"
echo "downloading wheels into $out (torch with its CUDA libraries is ~3 GB; once)"
# shellcheck disable=SC2086
# The host is what the image is: CPython 3.11 on Debian bookworm's glibc, x86_64; its wheels fit.
.venv/bin/pip download --quiet --only-binary=:all: --dest "$out" $reqs
rm -f "$out"/.stamp-*
touch "$stamp"
du -sh "$out"

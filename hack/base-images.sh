#!/usr/bin/env bash
# Registry-less stand-ins for the public base images the project's Dockerfiles name.
#
# The Dockerfiles under images/ use ordinary public bases (python:3.11-slim, debian:bookworm-slim) so they
# build unchanged anywhere. These machines reach no container registry, so when such a base is not present
# locally it is built here and tagged with that name; `docker build` then needs no pull:
#   debian:bookworm-slim  debootstrap --variant=minbase of Debian 12, slimmed like the official image
#   python:3.11-slim      that + Debian's python3 (3.11) in a venv at /usr/local, so `python`, `python3`,
#                         `pip` live in /usr/local/bin and `pip install` works as in the official image
# Both trust what this machine trusts: CA certificates in the host's bundle that Debian's does not have (a
# TLS-inspecting proxy's, on machines that have one) are added, and the usual variables (SSL_CERT_FILE,
# REQUESTS_CA_BUNDLE, PIP_CERT, NODE_EXTRA_CA_CERTS) point at the system bundle, so pip and npm inside
# `docker build` reach the package registries as they do on the host.
# A base that is already present (pulled on a laptop, or built earlier) is left alone. REBUILD=1 rebuilds.
#
#   hack/base-images.sh                 stand-ins for every FROM line in images/*/Dockerfile
#   hack/base-images.sh NAME[:TAG]...   just those
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DOCKER="$(command -v /usr/bin/docker || command -v docker)"
IMG_CACHE="$CACHE/images"; mkdir -p "$IMG_CACHE" "$CACHE/logs"
logf="$CACHE/logs/base-images.log"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
LABEL="dev.flalliance.stand-in=true"

present() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

HOST_BUNDLE=/etc/ssl/certs/ca-certificates.crt
CA_ENV=(SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
        PIP_CERT=/etc/ssl/certs/ca-certificates.crt NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt)

# add_host_cas ROOTFS: certificates of the host bundle missing from the rootfs bundle -> the rootfs's
# /usr/local/share/ca-certificates, then update-ca-certificates inside it.
add_host_cas() {
  [[ -f "$HOST_BUNDLE" ]] || return 0
  python3 - "$HOST_BUNDLE" "$1" <<'PY'
import pathlib, re, sys
pem = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)
host = pem.findall(pathlib.Path(sys.argv[1]).read_text())
root = pathlib.Path(sys.argv[2])
have = set(pem.findall((root / "etc/ssl/certs/ca-certificates.crt").read_text()))
extra = [c for c in host if c not in have]
out = root / "usr/local/share/ca-certificates"
out.mkdir(parents=True, exist_ok=True)
for i, cert in enumerate(extra):
    (out / f"flalliance-host-{i}.crt").write_text(cert + "\n")
print(f"{len(extra)} host CA certificate(s) added", file=sys.stderr)
PY
  chroot "$1" update-ca-certificates >>"$logf" 2>&1
}

debian_slim() {
  local ca_key=none
  [[ -f "$HOST_BUNDLE" ]] && ca_key="$(sha256sum "$HOST_BUNDLE" | cut -c1-12)"
  local rootfs_tar="$IMG_CACHE/debian-bookworm-slim-rootfs-ca$ca_key.tar"
  if [[ ! -f "$rootfs_tar" || "${REBUILD:-0}" == 1 ]]; then
    log "debootstrap Debian bookworm (minbase) for the debian:bookworm-slim stand-in (log: $logf)"
    local dir; dir="$(mktemp -d /var/tmp/flalliance-debootstrap.XXXXXX)"
    heavy debootstrap --variant=minbase --include=ca-certificates bookworm "$dir" "$MIRROR" >>"$logf" 2>&1 \
      || { rm -rf "$dir"; die_component "debian:bookworm-slim stand-in" "$logf" "debootstrap failed"; }
    rm -f "$dir/etc/apt/sources.list"
    cat >"$dir/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb
URIs: $MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    # As in the official slim image: no docs, man pages or translations; apt caches cleaned after installs.
    cat >"$dir/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
CFG
    cat >"$dir/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
CFG
    echo 'Acquire::Languages "none";' >"$dir/etc/apt/apt.conf.d/docker-no-languages"
    find "$dir/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
    rm -rf "$dir"/usr/share/{man,info,locale}/* "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin \
           "$dir"/var/cache/apt/archives/*.deb "$dir"/var/log/* "$dir"/tmp/* "$dir/debootstrap"
    : >"$dir/etc/machine-id"; echo "localhost" >"$dir/etc/hostname"
    add_host_cas "$dir" 2>>"$logf" || { rm -rf "$dir"; die_component "debian:bookworm-slim stand-in" "$logf" "adding the host's CA certificates failed"; }
    tar --numeric-owner -C "$dir" -cf "$rootfs_tar.tmp" . && mv "$rootfs_tar.tmp" "$rootfs_tar"
    rm -rf "$dir"
  fi
  local changes=(--change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
                 --change "LABEL $LABEL")
  local e; for e in "${CA_ENV[@]}"; do changes+=(--change "ENV $e"); done
  "$DOCKER" import "${changes[@]}" "$rootfs_tar" debian:bookworm-slim >>"$logf" 2>&1 \
    || die_component "debian:bookworm-slim stand-in" "$logf" "docker import failed"
}

python_slim() {
  ensure debian:bookworm-slim
  log "building the python:3.11-slim stand-in (Debian's python3 + venv) (log: $logf)"
  heavy "$DOCKER" build --label "$LABEL" -t python:3.11-slim - >>"$logf" 2>&1 <<'DOCKERFILE' \
    || die_component "python:3.11-slim stand-in" "$logf" "docker build failed"
FROM debian:bookworm-slim
ENV LANG=C.UTF-8
# Debian bookworm's python3 is 3.11. A venv at /usr/local gives the official image's layout: python,
# python3 and pip in /usr/local/bin, packages in /usr/local/lib/python3.11/site-packages, and pip installs
# allowed (Debian's system python refuses them: PEP 668).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /usr/local \
 && /usr/local/bin/python -c 'import sys, ssl, sqlite3; assert sys.version_info[:2] == (3, 11), sys.version' \
 && /usr/local/bin/pip --version \
 && find /usr/local -name '__pycache__' -prune -exec rm -rf {} +
ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin PYTHON_VERSION=3.11
CMD ["python3"]
DOCKERFILE
}

# ensure REF: make REF present (stand-in, alias of a stand-in, or error naming what to do).
ensure() {
  local ref="$1"
  [[ "$ref" == *:* ]] || ref="$ref:latest"
  local r; for r in "${REBUILT[@]}"; do [[ "$r" == "$ref" ]] && return 0; done   # done in this run
  if [[ "${REBUILD:-0}" != 1 ]] && present "$ref"; then return 0; fi
  case "$ref" in
    debian:bookworm-slim) debian_slim ;;
    debian:bookworm|debian:12-slim|debian:12|debian:bookworm-*-slim)
      ensure debian:bookworm-slim; "$DOCKER" tag debian:bookworm-slim "$ref" ;;
    python:3.11-slim) python_slim ;;
    python:3.11-slim-bookworm|python:3.11|python:3.11-bookworm)
      ensure python:3.11-slim; "$DOCKER" tag python:3.11-slim "$ref" ;;
    *) die "base image '$ref' is not present and has no stand-in (hack/base-images.sh knows debian:bookworm[-slim], python:3.11[-slim]); use one of those or add a stand-in" ;;
  esac
  REBUILT+=("$ref")
}

"$HACK/docker-up.sh"
REBUILT=()
bases=("$@")
if (( ${#bases[@]} == 0 )); then
  for df in "$REPO_ROOT"/images/*/Dockerfile; do
    [[ -f "$df" ]] || continue
    # FROM [--platform=x] IMAGE [AS name]; skip scratch, build args and earlier stage names.
    stages=()
    while read -r img alias; do
      [[ "$img" == scratch || "$img" == *'$'* ]] && continue
      # The project's own images (FROM flalliance/worker:dev): images.sh builds them, in order, itself.
      [[ "$img" == flalliance/* ]] && continue
      skip=0; for s in "${stages[@]}"; do [[ "$s" == "$img" ]] && skip=1; done
      (( skip )) || bases+=("$img")
      [[ -n "$alias" ]] && stages+=("$alias")
    done < <(awk 'toupper($1)=="FROM" {i=2; if ($i ~ /^--/) i++; a=""; if (toupper($(i+1))=="AS") a=$(i+2); print $i, a}' "$df")
  done
fi
mapfile -t bases < <(printf '%s\n' "${bases[@]}" | sort -u)
for b in "${bases[@]}"; do [[ -n "$b" ]] && ensure "$b"; done
(( ${#REBUILT[@]} )) && log "stand-in base images ready: ${REBUILT[*]}"
exit 0

#!/usr/bin/env python3
"""Import a Docker image into the local cluster's containerd, sending only the layers it lacks.

`docker save | ctr images import` re-ingests every layer each time (Debian's Docker 20.10 writes the legacy
archive, whose layers carry no digest up front), so reloading the 3.7 GB worker image after a one-line
source change wrote 3.5 GB of temporary ingest data. Here one pass over `docker save` is re-written on the
fly as an OCI archive that holds the config, the manifest and only the layers containerd lacks (`ctr
content ls`), piped into `ctr images import`; containerd finds the other layers, and their unpacked
snapshots, by digest (for Docker's uncompressed layers the blob digest is the layer's diff ID).

A layer's digest must be written before its bytes, so each archive path (`<v1 id>/layer.tar`, derived from
the layer's content and its parents) is mapped to its digest in a small cache the first time it is seen
(hashed through a spool file then); after that a known layer is skipped or streamed without a copy.
The image keeps Docker's image ID (the config digest), which `cluster-load.sh` compares.

    ctr_import.py --image flalliance/worker:dev --ctr-address /run/.../containerd.sock \
        --cache /var/cache/flalliance/layer-digests.json [--docker docker]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import IO, Any

LAYER = "application/vnd.oci.image.layer.v1.tar"
CONFIG = "application/vnd.oci.image.config.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CHUNK = 1 << 20
SPOOL_LIMIT = 256 << 20  # a first-seen layer larger than this is hashed without a copy, then sent next pass


class SecondPass(Exception):
    """A large first-seen layer is missing from containerd: its digest is known now; stream it again."""


def _add(out: tarfile.TarFile, name: str, data: bytes | None = None, src: IO[bytes] | None = None,
         size: int = 0) -> None:  # fmt: skip
    info = tarfile.TarInfo(name)
    info.size = len(data) if data is not None else size
    info.mtime = int(time.time())
    out.addfile(info, io.BytesIO(data) if data is not None else src)


def _blob(data: bytes, media: str) -> tuple[str, dict[str, Any]]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    return digest, {"mediaType": media, "digest": digest, "size": len(data)}


def convert(save: IO[bytes], out: tarfile.TarFile, name: str, have: set[str], known: dict[str, str],
            spool_dir: str) -> tuple[int, int, int]:  # fmt: skip
    """docker-save stream -> OCI archive with only missing layers. Returns (layers, sent, bytes sent)."""
    sizes: dict[str, int] = {}
    digests: dict[str, str] = {}
    jsons: dict[str, bytes] = {}
    sent: set[str] = set()
    sent_bytes = 0
    _add(out, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
    with tarfile.open(fileobj=save, mode="r|") as tar:
        for member in tar:
            if not member.isfile():
                continue
            src = tar.extractfile(member)
            assert src is not None
            if member.name.endswith(".json") and "/" not in member.name:
                jsons[member.name] = src.read()
                continue
            if not member.name.endswith("/layer.tar"):
                continue
            digest = known.get(member.name)
            if digest is None and member.size > SPOOL_LIMIT:  # first sight of a big layer: hash, no copy
                h = hashlib.sha256()
                while chunk := src.read(CHUNK):
                    h.update(chunk)
                digest = known[member.name] = "sha256:" + h.hexdigest()
                if digest not in have:
                    raise SecondPass(member.name)
            if digest is None:  # first sight of a small layer: hash it through a spool file, send if needed
                with tempfile.TemporaryFile(dir=spool_dir) as spool:
                    h = hashlib.sha256()
                    while chunk := src.read(CHUNK):
                        h.update(chunk)
                        spool.write(chunk)
                    digest = known[member.name] = "sha256:" + h.hexdigest()
                    spool.seek(0)
                    if digest not in have and digest not in sent:
                        _add(out, f"blobs/sha256/{digest[7:]}", src=spool, size=member.size)
                        sent.add(digest)
                        sent_bytes += member.size
            elif digest not in have and digest not in sent:
                _add(out, f"blobs/sha256/{digest[7:]}", src=src, size=member.size)
                sent.add(digest)
                sent_bytes += member.size
            digests[member.name], sizes[digest] = digest, member.size
    (archive,) = json.loads(jsons["manifest.json"])
    config = jsons[archive["Config"]]
    config_digest, config_desc = _blob(config, CONFIG)
    _add(out, f"blobs/sha256/{config_digest[7:]}", config)
    layers = [digests[p] for p in archive["Layers"]]
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": config_desc,
        "layers": [{"mediaType": LAYER, "digest": d, "size": sizes[d]} for d in layers],
    }
    raw = json.dumps(manifest, separators=(",", ":")).encode()
    manifest_digest, desc = _blob(raw, MANIFEST)
    _add(out, f"blobs/sha256/{manifest_digest[7:]}", raw)
    desc["annotations"] = {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": name}
    _add(out, "index.json", json.dumps({"schemaVersion": 2, "manifests": [desc]}).encode())
    return len(layers), len(sent), sent_bytes


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--image", required=True, help="Docker image, e.g. flalliance/worker:dev")
    p.add_argument("--ctr-address", required=True)
    p.add_argument("--cache", type=Path, required=True, help="JSON file: archive layer path -> digest")
    p.add_argument("--docker", default="docker")
    args = p.parse_args()
    first = args.image.split("/")[0]
    name = args.image if "." in first or ":" in first else f"docker.io/{args.image}"  # as Docker names it
    ctr = ["ctr", "--address", args.ctr_address, "-n", "k8s.io"]
    listing = subprocess.run([*ctr, "content", "ls", "-q"], capture_output=True, text=True, check=True).stdout
    have = {line.strip() for line in listing.splitlines() if line.strip()}
    known: dict[str, str] = json.loads(args.cache.read_text()) if args.cache.is_file() else {}
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    for _attempt in (1, 2):
        save = subprocess.Popen([args.docker, "save", args.image], stdout=subprocess.PIPE)
        importer = subprocess.Popen([*ctr, "images", "import", "-"], stdin=subprocess.PIPE)
        assert save.stdout is not None and importer.stdin is not None
        try:
            with tarfile.open(fileobj=importer.stdin, mode="w|", format=tarfile.PAX_FORMAT) as out:
                total, sent, size = convert(save.stdout, out, name, have, known, str(args.cache.parent))
        except SecondPass as big:
            # Abandon this import (containerd keeps no image from a truncated archive) and go again.
            importer.kill()
            save.kill()
            importer.wait()
            save.wait()
            _save_cache(args.cache, known)
            print(f"ctr_import: {big} first seen and missing: a second pass sends it", flush=True)
            continue
        importer.stdin.close()
        _save_cache(args.cache, known)
        if save.wait() != 0:
            sys.exit(f"ctr_import: docker save {args.image} exited with {save.returncode}")
        if importer.wait() != 0:
            sys.exit(f"ctr_import: ctr images import exited with {importer.returncode}")
        print(f"ctr_import: {name}: sent {sent} of {total} layers ({size / 2**20:.0f} MiB)", flush=True)
        return
    sys.exit("ctr_import: layers still unknown after two passes")


def _save_cache(path: Path, known: dict[str, str]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(known, indent=0))
    tmp.replace(path)


if __name__ == "__main__":
    main()

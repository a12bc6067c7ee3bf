#!/usr/bin/env python3
"""Write a single-layer container image as a `docker save` archive, without Docker or a registry.

The cluster needs two images before any image build runs: the pod sandbox (pause) and CoreDNS. Both are
one static binary, so a one-layer image written here is enough, and `make cluster` does not depend on a
Docker daemon. containerd imports the archive with `ctr -n k8s.io images import`.

    oci_image.py --name flalliance.local/pause:v1.35.8 --out pause.tar \
        --file /path/to/pause:/pause:0755 --entrypoint /pause --user 65535:65535
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import tarfile


def _layer(files: list[tuple[str, str, int]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs: set[str] = set()
        for _src, dst, _mode in files:
            parts = dst.strip("/").split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
                    tar.addfile(info)
        for src, dst, mode in files:
            with open(src, "rb") as fh:
                data = fh.read()
            info = tarfile.TarInfo(dst.strip("/"))
            info.size, info.mode, info.mtime = len(data), mode, 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def build(name: str, files: list[tuple[str, str, int]], entrypoint: list[str], user: str, out: str) -> None:
    layer = _layer(files)
    layer_digest = hashlib.sha256(layer).hexdigest()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": entrypoint, "User": user, "Env": ["PATH=/"]},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_digest}"]},
        "history": [{"created_by": "hack/oci_image.py", "created": "1970-01-01T00:00:00Z"}],
        "created": "1970-01-01T00:00:00Z",
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": [name], "Layers": [f"{layer_digest}/layer.tar"]}]
    with tarfile.open(out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, data in (
            (config_name, config_bytes),
            (f"{layer_digest}/layer.tar", layer),
            ("manifest.json", json.dumps(manifest).encode()),
        ):
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", required=True, help="image reference, e.g. flalliance.local/pause:v1.35.8")
    ap.add_argument("--out", required=True, help="archive to write")
    ap.add_argument("--file", action="append", required=True, help="SRC:DST:OCTALMODE (repeatable)")
    ap.add_argument("--entrypoint", action="append", required=True, help="entrypoint word (repeatable)")
    ap.add_argument("--user", default="65532:65532")
    args = ap.parse_args()
    files = []
    for spec in args.file:
        src, dst, mode = spec.rsplit(":", 2)
        files.append((src, dst, int(mode, 8)))
    build(args.name, files, args.entrypoint, args.user, args.out)


if __name__ == "__main__":
    main()

"""hack/oci_image.py writes a `docker save` archive that containerd can import: check its structure."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import tarfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

_SPEC = importlib.util.spec_from_file_location(
    "oci_image", Path(__file__).resolve().parents[3] / "hack" / "oci_image.py"
)
assert _SPEC and _SPEC.loader
oci_image = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(oci_image)


def test_archive_has_manifest_config_and_a_layer_whose_digest_matches(tmp_path: Path) -> None:
    binary = tmp_path / "pause"
    binary.write_bytes(b"\x7fELF-not-really")
    out = tmp_path / "img.tar"
    oci_image.build(
        "flalliance.local/pause:v1", [(str(binary), "/bin/pause", 0o755)], ["/bin/pause"], "65535", str(out)
    )

    with tarfile.open(out) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        assert manifest[0]["RepoTags"] == ["flalliance.local/pause:v1"]
        config_bytes = tar.extractfile(manifest[0]["Config"]).read()  # type: ignore[union-attr]
        layer = tar.extractfile(manifest[0]["Layers"][0]).read()  # type: ignore[union-attr]
    config = json.loads(config_bytes)
    assert config["rootfs"]["diff_ids"] == [f"sha256:{hashlib.sha256(layer).hexdigest()}"]
    assert config["config"]["Entrypoint"] == ["/bin/pause"]
    assert config["config"]["User"] == "65535"
    assert manifest[0]["Config"] == hashlib.sha256(config_bytes).hexdigest() + ".json"
    with tarfile.open(fileobj=io.BytesIO(layer)) as lt:
        member = lt.getmember("bin/pause")
        assert member.mode == 0o755
        assert lt.extractfile(member).read() == b"\x7fELF-not-really"  # type: ignore[union-attr]
        assert lt.getmember("bin").isdir()


def test_same_inputs_give_the_same_archive(tmp_path: Path) -> None:
    binary = tmp_path / "b"
    binary.write_bytes(b"x")
    digests = []
    for name in ("a.tar", "b.tar"):
        oci_image.build("x/y:z", [(str(binary), "/b", 0o755)], ["/b"], "1", str(tmp_path / name))
        digests.append(hashlib.sha256((tmp_path / name).read_bytes()).hexdigest())
    assert digests[0] == digests[1]

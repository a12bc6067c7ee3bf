from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from flalliance.fl.plugin import PluginError
from flalliance.fl.plugins.lora_base import fetch_directory, manifest_hash, put_directory, verify_directory

pytestmark = pytest.mark.unit


def _model_dir(tmp_path: Path) -> Path:
    d = tmp_path / "base"
    d.mkdir()
    (d / "config.json").write_text('{"model_type": "llama"}')
    (d / "model.safetensors").write_bytes(b"\x00" * 100)
    (d / "tokenizer.json").write_text("{}")
    return d


class _Store:
    def __init__(self) -> None:
        self.objects: dict[bytes, bytes] = {}

    def put(self, data: bytes) -> bytes:
        digest = hashlib.sha256(data).digest()
        self.objects[digest] = data
        return digest

    def get(self, digest: bytes, max_bytes: int) -> bytes:
        data = self.objects[digest]
        assert len(data) <= max_bytes
        return data


def test_manifest_hash_pins_every_byte_and_name(tmp_path: Path) -> None:
    d = _model_dir(tmp_path)
    h = manifest_hash(d)
    verify_directory(d, h)
    (d / "tokenizer.json").write_text("{ }")
    with pytest.raises(PluginError, match=rf"config.base_model.sha256: the training logic pins {h}"):
        verify_directory(d, h)


@pytest.mark.parametrize("name", ["pytorch_model.bin", "weights.pkl"])
def test_pickled_weights_are_refused(tmp_path: Path, name: str) -> None:
    d = _model_dir(tmp_path)
    (d / name).write_bytes(b"x")
    with pytest.raises(PluginError, match=f"{name} is not one of"):
        manifest_hash(d)


def test_links_and_folders_are_refused(tmp_path: Path) -> None:
    d = _model_dir(tmp_path)
    (d / "extra.json").symlink_to("/etc/hostname")
    with pytest.raises(PluginError, match=r"not a plain file"):
        manifest_hash(d)


def test_store_round_trip_checks_every_file(tmp_path: Path) -> None:
    d = _model_dir(tmp_path)
    store = _Store()
    h = put_directory(d, store.put)
    assert h == manifest_hash(d)
    got = fetch_directory(h, store.get, tmp_path / "cache", max_bytes=10_000)
    assert manifest_hash(got) == h
    assert fetch_directory(h, store.get, tmp_path / "cache", max_bytes=10_000) == got  # cached
    with pytest.raises(PluginError, match=r"larger than 50 bytes"):
        fetch_directory(h, store.get, tmp_path / "cache2", max_bytes=50)


def test_a_tampered_store_object_is_refused(tmp_path: Path) -> None:
    d = _model_dir(tmp_path)
    store = _Store()
    h = put_directory(d, store.put)
    weights = hashlib.sha256(b"\x00" * 100).digest()
    store.objects[weights] = b"\x01" * 100  # the store serves other bytes under that name
    with pytest.raises(PluginError, match=r"model.safetensors from the store does not match"):
        fetch_directory(h, store.get, tmp_path / "cache", max_bytes=10_000)

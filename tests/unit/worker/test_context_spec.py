"""Where a worker gets the training logic: the store, else the operator's published file (verified)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from flalliance.fl.spec import canonical_json, parse_spec
from flalliance.store.base import ObjectNotFound
from flalliance.store.local import LocalStore
from flalliance.worker.context import MAX_SPEC_BYTES, PermanentError, WorkerContext
from flalliance.worker.settings import WorkerSettings

pytestmark = pytest.mark.unit

SPEC = {
    "dataset": {"source": "participant", "feature_shape": [64], "num_classes": 10},
    "model": {"kind": "logreg"},
    "training": {"epochs": 2, "batch_size": 16, "optimizer": {"kind": "sgd", "learning_rate": 0.1}},
}
DATA = canonical_json(parse_spec(json.dumps(SPEC)))
DIGEST = hashlib.sha256(DATA).digest()


class _Task:
    """The on-chain config is all `spec` reads from the chain."""

    def __init__(self, digest: bytes) -> None:
        self.digest = digest

    def config(self) -> SimpleNamespace:
        return SimpleNamespace(training_logic_hash=self.digest)


def context(tmp_path: Path, logic_file: Path | None, digest: bytes = DIGEST) -> WorkerContext:
    settings = WorkerSettings(
        rpc_url="http://unused",
        task="0x" + "1" * 40,
        key_file=tmp_path / "key",
        store_url=f"file://{tmp_path / 'store'}",
        training_logic_file=logic_file,
    )
    ctx = WorkerContext(settings)
    ctx.__dict__["task"] = _Task(digest)  # a cached_property: set the chain's answer directly
    return ctx


def test_spec_from_the_store_needs_no_file(tmp_path: Path) -> None:
    LocalStore(tmp_path / "store").put(DATA)
    spec = context(tmp_path, tmp_path / "does-not-exist.json").spec
    assert spec.model.kind == "logreg"


def test_spec_falls_back_to_the_published_file_and_is_put_into_the_store(tmp_path: Path) -> None:
    published = tmp_path / "training-logic.json"
    published.write_bytes(DATA)
    store = LocalStore(tmp_path / "store")
    with pytest.raises(ObjectNotFound):
        store.get(DIGEST, max_bytes=MAX_SPEC_BYTES)
    spec = context(tmp_path, published).spec
    assert spec.training.epochs == 2
    assert store.get(DIGEST, max_bytes=MAX_SPEC_BYTES) == DATA  # later readers find it in the store
    published.unlink()
    assert context(tmp_path, published).spec == spec  # ... without the file


def test_a_file_that_does_not_match_the_chain_is_refused_naming_both_hashes(tmp_path: Path) -> None:
    published = tmp_path / "training-logic.json"
    other = canonical_json(parse_spec(json.dumps({**SPEC, "model": {"kind": "mlp"}})))
    published.write_bytes(other)
    with pytest.raises(PermanentError) as caught:
        context(tmp_path, published).spec  # noqa: B018 - the property is the code under test
    message = str(caught.value)
    assert str(published) in message
    assert "0x" + DIGEST.hex() in message and "0x" + hashlib.sha256(other).hexdigest() in message
    assert not (tmp_path / "store" / "sha256" / hashlib.sha256(other).hexdigest()[:2]).exists()


def test_an_oversized_or_missing_file_is_a_permanent_error_naming_it(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (MAX_SPEC_BYTES + 1))
    with pytest.raises(PermanentError, match=f"{big} is larger than {MAX_SPEC_BYTES} bytes"):
        context(tmp_path, big).spec  # noqa: B018
    missing = tmp_path / "missing.json"
    with pytest.raises(PermanentError, match=f"training logic file {missing}"):
        context(tmp_path, missing).spec  # noqa: B018


def test_without_a_file_a_missing_spec_names_the_store(tmp_path: Path) -> None:
    with pytest.raises(PermanentError, match=f"0x{DIGEST.hex()} is not in file://"):
        context(tmp_path, None).spec  # noqa: B018


def test_the_file_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    from flalliance.worker.settings import add_arguments, from_args

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    monkeypatch.setenv("FLALLIANCE_RPC_URL", "http://chain:8545")
    monkeypatch.setenv("FLALLIANCE_TASK", "0x" + "1" * 40)
    monkeypatch.setenv("FLALLIANCE_KEY_FILE", "/var/run/key")
    monkeypatch.setenv("FLALLIANCE_TRAINING_LOGIC_FILE", "/var/run/flalliance/training-logic/x.json")
    settings = from_args(parser.parse_args([]))
    assert settings.training_logic_file == Path("/var/run/flalliance/training-logic/x.json")

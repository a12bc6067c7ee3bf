"""What every worker command needs: the wallet, the chain, the store, the verified spec and the data.

Loaded lazily and in this order, so a command fails on the first thing it lacks, with an error naming it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from flalliance.chain.client import ChainClient
from flalliance.chain.keys import load_private_key
from flalliance.chain.models import hash_bytes
from flalliance.chain.task import TaskClient
from flalliance.store import RetryingStore, open_store
from flalliance.store.base import ArtifactStore
from flalliance.worker.settings import WorkerSettings

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from flalliance.fl.plugin import Samples, TrainingPlugin
    from flalliance.fl.spec import TrainingLogicSpec
    from flalliance.fl.weights import Tensors

log = logging.getLogger(__name__)


class PermanentError(Exception):
    """Retrying cannot help (wrong spec, bad data, wrong role): exit code 2."""


# The most a training-logic spec may weigh, in the store or in the published file.
MAX_SPEC_BYTES = 1024 * 1024


def read_training_logic_file(path: Path, expected: bytes) -> bytes:
    """The published training logic's bytes, size-limited and checked against the on-chain hash."""
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise PermanentError(f"training logic file {path}: {exc.strerror or exc}") from exc
    if len(data) > MAX_SPEC_BYTES:
        raise PermanentError(f"training logic file {path} is larger than {MAX_SPEC_BYTES} bytes")
    actual = hashlib.sha256(data).digest()
    if actual != expected:
        raise PermanentError(
            f"training logic file {path} has sha256 0x{actual.hex()}, but the task's on-chain "
            f"trainingLogicHash is 0x{expected.hex()}"
        )
    return data


@dataclass
class WorkerContext:
    settings: WorkerSettings
    _splits: tuple[Samples, Samples] | None = field(default=None, repr=False)

    @cached_property
    def account(self) -> LocalAccount:
        return load_private_key(self.settings.key_file)

    @property
    def address(self) -> str:
        return str(self.account.address)

    @cached_property
    def chain(self) -> ChainClient:
        return ChainClient(
            self.settings.rpc_url,
            self.account,
            chain_id=self.settings.chain_id,
            confirmations=self.settings.confirmations,
            timeout=self.settings.receipt_timeout,
        )

    @cached_property
    def task(self) -> TaskClient:
        return TaskClient(self.chain, self.settings.task)

    @cached_property
    def store(self) -> ArtifactStore:
        if not self.settings.store_url:
            raise PermanentError("no artifact store configured (--store-url / FLALLIANCE_STORE_URL)")
        return RetryingStore(open_store(self.settings.store_url), self.settings.store_retry_seconds)

    @cached_property
    def spec(self) -> TrainingLogicSpec:
        """The training logic, fetched by the on-chain hash and verified against it.

        From the store; when the store does not hold it yet, from the file the operator published (the
        task's ConfigMap, mounted), which is then put into the store so every later reader finds it there
        (puts are content-addressed, so concurrent workers doing the same is harmless)."""
        from flalliance.fl.spec import SpecError, load_verified_spec
        from flalliance.store.base import ObjectNotFound

        expected = hash_bytes(self.task.config().training_logic_hash)
        try:
            data = self.store.get(expected, max_bytes=MAX_SPEC_BYTES)
            from_file = False
        except ObjectNotFound as exc:
            if self.settings.training_logic_file is None:
                raise PermanentError(
                    f"training logic 0x{expected.hex()} is not in {self.store.describe()}"
                ) from exc
            data = read_training_logic_file(self.settings.training_logic_file, expected)
            from_file = True
        try:
            spec = load_verified_spec(data, expected)
        except SpecError as exc:
            raise PermanentError(str(exc)) from exc
        if from_file:
            self.store.put(data)
            log.info("training logic 0x%s put into %s", expected.hex(), self.store.describe())
        return spec

    @cached_property
    def plugin(self) -> TrainingPlugin:
        """The spec's training plugin, once the running image and plugin are checked against the spec."""
        from flalliance.fl.plugin import PluginError
        from flalliance.fl.plugins import check_runtime

        try:
            plugin = check_runtime(self.spec, self.settings.worker_image)
            plugin.prepare(self.spec, self._fetch, self.settings.data_dir, self.settings.work_dir)
        except PluginError as exc:
            raise PermanentError(str(exc)) from exc
        return plugin

    def _fetch(self, digest: bytes, max_bytes: int) -> bytes:
        """An object the plugin needs (a base-model file), hash- and size-limited by the store."""
        return self.store.get(digest, max_bytes=max_bytes)

    def _load_splits(self) -> tuple[Samples, Samples]:
        from flalliance.fl.dataset import DataError
        from flalliance.fl.private_split import private_split

        if self.settings.data_dir is None:
            raise PermanentError("no dataset directory (--data-dir / FLALLIANCE_DATA_DIR)")
        try:
            data = self.plugin.load_data(self.spec, self.settings.data_dir)
            return private_split(
                data,
                secret=bytes(self.account.key),
                task=bytes.fromhex(self.settings.task[2:]),
                test_fraction=self.spec.validation.test_fraction,
            )
        except DataError as exc:
            raise PermanentError(f"dataset: {exc}") from exc

    @property
    def train_split(self) -> Samples:
        if self._splits is None:
            self._splits = self._load_splits()
        return self._splits[0]

    @property
    def test_split(self) -> Samples:
        if self._splits is None:
            self._splits = self._load_splits()
        return self._splits[1]

    def _checked_model(self, model_hash: str) -> Tensors:
        """A model from the store, hash-, shape-, size- and finiteness-checked (raises StoreError or
        WeightsError)."""
        from flalliance.fl.weights import decode

        digest = hash_bytes(model_hash)
        data = self.store.get(digest, max_bytes=self.spec.max_model_bytes)
        return decode(
            data,
            self.plugin.architecture(self.spec),
            max_bytes=self.spec.max_model_bytes,
            expected_hash=digest,
        )

    def published_models(self, model_hashes: Sequence[str]) -> list[Tensors]:
        """The models among ``model_hashes`` that the store has and that pass every check (others are
        skipped: what a participant reads of its peers is never trusted)."""
        from flalliance.fl.weights import WeightsError
        from flalliance.store.base import StoreError

        out = []
        for model_hash in model_hashes:
            try:
                out.append(self._checked_model(model_hash))
            except (WeightsError, StoreError) as exc:
                log.warning("published model %s skipped: %s", model_hash, exc)
        return out

    def global_model(self, model_hash: str) -> Tensors:
        """The current global model from the store, hash-, shape-, size- and finiteness-checked."""
        from flalliance.fl.weights import WeightsError

        try:
            return self._checked_model(model_hash)
        except WeightsError as exc:
            raise PermanentError(f"global model {model_hash} is unusable: {exc}") from exc

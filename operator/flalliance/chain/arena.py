"""A small client for the AI Arena registry (the IArena the factory reads)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from web3.contract import Contract
from web3.types import TxReceipt

from flalliance.chain.client import ChainClient
from flalliance.chain.models import Hash32, hash_bytes


class ArenaTask(BaseModel):
    """Mirror of ``IArena.ArenaTask``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    exists: bool
    finished: bool
    total_reward: int
    model_hash: Hash32


class ArenaClient:
    """The ArenaRegistry at ``address``; registering and finishing tasks needs its owner's account."""

    def __init__(self, client: ChainClient, address: str) -> None:
        self.client = client
        self.contract: Contract = client.contract(address, "ArenaRegistry")
        self.address: str = str(self.contract.address)

    def task(self, arena_task_id: int) -> ArenaTask:
        raw = self.client.call(self.contract.functions.arenaTask(arena_task_id))
        return ArenaTask(exists=raw[0], finished=raw[1], total_reward=raw[2], model_hash=raw[3])

    def register(self, arena_task_id: int, total_reward: int) -> TxReceipt:
        return self.client.transact(self.contract.functions.registerTask(arena_task_id, total_reward))

    def finish(self, arena_task_id: int, model_hash: str | bytes) -> TxReceipt:
        fn = self.contract.functions.finishTask(arena_task_id, hash_bytes(model_hash))
        return self.client.transact(fn)

"""A client for FLTaskFactory: create FL tasks from finished Arena tasks, list the registry."""

from __future__ import annotations

import secrets

from eth_utils.address import to_checksum_address
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from flalliance.chain.client import ChainClient
from flalliance.chain.errors import TransactionFailed
from flalliance.chain.models import TaskParams, hash_bytes
from flalliance.chain.token import TokenClient


class FactoryClient:
    """The factory at ``address``; the client's account is the funder of the tasks it creates."""

    def __init__(self, client: ChainClient, address: str) -> None:
        self.client = client
        self.contract: Contract = client.contract(address, "FLTaskFactory")
        self.address: str = str(self.contract.address)
        self.last_receipt: TxReceipt | None = None

    def token(self) -> TokenClient:
        return TokenClient(self.client, str(self.client.call(self.contract.functions.token())))

    def reward_for(self, arena_task_id: int) -> int:
        """The reward a task from Arena task ``arena_task_id`` escrows (reverts unless it is finished)."""
        return int(self.client.call(self.contract.functions.rewardFor(arena_task_id)))

    def predict_task(self, creator: str, salt: bytes) -> str:
        """The address a task that ``creator`` creates with ``salt`` has (or will have)."""
        fn = self.contract.functions.predictTask(to_checksum_address(creator), salt)
        return str(to_checksum_address(self.client.call(fn)))

    def create_task(
        self,
        arena_task_id: int,
        params: TaskParams,
        training_logic_hash: str | bytes,
        *,
        approve: bool = True,
        salt: bytes | None = None,
    ) -> str:
        """Create a task and return its address. Approves the factory for the reward first (unless
        ``approve`` is False or the allowance already suffices); the reward moves into the new task.

        The address is fixed by (this account, ``salt``): pass a salt derived from what the task is for, so
        that a retry after an unrecorded success finds the task (`predict_task`) instead of paying twice;
        without one, a random salt makes every call a new task.
        """
        if salt is None:
            salt = secrets.token_bytes(32)
        if len(salt) != 32:
            raise ValueError(f"salt must be 32 bytes, got {len(salt)}")
        if approve:
            self.token().ensure_allowance(self.address, self.reward_for(arena_task_id))
        fn = self.contract.functions.createTask(
            arena_task_id, params.to_abi(), hash_bytes(training_logic_hash), salt
        )
        receipt = self.client.transact(fn)
        self.last_receipt = receipt
        events = self.contract.events.TaskCreated().process_receipt(receipt, errors=DISCARD)
        if not events:
            raise TransactionFailed("createTask mined without a TaskCreated event", tx_hash=None)
        return str(to_checksum_address(events[0]["args"]["task"]))

    def task_count(self) -> int:
        return int(self.client.call(self.contract.functions.taskCount()))

    def tasks(self, start: int = 0, count: int = 2**32) -> list[str]:
        return [str(a) for a in self.client.call(self.contract.functions.tasks(start, count))]

    def reward_share_bps(self) -> int:
        return int(self.client.call(self.contract.functions.rewardShareBps()))

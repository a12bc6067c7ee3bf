"""A typed client for one FLTask contract: views as pydantic models, submissions as checked transactions.

Thin by design: every rule lives in the contract (reverts come back as
:class:`~flalliance.chain.errors.ContractRevert` naming the custom error), and every read returns one of the
mirrors in :mod:`flalliance.chain.models`. The operator reads a task in a handful of calls: ``state()``,
``participant(addr)``, ``role_of(round, addr)`` and, while voting, ``proposals(round)``.
"""

from __future__ import annotations

from eth_utils.address import to_checksum_address
from web3.contract import Contract
from web3.types import TxReceipt

from flalliance.chain.client import ChainClient
from flalliance.chain.codec import EncodedFunctions
from flalliance.chain.models import (
    ParticipantInfo,
    Proposal,
    Role,
    RoundInfo,
    TaskConfig,
    TaskState,
    from_abi,
    hash_bytes,
)
from flalliance.chain.token import TokenClient

REVEAL_GAS_HEADROOM = 60_000


class TaskClient:
    """One task contract, seen through ``client`` (whose account signs the transactions)."""

    def __init__(self, client: ChainClient, address: str) -> None:
        self.client = client
        self.contract: Contract = client.contract(address, "FLTask")
        self.address: str = str(self.contract.address)
        # Calls and transactions go through the codec (cheap per call, see `codec`); the web3 contract
        # stays for what reads its ABI as a whole: event decoding.
        self.fn = EncodedFunctions(client.w3, self.address, "FLTask")
        self._token: TokenClient | None = None

    def __repr__(self) -> str:
        return f"TaskClient({self.address}, as={self.client.address})"

    # ----------------------------------------------------------------------------------------------------
    # Views
    def config(self) -> TaskConfig:
        return from_abi(TaskConfig, self.client.call(self.fn.config()))

    def state(self) -> TaskState:
        return from_abi(TaskState, self.client.call(self.fn.state()))

    def round_info(self, round: int) -> RoundInfo:
        return from_abi(RoundInfo, self.client.call(self.fn.roundInfo(round)))

    def proposals(self, round: int) -> list[Proposal]:
        """Proposals of ``round`` in index order (kept on chain for the current and previous round)."""
        return [from_abi(Proposal, p) for p in self.client.call(self.fn.proposals(round))]

    def role_of(self, round: int, address: str) -> Role:
        return Role(self.client.call(self.fn.roleOf(round, _checksum(address))))

    def pioneer_of(self, round: int) -> str:
        return str(self.client.call(self.fn.pioneerOf(round)))

    def participant(self, address: str) -> ParticipantInfo:
        raw = self.client.call(self.fn.participant(_checksum(address)))
        return from_abi(ParticipantInfo, raw)

    def participants(self) -> list[str]:
        return [str(a) for a in self.client.call(self.fn.participants())]

    def token(self) -> TokenClient:
        """The task's stake and reward token, through the same client."""
        if self._token is None:
            self._token = TokenClient(self.client, self.config().token)
        return self._token

    # ----------------------------------------------------------------------------------------------------
    # Transactions (signed by the client's account)
    def join(self, amount: int, *, approve: bool = True) -> TxReceipt:
        """Stake ``amount`` and join; approves the task for ``amount`` first unless already allowed."""
        if approve:
            self.token().ensure_allowance(self.address, amount)
        return self.client.transact(self.fn.join(amount))

    def start_round(self) -> TxReceipt:
        return self.client.transact(self.fn.startRound())

    def submit_pioneer(self, model_hash: str | bytes) -> TxReceipt:
        return self.client.transact(self.fn.submitPioneer(hash_bytes(model_hash)))

    def propose(self, model_hash: str | bytes, samples: int) -> TxReceipt:
        return self.client.transact(self.fn.propose(hash_bytes(model_hash), samples))

    def commit_vote(self, commitment: str | bytes) -> TxReceipt:
        return self.client.transact(self.fn.commitVote(hash_bytes(commitment)))

    def reveal_vote(
        self, aggregate_hash: str | bytes, score: int, verdicts: int, salt: str | bytes
    ) -> TxReceipt:
        fn = self.fn.revealVote(hash_bytes(aggregate_hash), score, verdicts, hash_bytes(salt))
        # A reveal's cost depends on which reveals land before it (first writes to the round's tally slots,
        # a new leading aggregate): estimates taken concurrently can fall short, hence the headroom.
        return self.client.transact(fn, headroom=REVEAL_GAS_HEADROOM)

    def finalize_round(self) -> TxReceipt:
        return self.client.transact(self.fn.finalizeRound())

    def settle(self, account: str, max_rounds: int) -> TxReceipt:
        return self.client.transact(self.fn.settle(_checksum(account), max_rounds))

    def claim(self) -> TxReceipt:
        return self.client.transact(self.fn.claim())

    def withdraw(self) -> TxReceipt:
        return self.client.transact(self.fn.withdraw())

    def close(self) -> TxReceipt:
        return self.client.transact(self.fn.close())

    def refund_pool(self) -> TxReceipt:
        return self.client.transact(self.fn.refundPool())


def _checksum(address: str) -> str:
    return str(to_checksum_address(address))

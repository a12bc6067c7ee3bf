"""Drive a deployed system on a dev chain: funded accounts, a task from an Arena task, and its rounds.

For the contract tests, the gas benchmark and local simulations — never for production (it mints tokens
and moves the chain clock). Everything goes through the real clients (:class:`TaskClient`,
:class:`FactoryClient`), so what the harness does is exactly what an operator would send.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3.types import TxReceipt

from flalliance.chain.arena import ArenaClient
from flalliance.chain.client import ChainClient
from flalliance.chain.commitment import vote_commitment
from flalliance.chain.deploy import DeployedSystem
from flalliance.chain.factory import FactoryClient
from flalliance.chain.models import Phase, Role, Status, TaskParams
from flalliance.chain.task import TaskClient
from flalliance.chain.token import TokenClient

ETHER = 10**18


def derived_accounts(count: int, *, label: str = "flalliance-dev") -> list[LocalAccount]:
    """``count`` deterministic throw-away accounts (keys = keccak(label, i)); fast, unlike HD derivation.

    Dev chains only: anyone can recompute these keys.
    """
    accounts: list[LocalAccount] = []
    for i in range(count):
        key = keccak(f"{label}/{i}".encode())
        accounts.append(Account.from_key(key))
    return accounts


@dataclass
class Vote:
    """A voter's opening: what it commits to, then reveals."""

    aggregate_hash: bytes
    score: int
    verdicts: int
    salt: bytes = field(default_factory=lambda: secrets.token_bytes(32))


class DevTask:
    """One task and its participants' clients on a dev chain.

    ``owner`` deployed the system (owns token and Arena registry) and funds the task.
    """

    def __init__(
        self,
        owner: ChainClient,
        system: DeployedSystem,
        address: str,
        members: Sequence[ChainClient],
    ) -> None:
        self.owner = owner
        self.system = system
        self.task = TaskClient(owner, address)
        self.address = self.task.address
        self.members: dict[str, TaskClient] = {str(c.address): TaskClient(c, address) for c in members}
        self.factory_receipt: TxReceipt | None = None  # createTask's receipt, when created here

    # ----------------------------------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        owner: ChainClient,
        system: DeployedSystem,
        params: TaskParams,
        *,
        members: Sequence[ChainClient],
        arena_task_id: int = 1,
        arena_reward: int = 1_000 * ETHER,
        arena_model: bytes | None = None,
        training_logic_hash: bytes = b"\x11" * 32,
    ) -> DevTask:
        """Register and finish Arena task ``arena_task_id``, mint the reward to ``owner``, create a task."""
        arena = ArenaClient(owner, system.arena)
        if not arena.task(arena_task_id).exists:
            arena.register(arena_task_id, arena_reward)
            arena.finish(arena_task_id, arena_model or keccak(b"arena-model"))
        factory = FactoryClient(owner, system.factory)
        token = TokenClient(owner, system.token)
        assert owner.address is not None
        token.mint(owner.address, factory.reward_for(arena_task_id))
        address = factory.create_task(arena_task_id, params, training_logic_hash)
        task = cls(owner, system, address, members)
        task.factory_receipt = factory.last_receipt
        return task

    def fund(self, amount: int) -> None:
        """Give every member ``amount`` tokens (and gas money)."""
        token = TokenClient(self.owner, self.system.token)
        for address in self.members:
            self.owner.set_balance(address, 100 * ETHER)
            token.mint(address, amount)

    def member(self, address: str) -> TaskClient:
        return self.members[address]

    # ----------------------------------------------------------------------------------------------------
    # Clock
    def advance_to(self, timestamp: int) -> None:
        """Mine a block at ``timestamp`` (no-op when the chain is already past it)."""
        now = self.owner.block_timestamp()
        if timestamp > now:
            self.owner.set_next_block_timestamp(timestamp)
            self.owner.mine()

    def advance_past_phase(self) -> None:
        """Mine a block just after the current phase's deadline."""
        state = self.task.state()
        if state.phase_deadline:
            self.advance_to(state.phase_deadline + 1)

    def wait_for_phase(self, phase: Phase) -> None:
        """Advance the clock phase by phase until ``phase`` (raises if it is skipped)."""
        for _ in range(8):
            current = self.task.state().phase
            if current == phase:
                return
            if current in (Phase.IDLE, Phase.FINALIZABLE) or current > phase:
                raise AssertionError(f"waiting for {phase.name}, but the round is {current.name}")
            self.advance_past_phase()
        raise AssertionError(f"phase {phase.name} never came")

    # ----------------------------------------------------------------------------------------------------
    # Round helpers
    def join_all(self, stakes: Iterable[tuple[str, int]]) -> list[TxReceipt]:
        return [self.members[a].join(amount) for a, amount in stakes]

    def roles(self, round: int) -> tuple[list[str], list[str]]:
        """(proposers, voters) of ``round`` in roster order (outside a committee: in neither)."""
        proposers: list[str] = []
        voters: list[str] = []
        for address in self.task.participants():
            role = self.task.role_of(round, address)
            if role == Role.PROPOSER:
                proposers.append(address)
            elif role == Role.VOTER:
                voters.append(address)
        return proposers, voters

    def commit(self, voter: str, round: int, vote: Vote) -> TxReceipt:
        commitment = vote_commitment(
            self.address, round, voter, vote.aggregate_hash, vote.score, vote.verdicts, vote.salt
        )
        return self.members[voter].commit_vote(commitment)

    def reveal(self, voter: str, vote: Vote) -> TxReceipt:
        return self.members[voter].reveal_vote(vote.aggregate_hash, vote.score, vote.verdicts, vote.salt)

    # ----------------------------------------------------------------------------------------------------
    # A whole round
    def start(self) -> int:
        """Close enrolment if needed (advance past the join deadline) and start the next round."""
        state = self.task.state()
        if (
            state.status == Status.ENROLLING
            and state.participant_count < self.task.config().params.max_participants
        ):
            self.advance_to(self.task.config().join_deadline + 1)
        self.task.start_round()
        return self.task.state().round

    def play_round(
        self,
        *,
        proposers: Iterable[str] | None = None,
        votes: dict[str, Vote] | None = None,
        reveal: Iterable[str] | None = None,
        finalizer: TaskClient | None = None,
        start: bool = True,
        finalize: bool = True,
    ) -> int:
        """Start (unless ``start`` is False) and play one round, then finalize it; returns the round.

        ``proposers``: who of the round's proposers proposes (default all, model hash keccak(addr, round)).
        ``votes``: the votes voters commit (default: every voter accepts every proposal with score 1 and
        one shared aggregate hash). ``reveal``: who reveals (default every committer). With ``finalize``
        False the round is left Finalizable.
        """
        round = self.start() if start else self.task.state().round
        state = self.task.state()
        if state.phase == Phase.PIONEERING:
            self.members[self.task.pioneer_of(round)].submit_pioneer(keccak(f"pioneer/{round}".encode()))
        all_proposers, voters = self.roles(round)
        chosen = all_proposers if proposers is None else list(proposers)
        if self.task.state().phase == Phase.PROPOSING:
            for p in chosen:
                self.members[p].propose(keccak(f"model/{p}/{round}".encode()), 100)
        count = self.task.state().proposal_count
        if votes is None:
            aggregate = keccak(f"aggregate/{round}".encode())
            votes = {v: Vote(aggregate, 1, (1 << count) - 1) for v in voters}
        if votes and self.task.state().phase == Phase.PROPOSING:
            self.advance_past_phase()
        if self.task.state().phase == Phase.COMMITTING:
            for v, vote in votes.items():
                self.commit(v, round, vote)
        revealers = list(votes) if reveal is None else list(reveal)
        if revealers and self.task.state().phase == Phase.COMMITTING:
            self.advance_past_phase()
        if self.task.state().phase == Phase.REVEALING:
            for v in revealers:
                self.reveal(v, votes[v])
        while self.task.state().phase not in (Phase.FINALIZABLE, Phase.IDLE):
            self.advance_past_phase()
        if finalize:
            (finalizer or self.task).finalize_round()
        return round

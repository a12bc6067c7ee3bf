"""A reference model of one task's money and settlement: the contract's bookkeeping, step by step.

:class:`TaskLedger` replays the same calls a task contract receives (join, start, propose, reveal,
finalize, settle, claim, withdraw, close, refund) and keeps the same books: stakes, claimable balances,
finalizer fees, the pool, rewards allocated by finalized rounds but not yet settled, and (PerProposal)
rewards settled but not yet vested with each participant's accepted and rejected proposals. Settlement is
lazy exactly as on chain (a participant's rounds are settled in order when it next proposes or reveals,
claims or withdraws, or when someone settles it), and so is vesting (the first settle, claim or withdraw
after the end), so after every call the model's numbers must equal the contract's, and ``held`` must
equal the contract's token balance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from flalliance.protocol import roles
from flalliance.protocol.decision import Policy, RevealedVote, decide
from flalliance.protocol.payouts import (
    Contribution,
    Outcome,
    contribution,
    outcome,
    reward_per_weight,
    slash,
    vest,
    weight,
)


class LedgerError(ValueError):
    """A call the contract would refuse (the model does not re-check every rule, only its own needs)."""


class Status(IntEnum):
    """A task's lifecycle (values match the contract's enum; the chain client uses this same enum)."""

    NONE = 0
    ENROLLING = 1
    RUNNING = 2
    COMPLETED = 3
    EXPIRED = 4
    CANCELLED = 5

    @property
    def ended(self) -> bool:
        return self in (Status.COMPLETED, Status.EXPIRED, Status.CANCELLED)


@dataclass
class Account:
    index: int
    stake: int
    joined_stake: int
    settled_rounds: int = 0
    action_round: int = -1
    proposal_index: int | None = None
    revealed_for: bool | None = None
    rewarded_total: int = 0  # every reward settlement credited (PerProposal: vested or not)
    withdrawn: bool = False
    accepted_proposals: int = 0  # decided proposals accepted (verdict bit set, round with reveals)
    rejected_proposals: int = 0  # decided proposals rejected, proposer turns missed included
    unvested: int = 0  # PerProposal: credited, not claimable until it vests after the end
    vested: int = 0  # PerProposal, once vesting_done: the part that became claimable
    forfeited: int = 0  # PerProposal, once vesting_done: the part returned to the pool
    vesting_done: bool = False

    @property
    def slashed_total(self) -> int:
        """Stake slashed so far (settled rounds), like the contract's ``slashedTotal``."""
        return self.joined_stake - self.stake


@dataclass
class RoundRecord:
    seed: int
    num_proposers: int
    pioneering: bool
    finalized: bool = False
    accepted: bool = False
    aborted: bool = False
    verdicts: int = 0
    reward_per_weight: int = 0
    rewarded_weight: int = 0
    finalizer: str = ""
    proposal_count: int = 0
    reveal_count: int = 0


@dataclass
class TaskLedger:
    total_reward: int
    total_rounds: int
    slash_bps: int
    policy: Policy
    weight_unit: int
    proposer_fraction_bps: int
    max_proposers: int = roles.MAX_PROPOSERS
    max_voters: int = roles.MAX_VOTERS
    has_model: bool = False
    status: Status = Status.ENROLLING
    accounts: dict[str, Account] = field(default_factory=dict)
    claimable: dict[str, int] = field(default_factory=dict)
    fees_earned: dict[str, int] = field(default_factory=dict)
    rounds: list[RoundRecord] = field(default_factory=list)
    pool: int = 0
    outstanding_rewards: int = 0  # allocated by finalized rounds, not yet credited by settlement
    pioneer_done: bool = False
    _votes: list[RevealedVote] = field(default_factory=list)
    _proposal_weights: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pool = self.total_reward

    # ----------------------------------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return len(self.accounts)

    @property
    def total_stake(self) -> int:
        return sum(a.stake for a in self.accounts.values() if not a.withdrawn)

    @property
    def held(self) -> int:
        """What the task contract must hold: stakes, claimable balances, pool, unsettled and unvested
        rewards."""
        unvested = sum(a.unvested for a in self.accounts.values())
        claimable = sum(self.claimable.values())
        return self.total_stake + claimable + self.pool + self.outstanding_rewards + unvested

    @property
    def round(self) -> int:
        return len(self.rounds) - 1

    @property
    def finalized_rounds(self) -> int:
        return sum(1 for r in self.rounds if r.finalized)

    def roster(self) -> list[str]:
        return list(self.accounts)

    @property
    def ended(self) -> bool:
        return self.status.ended

    @property
    def epoch_length(self) -> int:
        """Rounds per epoch (every participant proposes at least once in each)."""
        return roles.epoch_length(self.n, self._num_proposers())

    def _num_proposers(self) -> int:
        return roles.num_proposers(self.n, self.proposer_fraction_bps, self.max_proposers)

    def slot(self, round: int, address: str) -> int:
        rec = self.rounds[round]
        return roles.slot(rec.seed, self.accounts[address].index, self.n, rec.num_proposers, round)

    def is_proposer(self, round: int, address: str) -> bool:
        return self.slot(round, address) < self.rounds[round].num_proposers

    def is_voter(self, round: int, address: str) -> bool:
        """Slots [P, P + V): the round's voter committee (the slots after it hold no role)."""
        p = self.rounds[round].num_proposers
        return p <= self.slot(round, address) < p + roles.num_voters(self.n, p, self.max_voters)

    def is_pioneer(self, round: int, address: str) -> bool:
        return self.slot(round, address) == 0

    def proposal_counts(self, address: str) -> tuple[int, int]:
        """(accepted, rejected) decided proposals of ``address`` over its settled rounds."""
        acct = self.accounts[address]
        return acct.accepted_proposals, acct.rejected_proposals

    # ----------------------------------------------------------------------------------------------------
    # Calls
    def join(self, address: str, stake: int) -> None:
        if address in self.accounts:
            raise LedgerError(f"{address} already joined")
        self.accounts[address] = Account(index=self.n, stake=stake, joined_stake=stake)

    def start_round(self, seed: int) -> RoundRecord:
        """Start the next round. ``seed`` is the randomness source's answer; like the contract, only an
        epoch's first round uses it, the epoch's later rounds keep the epoch's seed (``seed`` ignored)."""
        if self.ended:
            raise LedgerError(f"the task has ended ({self.status.name})")
        if self.rounds and not self.rounds[-1].finalized:
            raise LedgerError("the current round is not finalized")
        if len(self.rounds) >= self.total_rounds:
            raise LedgerError("every round has been played")
        proposers = self._num_proposers()
        round = len(self.rounds)
        if not roles.epoch_start(round, self.n, proposers):
            seed = self.rounds[-1].seed
        rec = RoundRecord(seed=seed, num_proposers=proposers, pioneering=not self.has_model)
        self.status = Status.RUNNING
        self.rounds.append(rec)
        self.pioneer_done = False
        self._votes = []
        self._proposal_weights = []
        return rec

    def submit_pioneer(self) -> None:
        self.pioneer_done = True
        self.has_model = True

    def propose(self, address: str) -> int:
        """Record a proposal; returns its index."""
        self.settle(address)
        acct = self.accounts[address]
        k = len(self._proposal_weights)
        self._proposal_weights.append(weight(acct.stake, self.weight_unit))
        acct.action_round = self.round
        acct.proposal_index = k
        acct.revealed_for = None
        return k

    def reveal(self, address: str, aggregate: bytes, score: int, verdicts: int) -> None:
        self.settle(address)
        acct = self.accounts[address]
        self._votes.append(
            RevealedVote(
                weight=weight(acct.stake, self.weight_unit),
                score=score,
                aggregate=aggregate,
                verdicts=verdicts,
            )
        )
        acct.action_round = self.round
        acct.proposal_index = None
        acct.revealed_for = score >= 0

    def finalize(self, finalizer: str) -> RoundRecord:
        rec = self.rounds[-1]
        if rec.finalized:
            raise LedgerError("the round is already finalized")
        rec.finalized = True
        rec.finalizer = finalizer
        rec.proposal_count = len(self._proposal_weights)
        rec.reveal_count = len(self._votes)
        if len(self.rounds) == self.total_rounds:
            self.status = Status.COMPLETED
        if rec.pioneering and not self.pioneer_done:
            rec.aborted = True
            return rec
        if not self._votes:
            return rec
        # only the reveals with weight count in the tallies (the contract skips weight-0 voters)
        counted = [v for v in self._votes if v.weight > 0]
        d = decide(counted, self._proposal_weights, self.policy)
        rec.accepted = d.accepted
        rec.verdicts = d.verdicts
        rec.rewarded_weight = d.rewarded_weight
        rec.reward_per_weight = reward_per_weight(self.pool, self.total_rounds, self.round, d.rewarded_weight)
        allocated = rec.reward_per_weight * d.rewarded_weight
        self.pool -= allocated
        self.outstanding_rewards += allocated
        return rec

    def settle(self, address: str, max_rounds: int | None = None) -> tuple[int, int]:
        """Settle ``address`` through the finalized rounds (at most ``max_rounds``); (rewarded, slashed).

        ``rewarded`` is what this settlement credited: claimable under Collective, unvested under
        PerProposal. After the end, once every finalized round is settled, vests (PerProposal) like the
        contract's ``settle``.
        """
        rewarded, slashed = self._settle(address, max_rounds)
        self._vest_if_due(address)
        return rewarded, slashed

    def _settle(self, address: str, max_rounds: int | None = None) -> tuple[int, int]:
        acct = self.accounts[address]
        up_to = self.finalized_rounds
        if max_rounds is not None:
            up_to = min(up_to, acct.settled_rounds + max_rounds)
        rewarded = slashed = 0
        for r in range(acct.settled_rounds, up_to):
            rec = self.rounds[r]
            acted = acct.action_round == r
            is_proposer = self.is_proposer(r, address)
            if not is_proposer and not self.is_voter(r, address):
                continue  # outside the round's committee: nothing to pay or take (FLTask._settleRound)
            proposed_index = acct.proposal_index if acted else None
            result = outcome(
                aborted=rec.aborted,
                accepted=rec.accepted,
                is_proposer=is_proposer,
                is_pioneer=self.is_pioneer(r, address),
                proposed_index=proposed_index,
                revealed_for=acct.revealed_for if acted else None,
                reveal_count=rec.reveal_count,
                proposal_count=rec.proposal_count,
                verdicts=rec.verdicts,
                per_proposal=self.policy == Policy.PER_PROPOSAL,
            )
            counted = contribution(
                aborted=rec.aborted,
                is_proposer=is_proposer,
                proposed_index=proposed_index,
                reveal_count=rec.reveal_count,
                verdicts=rec.verdicts,
            )
            if counted == Contribution.ACCEPTED:
                acct.accepted_proposals += 1
            elif counted == Contribution.REJECTED:
                acct.rejected_proposals += 1
            if result == Outcome.REWARD:
                amount = weight(acct.stake, self.weight_unit) * rec.reward_per_weight
                rewarded += amount
                self.outstanding_rewards -= amount
            elif result.slashed:
                amount, to_pool, fee = slash(acct.stake, self.slash_bps)
                acct.stake -= amount
                slashed += amount
                self.pool += to_pool
                if fee:
                    self.claimable[rec.finalizer] = self.claimable.get(rec.finalizer, 0) + fee
                    self.fees_earned[rec.finalizer] = self.fees_earned.get(rec.finalizer, 0) + fee
        if rewarded:
            if self.policy == Policy.PER_PROPOSAL:
                acct.unvested += rewarded
            else:
                self.claimable[address] = self.claimable.get(address, 0) + rewarded
            acct.rewarded_total += rewarded
        acct.settled_rounds = max(acct.settled_rounds, up_to)
        if self.outstanding_rewards < 0:
            raise LedgerError("paid more reward than allocated")
        return rewarded, slashed

    def _vest_if_due(self, address: str) -> None:
        acct = self.accounts[address]
        if (
            self.policy != Policy.PER_PROPOSAL
            or not self.ended
            or acct.vesting_done
            or acct.settled_rounds != self.finalized_rounds
        ):
            return
        acct.vested, acct.forfeited = vest(acct.unvested, acct.accepted_proposals, acct.rejected_proposals)
        acct.unvested = 0
        acct.vesting_done = True
        if acct.vested:
            self.claimable[address] = self.claimable.get(address, 0) + acct.vested
        self.pool += acct.forfeited

    def vest(self, address: str) -> tuple[int, int]:
        """(vested, forfeited) rewards of ``address``, after the end; idempotent.

        PerProposal: settles every finalized round first and vests once, as the contract's first settle,
        claim or withdraw after the end does; later calls return the same pair. Collective has no vesting
        step: every reward is the participant's as soon as it is settled, so this settles and returns
        (all rewards credited, 0).
        """
        if not self.ended:
            raise LedgerError(f"rewards vest after the end; the task is {self.status.name}")
        self._settle(address)
        if self.policy != Policy.PER_PROPOSAL:
            return self.accounts[address].rewarded_total, 0
        self._vest_if_due(address)
        acct = self.accounts[address]
        return acct.vested, acct.forfeited

    def claim(self, address: str) -> int:
        """Pay what is claimable: finalizer fees; rewards under Collective, vested ones under PerProposal."""
        if address in self.accounts:
            self.settle(address)
        amount = self.claimable.pop(address, 0)
        if amount == 0:
            raise LedgerError(f"{address} has nothing to claim")
        return amount

    def withdraw(self, address: str) -> int:
        if not self.ended:
            raise LedgerError(f"stakes are withdrawn after the end; the task is {self.status.name}")
        acct = self.accounts[address]
        if acct.withdrawn:
            raise LedgerError(f"{address} already withdrew")
        self.settle(address)
        acct.withdrawn = True
        return acct.stake

    def end(self, status: Status) -> None:
        """``close()``: the task is Expired (a round in progress stays void) or Cancelled."""
        if status not in (Status.EXPIRED, Status.CANCELLED):
            raise LedgerError(f"close() ends a task as Expired or Cancelled, not {status.name}")
        if self.ended:
            raise LedgerError(f"the task has already ended ({self.status.name})")
        self.status = status

    def refund_pool(self) -> int:
        if not self.ended:
            raise LedgerError(f"the pool is refunded after the end; the task is {self.status.name}")
        amount, self.pool = self.pool, 0
        return amount

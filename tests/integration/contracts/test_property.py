"""Property test: random multi-round tasks with honest, malicious and absent participants, played on anvil
and, call for call, on the pure reference model (flalliance.protocol.ledger).

Checked after every round and at the end: each participant's stake, claimable balance, rewards, fees,
settlement progress, accepted and rejected proposals and (PerProposal) unvested, vested and forfeited
rewards equal the model's; the pool and total stake equal the model's; the task's token balance equals
what it owes (stakes + claimable + pool + allocated-but-unsettled + unvested rewards), nothing is ever
negative; and when everyone has withdrawn and claimed and the pool is refunded, the task holds nothing:
stakes + rewards + pool + finalizer fees = what went in. Some tasks run to completion, others expire
with a round in progress (void); rewards vest in both.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import pytest
from eth_utils.crypto import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flalliance.chain.client import ChainClient
from flalliance.chain.deploy import DeployedSystem
from flalliance.chain.harness import ETHER, DevTask, Vote
from flalliance.chain.models import Phase, Policy
from flalliance.protocol import roles
from flalliance.protocol.decision import Policy as ModelPolicy
from flalliance.protocol.ledger import Status as ModelStatus
from flalliance.protocol.ledger import TaskLedger

from .conftest import fast_params

pytestmark = pytest.mark.integration

ARENA_REWARD = 1_000 * ETHER


class Behaviour(Enum):
    HONEST = "honest"
    MALICIOUS = "malicious"  # proposes a poisoned model / votes against the truth
    ABSENT = "absent"  # does nothing this round
    SILENT = "silent"  # voters: commits but never reveals


@dataclass(frozen=True)
class Scenario:
    stakes: list[int]
    policy: Policy
    rounds: int
    slash_bps: int
    proposer_fraction_bps: int
    max_proposers: int
    max_voters: int
    use_arena_model: bool
    behaviours: list[list[Behaviour]]  # [round][participant]
    finalizers: list[int]  # per round: -1 = the owner, else a participant index
    claimers: list[list[bool]]  # per round: who claims (settle + claim) after finalize
    expire_at: int | None  # None: play every round; else start round `expire_at` and let the task expire


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    n = draw(st.integers(2, 6))
    policy = draw(st.sampled_from([Policy.PER_PROPOSAL, Policy.COLLECTIVE]))
    fraction = draw(st.sampled_from([2_000, 4_000, 6_000]))
    # committees: no cap, or caps small enough to leave participants without a role
    max_proposers = draw(st.sampled_from([roles.MAX_PROPOSERS, 1, 2]))
    max_voters = draw(st.sampled_from([roles.MAX_VOTERS, 1, 2]))
    if policy == Policy.PER_PROPOSAL:  # the creation rule: at least the longest epoch, some slashing
        rounds = roles.max_epoch_length(2, n, fraction, max_proposers) + draw(st.integers(0, 1))
        slash_bps = draw(st.sampled_from([1_000, 2_500, 10_000]))
    else:
        rounds = draw(st.integers(1, 3))
        slash_bps = draw(st.sampled_from([0, 1_000, 2_500, 10_000]))
    stakes = [draw(st.integers(10, 300)) * ETHER + draw(st.integers(0, 10**15)) for _ in range(n)]
    # mostly honest, so most rounds decide something; every misbehaviour still shows up often
    behaviour = st.sampled_from(
        [Behaviour.HONEST] * 3 + [Behaviour.MALICIOUS, Behaviour.ABSENT, Behaviour.SILENT]
    )
    return Scenario(
        stakes=stakes,
        policy=policy,
        rounds=rounds,
        slash_bps=slash_bps,
        proposer_fraction_bps=fraction,
        max_proposers=max_proposers,
        max_voters=max_voters,
        use_arena_model=draw(st.booleans()),
        behaviours=[[draw(behaviour) for _ in range(n)] for _ in range(rounds)],
        finalizers=[draw(st.integers(-1, n - 1)) for _ in range(rounds)],
        claimers=[[draw(st.booleans()) for _ in range(n)] for _ in range(rounds)],
        expire_at=draw(st.one_of(st.none(), st.none(), st.integers(0, rounds - 1))),
    )


class Run:
    """One scenario on chain and on the model, in lockstep."""

    def __init__(self, t: DevTask, scenario: Scenario, members: list[str]) -> None:
        self.t = t
        self.s = scenario
        self.members = members
        cfg = t.task.config()
        self.model = TaskLedger(
            total_reward=cfg.total_reward,
            total_rounds=scenario.rounds,
            slash_bps=scenario.slash_bps,
            policy=ModelPolicy(int(scenario.policy)),
            weight_unit=cfg.weight_unit,
            proposer_fraction_bps=scenario.proposer_fraction_bps,
            max_proposers=scenario.max_proposers,
            max_voters=scenario.max_voters,
            has_model=scenario.use_arena_model,
        )

    def play(self, r: int) -> None:
        t, model = self.t, self.model
        behaviours = dict(zip(self.members, self.s.behaviours[r], strict=True))
        t.start()
        model.start_round(t.task.round_info(r).seed)
        if t.task.state().phase == Phase.PIONEERING:
            pioneer = t.task.pioneer_of(r)
            if behaviours[pioneer] != Behaviour.ABSENT:
                t.members[pioneer].submit_pioneer(keccak(f"pioneer/{r}".encode()))
                model.submit_pioneer()
            else:
                t.advance_past_phase()
        proposers, voters = t.roles(r)
        assert proposers == [a for a in self.members if model.is_proposer(r, a)]
        assert voters == [a for a in self.members if model.is_voter(r, a)]
        good: list[bool] = []
        if t.task.state().phase == Phase.PROPOSING:
            for p in proposers:
                if behaviours[p] in (Behaviour.HONEST, Behaviour.MALICIOUS):
                    honest = behaviours[p] == Behaviour.HONEST
                    t.members[p].propose(keccak(f"{'good' if honest else 'bad'}/{p}/{r}".encode()), 10)
                    model.propose(p)
                    good.append(honest)
            if t.task.state().phase == Phase.PROPOSING:
                t.advance_past_phase()
        truth = sum(good) >= len(good) - sum(good)
        true_verdicts = sum(1 << k for k, ok in enumerate(good) if ok)
        agg = keccak(f"aggregate/{r}/{true_verdicts}".encode())
        votes: dict[str, Vote] = {}
        if t.task.state().phase == Phase.COMMITTING:
            for v in voters:
                b = behaviours[v]
                if b == Behaviour.ABSENT:
                    continue
                if b == Behaviour.MALICIOUS:
                    flipped = ~true_verdicts & ((1 << len(good)) - 1)
                    votes[v] = Vote(keccak(f"junk/{v}".encode()), -1 if truth else 1, flipped)
                else:
                    votes[v] = Vote(agg, 1 if truth else -1, true_verdicts)
                t.commit(v, r, votes[v])
            if t.task.state().phase == Phase.COMMITTING:
                t.advance_past_phase()
        if t.task.state().phase == Phase.REVEALING:
            for v, vote in votes.items():
                if behaviours[v] != Behaviour.SILENT:
                    t.reveal(v, vote)
                    model.reveal(v, vote.aggregate_hash, vote.score, vote.verdicts)
        while t.task.state().phase != Phase.FINALIZABLE:
            t.advance_past_phase()
        who = self.s.finalizers[r]
        finalizer = t.task if who < 0 else t.members[self.members[who]]
        finalizer.finalize_round()
        model.finalize(finalizer.client.address or "")
        for a, claims in zip(self.members, self.s.claimers[r], strict=True):
            if not claims:
                continue
            t.task.settle(a, 2**16)
            model.settle(a)
            if model.claimable.get(a, 0) > 0:
                t.members[a].claim()
                model.claim(a)
        self.check()

    def check(self) -> None:
        t, model = self.t, self.model
        for a in self.members:
            info = t.task.participant(a)
            acct = model.accounts[a]
            assert (info.stake, info.settled_rounds, info.rewarded_total) == (
                acct.stake,
                acct.settled_rounds,
                acct.rewarded_total,
            ), a
            assert info.claimable == model.claimable.get(a, 0)
            assert info.fees_earned == model.fees_earned.get(a, 0)
            assert (info.accepted_proposals, info.rejected_proposals) == model.proposal_counts(a), a
            assert (info.unvested, info.vested, info.forfeited, info.vesting_done) == (
                acct.unvested,
                acct.vested,
                acct.forfeited,
                acct.vesting_done,
            ), a
        state = t.task.state()
        assert (state.pool, state.total_stake) == (model.pool, model.total_stake)
        assert model.pool >= 0 and model.outstanding_rewards >= 0
        assert all(v >= 0 for v in model.claimable.values())
        assert t.task.token().balance_of(t.address) == model.held

    def expire(self, r: int) -> None:
        """Start round ``r`` and let the task expire with it in progress: the round is void."""
        t, model = self.t, self.model
        t.start()
        model.start_round(t.task.round_info(r).seed)
        t.advance_to(t.task.config().expires_at + 1)
        t.task.close()
        model.end(ModelStatus.EXPIRED)
        self.check()

    def finish(self) -> None:
        t, model = self.t, self.model
        assert model.ended
        for a in self.members:  # settles (and vests) everyone: every finalizer fee is credited after it
            t.members[a].withdraw()
            model.withdraw(a)
        for a in self.members:
            if model.claimable.get(a, 0):
                t.members[a].claim()
                model.claim(a)
        owner = t.owner.address or ""
        if model.claimable.get(owner, 0):
            t.task.claim()
            model.claim(owner)
        if model.pool:
            t.task.refund_pool()
            model.refund_pool()
        self.check()
        assert model.outstanding_rewards == 0
        assert t.task.token().balance_of(t.address) == 0


@settings(
    max_examples=14,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
def test_random_tasks_conserve_tokens_and_match_the_model(
    chain: ChainClient, system: DeployedSystem, member_clients: list[ChainClient], scenario: Scenario
) -> None:
    snapshot = chain.snapshot()
    try:
        n = len(scenario.stakes)
        params = fast_params(
            min_participants=2,
            max_participants=n,
            total_rounds=scenario.rounds,
            slash_bps=scenario.slash_bps,
            proposer_fraction_bps=scenario.proposer_fraction_bps,
            max_proposers=scenario.max_proposers,
            max_voters=scenario.max_voters,
            policy=scenario.policy,
            use_arena_model=scenario.use_arena_model,
        )
        t = DevTask.create(chain, system, params, members=member_clients[:n], arena_reward=ARENA_REWARD)
        t.fund(400 * ETHER)
        token = t.task.token()
        members = list(t.members)
        before = {a: token.balance_of(a) for a in [*members, chain.address or ""]}
        run = Run(t, scenario, members)
        for a, stake in zip(members, scenario.stakes, strict=True):
            t.members[a].join(stake)
            run.model.join(a, stake)
        run.check()
        for r in range(scenario.rounds if scenario.expire_at is None else scenario.expire_at):
            run.play(r)
        if scenario.expire_at is not None:
            run.expire(scenario.expire_at)
        run.finish()
        # Conservation across everyone: what the members and the funder hold again equals what they held.
        after = {a: token.balance_of(a) for a in before}
        assert sum(after.values()) == sum(before.values()) + ARENA_REWARD
    finally:
        chain.revert(snapshot)
        for client in member_clients:
            client.resync_nonce()

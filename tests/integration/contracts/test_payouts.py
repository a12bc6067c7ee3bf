"""Rewards, slashes and payments: per-proposal vs collective policy, majority voting, liveness, finalizer
fees, contribution vesting (PerProposal), pull payments, and that every token is accounted for at the end."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eth_utils.crypto import keccak
from web3.logs import DISCARD

from flalliance.chain.errors import ContractRevert
from flalliance.chain.harness import ETHER, DevTask, Vote
from flalliance.chain.models import Policy, SlashReason, Status
from flalliance.protocol.payouts import reward_per_weight, slash, vest

from .conftest import STAKE, fast_params

pytestmark = pytest.mark.integration

MakeTask = Callable[..., DevTask]
POOL = 1_000 * ETHER
W = STAKE // 10**12  # voting weight of one default stake


def _task(make_task: MakeTask, **overrides: object) -> DevTask:
    t = make_task(fast_params(use_arena_model=True, **overrides), members=6)
    t.join_all((a, STAKE) for a in t.members)
    return t


ROUNDS = 4  # fast_params: the shortest task PerProposal accepts for 3..6 participants at 40% proposers


def _settled(t: DevTask, address: str) -> tuple[int, int]:
    """(stake, rewards credited) after settling everything."""
    t.task.settle(address, 100)
    info = t.task.participant(address)
    return info.stake, info.rewarded_total


def test_honest_round_rewards_everyone_pro_rata(make_task: MakeTask) -> None:
    t = _task(make_task)
    t.play_round()
    info = t.task.round_info(0)
    assert info.accepted and info.verdicts == 0b11
    assert info.rewarded_weight == 6 * W
    assert info.reward_per_weight == reward_per_weight(POOL, ROUNDS, 0, 6 * W) == POOL // ROUNDS // (6 * W)
    for a in t.members:
        assert _settled(t, a) == (STAKE, W * info.reward_per_weight)
        p = t.task.participant(a)
        assert (p.unvested, p.claimable) == (W * info.reward_per_weight, 0)  # PerProposal: unvested
    assert t.task.state().pool == POOL - info.reward_per_weight * 6 * W


@pytest.mark.parametrize("policy", [Policy.PER_PROPOSAL, Policy.COLLECTIVE])
def test_bad_proposal_is_attributed_to_its_proposer(make_task: MakeTask, policy: Policy) -> None:
    t = _task(make_task, policy=policy)
    t.start()
    (good, bad), voters = t.roles(0)
    t.members[good].propose(keccak(b"good"), 10)
    t.members[bad].propose(keccak(b"poisoned"), 10)
    votes = {v: Vote(keccak(b"agg"), 1, 0b01) for v in voters}  # every voter rejects proposal 1
    t.play_round(proposers=[], votes=votes, start=False)
    info = t.task.round_info(0)
    assert info.accepted and info.verdicts == 0b01
    amount, _to_pool, fee = slash(STAKE, 1_000)
    if policy == Policy.PER_PROPOSAL:
        assert info.rewarded_weight == 5 * W
        assert _settled(t, good) == (STAKE, W * info.reward_per_weight)
        assert _settled(t, bad) == (STAKE - amount, 0)  # only the bad proposer pays
        finalizer = t.owner.address or ""
        assert t.task.participant(finalizer).claimable == fee == amount // 10
        assert (t.task.participant(bad).accepted_proposals, t.task.participant(bad).rejected_proposals) == (
            0,
            1,
        )
        assert t.task.participant(good).accepted_proposals == 1
    else:  # FLock's rule: an accepted round rewards every proposer, the poisoned one included
        assert info.rewarded_weight == 6 * W
        assert _settled(t, bad) == (STAKE, W * info.reward_per_weight)
        assert t.task.participant(bad).claimable == W * info.reward_per_weight  # claimable as settled
        assert t.task.participant(bad).rejected_proposals == 1  # counted under either policy


@pytest.mark.parametrize("policy", [Policy.PER_PROPOSAL, Policy.COLLECTIVE])
def test_rejected_round(make_task: MakeTask, policy: Policy) -> None:
    """Voters find the aggregate worse (score < 0) although each proposal passes on its own."""
    t = _task(make_task, policy=policy)
    t.start()
    proposers, voters = t.roles(0)
    votes = {v: Vote(keccak(b"agg"), -3, 0b11) for v in voters}
    t.play_round(votes=votes, start=False)
    info = t.task.round_info(0)
    assert not info.accepted and info.verdicts == 0b11
    assert t.task.state().global_model == "0x" + keccak(b"arena-model").hex()  # unchanged
    for v in voters:  # they sided with the (negative) majority
        assert _settled(t, v) == (STAKE, W * info.reward_per_weight)
    for p in proposers:
        if policy == Policy.PER_PROPOSAL:
            assert _settled(t, p) == (STAKE, W * info.reward_per_weight)
        else:  # FLock's collective punishment: honest proposers slashed with the round
            assert _settled(t, p) == (STAKE - STAKE // 10, 0)


def test_minority_absent_and_silent_voters_are_slashed(make_task: MakeTask) -> None:
    t = _task(make_task)
    t.start()
    _, (v0, v1, v2, v3) = t.roles(0)
    agg = keccak(b"agg")
    votes = {v0: Vote(agg, 2, 3), v1: Vote(agg, 1, 3), v2: Vote(agg, -1, 3)}
    t.play_round(votes=votes, reveal=[v0, v1, v2], start=False)  # v3 never commits
    info = t.task.round_info(0)
    assert info.accepted and t.task.state().global_model == "0x" + agg.hex()
    receipt = t.task.settle(v2, 10)
    events = t.task.contract.events.Slashed().process_receipt(receipt, errors=DISCARD)
    assert [(e["args"]["account"], e["args"]["reason"]) for e in events] == [(v2, SlashReason.MINORITY_VOTE)]
    assert _settled(t, v2) == (STAKE - STAKE // 10, 0)
    receipt = t.task.settle(v3, 10)
    events = t.task.contract.events.Slashed().process_receipt(receipt, errors=DISCARD)
    assert [e["args"]["reason"] for e in events] == [SlashReason.ABSENT]
    assert _settled(t, v0) == (STAKE, W * info.reward_per_weight)


def test_committed_but_unrevealed_vote_is_a_liveness_slash(make_task: MakeTask) -> None:
    t = _task(make_task)
    t.start()
    _, voters = t.roles(0)
    votes = {v: Vote(keccak(b"agg"), 1, 3) for v in voters}
    t.play_round(votes=votes, reveal=voters[:3], start=False)
    assert _settled(t, voters[3])[0] == STAKE - STAKE // 10


def test_round_without_reveals_pays_nobody(make_task: MakeTask) -> None:
    t = _task(make_task)
    t.play_round(votes={})
    info = t.task.round_info(0)
    assert info.reveal_count == 0 and not info.accepted and info.reward_per_weight == 0
    proposers, voters = t.roles(0)
    for p in proposers:
        assert _settled(t, p) == (STAKE, 0)  # proposed: neither paid nor slashed
    for v in voters:
        assert _settled(t, v) == (STAKE - STAKE // 10, 0)  # absent voters slashed
    _amount, to_pool, fee = slash(STAKE, 1_000)
    assert t.task.state().pool == POOL + 4 * to_pool  # the round's reward stays, slashes recycle 90%
    assert t.task.participant(t.owner.address or "").fees_earned == 4 * fee


def test_claim_twice_settle_batches_and_withdraw_after_the_end(make_task: MakeTask) -> None:
    t = _task(make_task, policy=Policy.COLLECTIVE)
    a = next(iter(t.members))
    t.play_round()
    t.play_round()
    with pytest.raises(ContractRevert, match="TaskNotEnded"):
        t.members[a].withdraw()
    assert t.task.participant(a).settled_rounds == 1  # its own round-1 submission settled round 0
    t.task.settle(a, 0)
    assert t.task.participant(a).settled_rounds == 1  # bounded batches: zero rounds is a no-op
    token = t.task.token()
    before = token.balance_of(a)
    t.members[a].claim()  # settles round 1 too
    info = t.task.participant(a)
    assert (
        info.settled_rounds == 2
        and info.claimable == 0
        and token.balance_of(a) - before == info.rewarded_total
    )
    with pytest.raises(ContractRevert) as exc:
        t.members[a].claim()
    assert exc.value.name == "NothingToClaim"
    t.play_round()
    t.play_round()
    assert t.task.state().status == Status.COMPLETED
    with pytest.raises(ContractRevert, match="WrongStatus"):
        t.task.start_round()
    receipt = t.members[a].withdraw()
    assert not t.task.contract.events.Vested().process_receipt(receipt, errors=DISCARD)  # no vesting step


def _vested_events(t: DevTask, receipt: object) -> list[tuple[str, int, int]]:
    events = t.task.contract.events.Vested().process_receipt(receipt, errors=DISCARD)
    return [(e["args"]["account"], e["args"]["vested"], e["args"]["forfeited"]) for e in events]


def test_rewards_vest_by_contribution_after_the_end(make_task: MakeTask) -> None:
    """PerProposal: 6 participants, 2 proposers a round, epochs of 3 rounds, 4 rounds, so everyone proposes
    once in rounds 0-2 and two of them again in round 3. The attacker's proposals are always rejected: it is
    rewarded as an honest voter, yet vests nothing and forfeits it all. The sloppy participant's round-3
    proposal is rejected, its first accepted: half of its rewards vest. Claims during the task pay finalizer
    fees only; forfeits return to the pool and so to the funder."""
    t = _task(make_task)
    members = list(t.members)
    token = t.task.token()
    attacker = sloppy = ""
    for r in range(ROUNDS):
        t.start()
        proposers, voters = t.roles(r)
        if r == 0:
            attacker = proposers[0]
        if r == 3:
            sloppy = next(p for p in proposers if p != attacker)
        for p in proposers:
            t.members[p].propose(keccak(f"model/{p}/{r}".encode()), 10)
        bits = sum(1 << k for k, p in enumerate(proposers) if p not in (attacker, sloppy))
        t.play_round(proposers=[], votes={v: Vote(keccak(b"agg"), 1, bits) for v in voters}, start=False)
        if r == 1:
            voter = voters[0]
            t.task.settle(voter, 100)
            info = t.task.participant(voter)
            assert info.unvested == info.rewarded_total > 0 and info.claimable == 0 and not info.vesting_done
            with pytest.raises(ContractRevert, match="NothingToClaim"):
                t.members[voter].claim()  # rewards do not vest while the task runs
            owner = t.owner.address or ""
            fees = t.task.participant(owner).claimable
            assert fees > 0  # the attacker's round-0 slash, settled by its round-1 reveal
            before = token.balance_of(owner)
            t.task.claim()  # finalizer fees are keeper pay: claimable at once
            assert token.balance_of(owner) - before == fees
    assert t.task.state().status == Status.COMPLETED
    pool_before = t.task.state().pool
    forfeited_total = recycled = 0
    for a in members:
        receipt = t.members[a].withdraw()  # settles, then vests
        for e in t.task.contract.events.Slashed().process_receipt(receipt, errors=DISCARD):
            recycled += e["args"]["amount"] - e["args"]["fee"]  # 90% of a slash settled now refills the pool
        info = t.task.participant(a)
        assert info.accepted_proposals + info.rejected_proposals in (1, 2)  # everyone proposed in epoch 0
        expected = vest(info.rewarded_total, info.accepted_proposals, info.rejected_proposals)
        assert _vested_events(t, receipt) == [(a, *expected)]
        assert (info.vested, info.forfeited, info.unvested, info.vesting_done) == (*expected, 0, True)
        assert info.claimable == expected[0]  # the owner finalized every round: no member has fees
        forfeited_total += expected[1]
        if info.claimable:
            before = token.balance_of(a)
            t.members[a].claim()
            assert token.balance_of(a) - before == expected[0]
        assert not _vested_events(t, t.task.settle(a, 100))  # vesting happens once
    a_info = t.task.participant(attacker)
    assert (a_info.accepted_proposals, a_info.vested) == (0, 0)
    assert a_info.rewarded_total > 0 and a_info.forfeited == a_info.rewarded_total
    assert a_info.slashed_total >= STAKE // 10  # slashed for every proposal it made
    s_info = t.task.participant(sloppy)
    assert (s_info.accepted_proposals, s_info.rejected_proposals) == (1, 1)
    # its one rejected proposal cancels its one accepted one: nothing vests
    assert s_info.vested == 0 and s_info.forfeited == s_info.rewarded_total > 0
    assert t.task.state().pool == pool_before + recycled + forfeited_total
    funder = t.task.config().funder
    refunded = token.balance_of(funder)
    t.task.refund_pool()
    assert token.balance_of(funder) - refunded == pool_before + recycled + forfeited_total
    assert token.balance_of(t.address) == t.task.participant(t.owner.address or "").claimable  # fees left


def test_every_token_is_accounted_for(make_task: MakeTask) -> None:
    """Stakes + rewards + pool + finalizer fees = what went in; the task ends empty."""
    t = _task(make_task)
    token = t.task.token()
    start = {a: token.balance_of(a) for a in t.members}  # after staking
    funder = t.task.config().funder
    funder_start = token.balance_of(funder)
    members = list(t.members)
    t.play_round()
    t.start()
    voters = t.roles(1)[1]
    votes = {v: Vote(keccak(b"agg"), 1, 3) for v in voters}
    votes[voters[0]] = Vote(keccak(b"x"), -1, 0)  # one lone naysayer
    t.play_round(votes=votes, start=False)
    t.play_round(proposers=[])  # nobody proposes
    t.play_round()
    for a in members:
        t.members[a].withdraw()
        if t.task.participant(a).claimable:
            t.members[a].claim()
    t.task.refund_pool()
    t.task.claim()  # finalizer fees (the owner finalized every round)
    assert token.balance_of(t.address) == 0
    paid_in = len(members) * STAKE + POOL
    stakes_and_rewards = sum(token.balance_of(a) - start[a] for a in members)
    pool_and_fees = token.balance_of(funder) - funder_start  # the funder also finalized every round
    assert stakes_and_rewards + pool_and_fees == paid_in

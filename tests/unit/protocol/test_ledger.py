"""The reference ledger on its own: lazy settlement, conservation, the 90/10 slash split, epochs of roles
and contribution vesting."""

from __future__ import annotations

import pytest

from flalliance.protocol import roles
from flalliance.protocol.decision import Policy
from flalliance.protocol.ledger import LedgerError, Status, TaskLedger

pytestmark = pytest.mark.unit

E18 = 10**18


def _ledger(**kw: object) -> TaskLedger:
    args: dict[str, object] = dict(
        total_reward=900 * E18,
        total_rounds=3,
        slash_bps=1_000,
        policy=Policy.PER_PROPOSAL,
        weight_unit=10**12,
        proposer_fraction_bps=3_000,
        has_model=True,
    )
    args.update(kw)
    return TaskLedger(**args)  # type: ignore[arg-type]


def _roles(ledger: TaskLedger, round: int) -> tuple[list[str], list[str]]:
    ps = [a for a in ledger.roster() if ledger.is_proposer(round, a)]
    return ps, [a for a in ledger.roster() if a not in ps]


def test_honest_rounds_pay_out_exactly_and_conserve() -> None:
    ledger = _ledger(total_rounds=5)  # one epoch: each of the 5 proposes once, every proposal accepted
    for i in range(5):
        ledger.join(f"p{i}", 100 * E18)
    paid_in = ledger.held
    for r in range(5):
        ledger.start_round(seed=r + 7)
        proposers, voters = _roles(ledger, r)
        assert len(proposers) == roles.num_proposers(5, 3_000) == 1
        for p in proposers:
            ledger.propose(p)
        for v in voters:
            ledger.reveal(v, b"agg", 1, 0b1)
        rec = ledger.finalize("finalizer")
        assert rec.accepted and rec.rewarded_weight == 5 * 100 * 10**6
        assert ledger.held == paid_in
    assert ledger.status == Status.COMPLETED
    out = sum(ledger.withdraw(a) for a in ledger.roster())
    assert all(ledger.accounts[a].forfeited == 0 for a in ledger.roster())  # every proposal accepted
    out += sum(ledger.claim(a) for a in ledger.roster())
    out += ledger.refund_pool()
    assert out == paid_in and ledger.outstanding_rewards == 0 and ledger.held == 0


def test_absent_participant_is_slashed_lazily_and_fee_goes_to_the_finalizer() -> None:
    ledger = _ledger(total_rounds=1)
    for i in range(4):
        ledger.join(f"p{i}", 100 * E18)
    ledger.start_round(seed=1)
    proposers, voters = _roles(ledger, 0)
    for p in proposers:
        ledger.propose(p)
    for v in voters[1:]:
        ledger.reveal(v, b"agg", 1, 0b1)
    ledger.finalize("f")
    absent = voters[0]
    assert ledger.accounts[absent].stake == 100 * E18  # not yet settled
    pool_before = ledger.pool
    assert ledger.settle(absent) == (0, 10 * E18)
    assert ledger.pool == pool_before + 9 * E18 and ledger.claimable["f"] == E18 == ledger.fees_earned["f"]
    assert ledger.settle(absent) == (0, 0)  # settling twice changes nothing


def test_aborted_pioneering_round_slashes_only_the_pioneer() -> None:
    ledger = _ledger(has_model=False, total_rounds=2)
    for i in range(3):
        ledger.join(f"p{i}", 100 * E18)
    ledger.start_round(seed=5)
    rec = ledger.finalize("f")
    assert rec.aborted
    pioneer = ledger.roster()[roles.pioneer_index(5, 3, 1, 0)]
    for a in ledger.roster():
        ledger.settle(a)
        assert ledger.accounts[a].stake == (90 if a == pioneer else 100) * E18


def test_refusals() -> None:
    ledger = _ledger()
    ledger.join("a", E18)
    with pytest.raises(LedgerError, match="already joined"):
        ledger.join("a", E18)
    with pytest.raises(LedgerError, match="nothing to claim"):
        ledger.claim("a")


def _play(
    ledger: TaskLedger, seed: int, *, rejected: set[str] = frozenset(), absent: set[str] = frozenset()
) -> None:
    """One round: every voter reveals accepting the round and rejecting the proposals of ``rejected``."""
    r = len(ledger.rounds)
    ledger.start_round(seed)
    proposers, voters = _roles(ledger, r)
    bits = 0
    for p in proposers:
        if p in absent:
            continue
        k = ledger.propose(p)
        if p not in rejected:
            bits |= 1 << k
    for v in voters:
        if v not in absent:
            ledger.reveal(v, b"agg", 1, bits)
    ledger.finalize("f")


def test_epoch_rounds_share_the_first_rounds_seed_and_cover_everyone() -> None:
    ledger = _ledger(total_rounds=6, proposer_fraction_bps=4_000)
    for i in range(5):
        ledger.join(f"p{i}", 100 * E18)
    assert ledger.epoch_length == 3  # 2 proposers of 5
    for r in range(6):
        _play(ledger, seed=1_000 + r)
    assert [rec.seed for rec in ledger.rounds] == [1_000, 1_000, 1_000, 1_003, 1_003, 1_003]
    for epoch in (range(0, 3), range(3, 6)):
        assert {a for r in epoch for a in _roles(ledger, r)[0]} == set(ledger.roster())


def _vesting_task(policy: Policy = Policy.PER_PROPOSAL) -> tuple[TaskLedger, str, str]:
    """4 participants, 2 proposers a round, epochs of 2 rounds, 4 rounds: everyone proposes twice. The
    attacker's proposals are all rejected; the sloppy one's first is rejected, its second accepted."""
    ledger = _ledger(total_rounds=4, proposer_fraction_bps=5_000, policy=policy)
    for i in range(4):
        ledger.join(f"p{i}", 100 * E18)
    attacker, sloppy = "p0", "p1"
    turns: dict[str, int] = {}
    for r in range(4):
        ledger.start_round(seed=17 if r < 2 else 23)
        proposers, voters = _roles(ledger, r)
        bits = 0
        for p in proposers:
            k = ledger.propose(p)
            turns[p] = turns.get(p, 0) + 1
            if p != attacker and not (p == sloppy and turns[p] == 1):
                bits |= 1 << k
        for v in voters:
            ledger.reveal(v, b"agg", 1, bits)
        ledger.finalize("f")
        if r < 3:
            assert not ledger.ended
            for a in ledger.roster():
                ledger.settle(a)
    assert ledger.status == Status.COMPLETED and all(turns[a] == 2 for a in ledger.roster())
    return ledger, attacker, sloppy


def test_rewards_vest_by_accepted_minus_rejected_proposals_after_the_end() -> None:
    ledger, attacker, sloppy = _vesting_task()
    paid_in = 400 * E18 + 900 * E18
    assert ledger.held == paid_in
    unvested = {a: ledger.accounts[a].unvested for a in ledger.roster()}
    assert unvested[attacker] > 0  # it was rewarded as an honest voter...
    pool = ledger.pool
    vested, forfeited = ledger.vest(attacker)
    acct = ledger.accounts[attacker]
    assert ledger.proposal_counts(attacker) == (0, 2)
    assert vested == 0 and forfeited == acct.rewarded_total > unvested[attacker]  # ... and vests nothing
    assert ledger.pool == pool + forfeited and ledger.claimable.get(attacker, 0) == 0
    assert ledger.vest(attacker) == (0, forfeited)  # idempotent
    assert ledger.pool == pool + forfeited
    ledger.settle(sloppy)  # the first settle after the end vests too
    s = ledger.accounts[sloppy]
    assert (s.accepted_proposals, s.rejected_proposals, s.vesting_done) == (1, 1, True)
    # one rejected proposal cancels its one accepted one: nothing vests
    assert s.vested == 0 and s.forfeited == s.rewarded_total > 0
    assert ledger.claimable.get(sloppy, 0) == 0
    honest = "p2"
    assert ledger.withdraw(honest) == 100 * E18
    h = ledger.accounts[honest]
    assert (h.vested, h.forfeited, h.unvested) == (h.rewarded_total, 0, 0)
    assert ledger.held == paid_in - 100 * E18
    # the attacker lost: nothing vested, slashed once per proposal, 10% of each slash to the finalizer "f"
    assert acct.stake == 81 * E18


def test_claim_during_the_task_pays_fees_only_and_refusals_before_the_end() -> None:
    ledger = _ledger(total_rounds=4, proposer_fraction_bps=5_000)
    for i in range(4):
        ledger.join(f"p{i}", 100 * E18)
    _play(ledger, seed=3)
    _play(ledger, seed=3, rejected={ledger.roster()[0]})
    for a in ledger.roster():
        ledger.settle(a)
    with pytest.raises(LedgerError, match="nothing to claim"):
        ledger.claim("p1")  # rewarded, but nothing vests before the end
    assert ledger.accounts["p1"].unvested > 0
    assert ledger.claim("f") == ledger.fees_earned["f"] > 0  # finalizer fees are keeper pay: any time
    with pytest.raises(LedgerError, match="after the end"):
        ledger.vest("p1")
    with pytest.raises(LedgerError, match="after the end"):
        ledger.withdraw("p1")
    with pytest.raises(LedgerError, match="after the end"):
        ledger.refund_pool()


def test_collective_rewards_are_claimable_as_settled_and_never_forfeited() -> None:
    ledger, attacker, _ = _vesting_task(Policy.COLLECTIVE)
    for a in ledger.roster():
        ledger.settle(a)
        acct = ledger.accounts[a]
        assert acct.unvested == 0 and not acct.vesting_done
        assert ledger.vest(a) == (acct.rewarded_total, 0)  # everything was the participant's already
    assert ledger.proposal_counts(attacker) == (0, 2)  # counted under either policy


def test_expired_task_vests_what_was_finalized() -> None:
    ledger = _ledger(total_rounds=4, proposer_fraction_bps=5_000)
    for i in range(4):
        ledger.join(f"p{i}", 100 * E18)
    _play(ledger, seed=3)
    ledger.start_round(seed=4)  # never finalized: void
    ledger.end(Status.EXPIRED)
    with pytest.raises(LedgerError, match="ended"):
        ledger.start_round(seed=5)
    proposers, voters = _roles(ledger, 0)
    for p in proposers:
        assert ledger.vest(p) == (ledger.accounts[p].rewarded_total, 0)  # its one proposal accepted
    for v in voters:
        assert ledger.vest(v) == (0, ledger.accounts[v].rewarded_total)  # no decided proposal yet
    with pytest.raises(LedgerError, match="already ended"):
        ledger.end(Status.CANCELLED)


@pytest.mark.parametrize("policy", [Policy.PER_PROPOSAL, Policy.COLLECTIVE])
def test_the_emulators_call_pattern_and_an_attacker_who_is_always_caught(policy: Policy) -> None:
    """bench/sim/emulator.py's use: a fresh seed offered every round (only epoch starts take it), settle
    everyone after each round, vest after the last; net = vested - slashed. Under PerProposal the attacker
    (every proposal rejected, an honest voter otherwise) ends below zero; under Collective it keeps its
    voter rewards."""
    ledger = _ledger(total_rounds=20, proposer_fraction_bps=3_000, policy=policy)
    names = [f"p{i:02d}" for i in range(10)]
    for name in names:
        ledger.join(name, 20 * E18)
    attacker = names[-1]
    rewarded = dict.fromkeys(names, 0)
    slashed = dict.fromkeys(names, 0)
    for r in range(20):
        ledger.start_round(1_000 + 7919 * r)  # the emulator draws one per round
        proposers, voters = _roles(ledger, r)
        bits = 0
        for p in proposers:
            k = ledger.propose(p)
            if p != attacker:
                bits |= 1 << k
        for v in voters:
            ledger.reveal(v, b"agg", 1, bits)
        ledger.finalize("coordinator")
        for name in names:
            got, lost = ledger.settle(name)
            rewarded[name] += got
            slashed[name] += lost
    assert ledger.ended and ledger.epoch_length == 4
    for name in names:
        vested, forfeited = ledger.vest(name)
        assert ledger.vest(name) == (vested, forfeited)  # idempotent
        acct = ledger.accounts[name]
        assert slashed[name] == acct.slashed_total and rewarded[name] == acct.rewarded_total
        assert vested + forfeited == acct.rewarded_total
        accepted, rejected = ledger.proposal_counts(name)
        assert accepted + rejected >= 5  # 20 rounds = 5 epochs: a turn in each
        if name == attacker:
            assert accepted == 0 and acct.rewarded_total > 0
            net = vested - acct.slashed_total
            assert net < 0 if policy == Policy.PER_PROPOSAL else net > 0
        else:
            assert (forfeited, rejected) == (0, 0)

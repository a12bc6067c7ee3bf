"""The reference ledger on its own: lazy settlement, conservation and the 90/10 slash split."""

from __future__ import annotations

import pytest

from flalliance.protocol import roles
from flalliance.protocol.decision import Policy
from flalliance.protocol.ledger import LedgerError, TaskLedger

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
    ledger = _ledger()
    for i in range(5):
        ledger.join(f"p{i}", 100 * E18)
    paid_in = ledger.held
    for r in range(3):
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
    out = sum(ledger.withdraw(a) for a in ledger.roster())
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
    pioneer = ledger.roster()[roles.pioneer_index(5, 3)]
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

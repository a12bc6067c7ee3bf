from __future__ import annotations

import pytest

from flalliance.api.fltask import RoundSummary
from flalliance.controller.round_summary import Event, RoundFold

pytestmark = pytest.mark.unit

A, B, C = "0x" + "a" * 40, "0x" + "b" * 40, "0x" + "c" * 40
MODEL = bytes.fromhex("ab" * 32)


def test_a_finalized_round_is_summarized_from_its_events() -> None:
    events = [
        Event("RoundStarted", {"round": 0}),
        Event("ProposalSubmitted", {"round": 0, "proposer": A}),
        Event("ProposalSubmitted", {"round": 0, "proposer": B}),
        Event("VoteRevealed", {"round": 0, "voter": C, "score": 1, "weight": 30}),
        Event("VoteRevealed", {"round": 0, "voter": A, "score": -1, "weight": 10}),
        Event(
            "RoundFinalized",
            {
                "round": 0,
                "accepted": True,
                "aborted": False,
                "globalModel": MODEL,
                "verdicts": 0b01,
                "rewardPerWeight": 10**16,
                "rewardedWeight": 100,
            },
        ),
        Event("Slashed", {"round": 0, "amount": 5 * 10**17, "account": B}),
        Event("RoundStarted", {"round": 1}),
    ]
    first, second = RoundFold.of(events).summaries({0: [0.8, 0.9]})
    assert first.proposers == [A, B] and first.voters == [C, A]
    assert first.accepted is True and first.global_model_hash == "0x" + "ab" * 32
    assert first.accepted_proposals == 1 and first.rejected_proposals == 1
    assert first.aggregate_score == pytest.approx(0.5)
    assert first.rewards == "1" and first.slashes == "0.5"
    assert first.accuracy == pytest.approx(0.85)
    assert second.round == 1 and second.accepted is None and second.rejected_proposals == 0


def test_accuracy_survives_a_restart_through_previous_status() -> None:
    events = [Event("RoundStarted", {"round": 0})]
    [s] = RoundFold.of(events).summaries({}, previous=[RoundSummary(round=0, accuracy=0.7)])
    assert s.accuracy == 0.7


def test_rejected_round_without_model() -> None:
    events = [
        Event("RoundStarted", {"round": 0}),
        Event("ProposalSubmitted", {"round": 0, "proposer": A}),
        Event(
            "RoundFinalized",
            {
                "round": 0,
                "accepted": False,
                "aborted": False,
                "globalModel": b"\0" * 32,
                "verdicts": 0,
                "rewardPerWeight": 0,
                "rewardedWeight": 0,
            },
        ),
    ]
    [s] = RoundFold.of(events).summaries()
    assert s.accepted is False and s.global_model_hash is None and s.rejected_proposals == 1
    assert s.aggregate_score is None and s.rewards == "0"


def _round(r: int, *, accepted: bool, proposals: int, accepted_bits: int) -> list[Event]:
    return [
        Event("RoundStarted", {"round": r}),
        *[Event("ProposalSubmitted", {"round": r, "proposer": A}) for _ in range(proposals)],
        Event("VoteRevealed", {"round": r, "voter": C, "score": 1, "weight": 10}),
        Event(
            "RoundFinalized",
            {
                "round": r,
                "accepted": accepted,
                "aborted": False,
                "globalModel": MODEL,
                "verdicts": accepted_bits,
                "rewardPerWeight": 10**16,
                "rewardedWeight": 100,
            },
        ),
    ]


def test_the_fold_keeps_the_latest_rounds_and_totals_over_all() -> None:
    """A long task: status keeps the last `window` rounds, the totals count every round, and a slash
    settled long after its round (lazy settlement) still counts in the totals."""
    fold = RoundFold(window=3)
    for r in range(25):
        for ev in _round(r, accepted=r % 5 != 0, proposals=2, accepted_bits=0b01):
            fold.apply(ev)
    fold.apply(Event("Slashed", {"round": 1, "amount": 10**18, "account": B}))
    fold.apply(Event("Slashed", {"round": 24, "amount": 2 * 10**18, "account": B}))
    assert [s.round for s in fold.summaries()] == [22, 23, 24]
    assert len(fold.rounds) == 3  # the memory held is the window's, not the task's
    assert fold.summaries()[-1].slashes == "2"
    t = fold.totals()
    assert (t.finalized, t.accepted, t.rejected, t.aborted) == (25, 20, 5, 0)
    assert (t.accepted_proposals, t.rejected_proposals) == (25, 25)
    assert t.rewards == "25" and t.slashes == "3"

"""Committees: at most maxProposers proposers and maxVoters voters a round; the other participants hold no
role that round, may not submit, and are neither paid nor slashed for it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eth_utils.crypto import keccak

from flalliance.chain.errors import ContractRevert
from flalliance.chain.harness import DevTask, Vote
from flalliance.chain.models import Phase, Role
from flalliance.protocol import roles

from .conftest import STAKE, fast_params

pytestmark = pytest.mark.integration

MakeTask = Callable[..., DevTask]
N, P, V = 10, 2, 3


def _committee_task(make_task: MakeTask) -> DevTask:
    # 10 participants at 40% would be 4 proposers and 6 voters; the caps make it 2 and 3, 5 without a role
    params = fast_params(
        min_participants=N,
        max_participants=N,
        proposer_fraction_bps=4_000,
        max_proposers=P,
        max_voters=V,
        total_rounds=roles.epoch_length(N, P),
        use_arena_model=True,
        max_lifecycle=20_000,
    )
    t = make_task(params, members=N)
    t.join_all((a, STAKE) for a in t.members)
    return t


def test_a_round_draws_p_proposers_and_v_voters_and_the_others_hold_no_role(make_task: MakeTask) -> None:
    t = _committee_task(make_task)
    t.start()
    info = t.task.round_info(0)
    assert (info.num_proposers, info.num_voters) == (P, V)
    state = t.task.state()
    assert (state.num_proposers, state.num_voters) == (P, V)
    roster = t.task.participants()
    expected = {
        a: Role.PROPOSER
        if roles.is_proposer(info.seed, i, N, P, 0)
        else Role.VOTER
        if roles.is_voter(info.seed, i, N, P, V, 0)
        else Role.NONE
        for i, a in enumerate(roster)
    }
    assert {a: t.task.role_of(0, a) for a in roster} == expected
    outsiders = [a for a, role in expected.items() if role == Role.NONE]
    assert len(outsiders) == N - P - V
    with pytest.raises(ContractRevert, match="NotProposer"):
        t.members[outsiders[0]].propose(keccak(b"model"), 10)
    proposers, voters = t.roles(0)
    for p in proposers:
        t.members[p].propose(keccak(f"model/{p}".encode()), 10)
    assert t.task.state().phase == Phase.COMMITTING
    with pytest.raises(ContractRevert, match="NotVoter"):
        t.commit(outsiders[0], 0, Vote(keccak(b"agg"), 1, 3))
    for v in voters:
        t.commit(v, 0, Vote(keccak(b"agg"), 1, 3))
    # the committee's V commits close the commit phase early, whatever the number of participants
    assert t.task.state().phase == Phase.REVEALING


def test_outside_the_committee_nobody_is_paid_or_slashed_and_the_committee_is(make_task: MakeTask) -> None:
    """A full epoch: every round's committee members are rewarded (all honest), every absent committee
    voter is slashed, and each participant's settled rounds outside its committees change nothing."""
    t = _committee_task(make_task)
    roster = t.task.participants()
    rounds = roles.epoch_length(N, P)
    in_committee = {a: 0 for a in roster}
    absent_voter: dict[int, str] = {}
    for r in range(rounds):
        t.start()
        proposers, voters = t.roles(r)
        assert len(proposers) == P and len(voters) == V
        for a in proposers + voters:
            in_committee[a] += 1
        absent_voter[r] = voters[0]
        aggregate = keccak(f"aggregate/{r}".encode())
        votes = {v: Vote(aggregate, 1, (1 << P) - 1) for v in voters[1:]}
        t.play_round(votes=votes, start=False)
    for a in roster:
        t.task.settle(a, 2**16)
    for a in roster:
        info = t.task.participant(a)
        slashes = sum(1 for v in absent_voter.values() if v == a)
        assert info.settled_rounds == rounds
        expected_stake = STAKE
        for _ in range(slashes):
            expected_stake -= expected_stake * 1_000 // 10_000
        assert info.stake == expected_stake, a
        # paid for every committee round it served in and did not miss
        assert (info.rewarded_total > 0) == (in_committee[a] > slashes), a
    # every participant proposes once in the epoch, so nobody is without a committee for the whole task
    assert all(n >= 1 for n in in_committee.values())

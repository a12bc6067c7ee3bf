"""The round machine: roles from the epoch's seed, phases and deadlines, pioneer, proposals, commit/reveal."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eth_utils.crypto import keccak
from web3.logs import DISCARD

from flalliance.chain.client import ChainClient
from flalliance.chain.commitment import vote_commitment
from flalliance.chain.deploy import deploy_system
from flalliance.chain.errors import ContractRevert
from flalliance.chain.harness import ETHER, DevTask, Vote
from flalliance.chain.models import Action, Phase, Role, Status
from flalliance.protocol import roles

from .conftest import STAKE, fast_params

pytestmark = pytest.mark.integration

MakeTask = Callable[..., DevTask]
H = keccak(b"model")


def _running(make_task: MakeTask, members: int = 6, **overrides: object) -> DevTask:
    t = make_task(fast_params(max_participants=members, **overrides), members=members)
    t.join_all((a, STAKE) for a in t.members)
    t.task.start_round()
    return t


def test_roles_follow_the_seed_permutation(make_task: MakeTask) -> None:
    t = _running(make_task)
    info = t.task.round_info(0)
    n = 6
    assert info.num_proposers == roles.num_proposers(n, 4_000) == 2
    proposers, voters = t.roles(0)
    assert len(proposers) == 2 and len(voters) == 4
    for i, a in enumerate(t.task.participants()):
        expected = Role.PROPOSER if roles.is_proposer(info.seed, i, n, 2, 0) else Role.VOTER
        assert t.task.role_of(0, a) == expected
    assert t.task.pioneer_of(0) == t.task.participants()[roles.pioneer_index(info.seed, n, 2, 0)]
    assert t.task.role_of(0, t.owner.address or "") == Role.NONE


@pytest.mark.parametrize("members", [6, 5])
def test_every_participant_proposes_once_per_epoch(make_task: MakeTask, members: int) -> None:
    """Roles are drawn without replacement: an epoch of ceil(n / P) rounds shares the seed of its first
    round, and its proposer windows cover every participant (with 5 of 2 a round the last window wraps,
    so one participant proposes twice). The reference model derives the same roles and pioneers."""
    params = fast_params(max_participants=members, use_arena_model=True, total_rounds=6)
    t = make_task(params, members=members)
    t.join_all((a, STAKE) for a in t.members)
    roster = t.task.participants()
    e = roles.epoch_length(members, 2)
    assert e == 3
    turns: list[dict[str, int]] = [dict.fromkeys(roster, 0), dict.fromkeys(roster, 0)]
    seeds = []
    for r in range(6):
        t.play_round()
        info = t.task.round_info(r)
        seeds.append(info.seed)
        proposers, _ = t.roles(r)
        assert len(proposers) == 2 == info.num_proposers
        assert proposers == [
            a for i, a in enumerate(roster) if roles.is_proposer(info.seed, i, members, 2, r)
        ]
        pioneer = t.task.pioneer_of(r)
        assert pioneer == roster[roles.pioneer_index(info.seed, members, 2, r)] and pioneer in proposers
        for p in proposers:
            turns[r // e][p] += 1
    assert seeds[0] == seeds[1] == seeds[2] != seeds[3] == seeds[4] == seeds[5]
    for epoch in turns:
        assert min(epoch.values()) >= 1
        assert sorted(epoch.values()) == sorted([1] * (2 * members - 6) + [2] * (6 - members))


def test_pioneer_phase(make_task: MakeTask) -> None:
    t = _running(make_task)
    state = t.task.state()
    assert state.phase == Phase.PIONEERING and state.phase_deadline == t.task.round_info(0).pioneer_deadline
    pioneer = t.task.pioneer_of(0)
    other = next(a for a in t.members if a != pioneer)
    with pytest.raises(ContractRevert) as exc:
        t.members[other].submit_pioneer(H)
    assert exc.value.name == "NotPioneer"
    proposer = t.roles(0)[0][0]
    with pytest.raises(ContractRevert, match="WrongPhase"):
        t.members[proposer].propose(H, 10)  # proposals wait for the pioneering model
    t.members[pioneer].submit_pioneer(H)
    state = t.task.state()
    assert state.phase == Phase.PROPOSING and state.global_model == "0x" + H.hex()
    with pytest.raises(ContractRevert, match="WrongPhase"):
        t.members[pioneer].submit_pioneer(H)


def test_missing_pioneer_aborts_the_round_and_is_slashed(make_task: MakeTask) -> None:
    t = _running(make_task)
    pioneer = t.task.pioneer_of(0)
    t.advance_past_phase()
    assert t.task.state().phase == Phase.FINALIZABLE
    t.task.finalize_round()
    info = t.task.round_info(0)
    assert info.aborted and not info.accepted
    t.task.settle(pioneer, 10)
    assert t.task.participant(pioneer).stake == STAKE * 9 // 10
    for a in t.members:
        if a != pioneer:
            t.task.settle(a, 10)
            assert t.task.participant(a).stake == STAKE  # nobody else had anything to do
    t.task.start_round()
    assert t.task.state().phase == Phase.PIONEERING  # still no model: pioneer again
    # same epoch, same seed: the next window's first position pioneers (another participant)
    seed = t.task.round_info(1).seed
    assert seed == t.task.round_info(0).seed
    assert t.task.pioneer_of(1) == t.task.participants()[roles.pioneer_index(seed, 6, 2, 1)] != pioneer


def test_arena_model_skips_pioneering(make_task: MakeTask) -> None:
    t = _running(make_task, use_arena_model=True)
    state = t.task.state()
    assert state.phase == Phase.PROPOSING and state.has_global_model
    assert not t.task.round_info(0).pioneering


def test_proposal_rules(make_task: MakeTask) -> None:
    t = _running(make_task, use_arena_model=True)
    proposers, voters = t.roles(0)
    with pytest.raises(ContractRevert) as exc:
        t.members[voters[0]].propose(H, 10)
    assert exc.value.name == "NotProposer"
    assert exc.value.args == {"round": 0, "account": voters[0]}
    with pytest.raises(ContractRevert, match="InvalidSamples"):
        t.members[proposers[0]].propose(H, 0)
    with pytest.raises(ContractRevert, match="ZeroHash"):
        t.members[proposers[0]].propose(b"\x00" * 32, 10)
    with pytest.raises(ContractRevert, match="NotParticipant"):
        t.task.propose(H, 10)
    t.members[proposers[0]].propose(H, 10)
    with pytest.raises(ContractRevert, match="AlreadyProposed"):
        t.members[proposers[0]].propose(H, 11)
    [p] = t.task.proposals(0)
    assert (p.proposer, p.model_hash, p.samples, p.weight) == (
        proposers[0],
        "0x" + H.hex(),
        10,
        STAKE // 10**12,
    )
    t.advance_past_phase()  # late proposal
    with pytest.raises(ContractRevert) as exc:
        t.members[proposers[1]].propose(H, 10)
    assert exc.value.name == "WrongPhase"
    assert exc.value.args == {"expected": int(Phase.PROPOSING), "actual": int(Phase.COMMITTING)}


def test_phase_ends_early_when_every_role_holder_submitted(make_task: MakeTask) -> None:
    t = _running(make_task, use_arena_model=True)
    proposers, voters = t.roles(0)
    for p in proposers:
        t.members[p].propose(keccak(p.encode()), 5)
    state = t.task.state()
    assert state.phase == Phase.COMMITTING and state.phase_deadline == t.task.round_info(0).commit_deadline
    votes = {v: Vote(keccak(b"agg"), 3, 0b11) for v in voters}
    for v in voters:
        t.commit(v, 0, votes[v])
    assert t.task.state().phase == Phase.REVEALING
    for v in voters:
        t.reveal(v, votes[v])
    assert t.task.state().phase == Phase.FINALIZABLE


def test_commit_and_reveal_rules(make_task: MakeTask) -> None:
    t = _running(make_task, use_arena_model=True)
    proposers, voters = t.roles(0)
    with pytest.raises(ContractRevert, match="WrongPhase"):
        t.members[voters[0]].commit_vote(H)  # too early
    for p in proposers:
        t.members[p].propose(keccak(p.encode()), 5)
    with pytest.raises(ContractRevert) as exc:
        t.commit(proposers[0], 0, Vote(H, 1, 3))  # a non-voter voting
    assert exc.value.name == "NotVoter"
    with pytest.raises(ContractRevert, match="NotParticipant"):
        t.task.commit_vote(H)
    vote = Vote(keccak(b"agg"), 7, 0b01)
    assert t.task.participant(voters[0]).action_in(0) == Action.NONE
    t.commit(voters[0], 0, vote)
    assert t.task.participant(voters[0]).action_in(0) == Action.COMMITTED
    with pytest.raises(ContractRevert, match="AlreadyCommitted"):  # double vote
        t.commit(voters[0], 0, vote)
    with pytest.raises(ContractRevert, match="WrongPhase"):
        t.reveal(voters[0], vote)  # reveals wait for the commit phase to end
    t.commit(voters[1], 0, Vote(keccak(b"agg"), -2, 0))
    t.advance_past_phase()
    with pytest.raises(ContractRevert, match="WrongPhase"):
        t.commit(voters[2], 0, vote)  # late commit
    with pytest.raises(ContractRevert) as exc:
        t.reveal(voters[0], Vote(vote.aggregate_hash, 8, vote.verdicts, vote.salt))  # not what was committed
    assert exc.value.name == "CommitmentMismatch"
    with pytest.raises(ContractRevert, match="CommitmentMismatch"):
        t.reveal(voters[0], Vote(vote.aggregate_hash, vote.score, 0b11, vote.salt))
    with pytest.raises(ContractRevert, match="NoCommitment"):
        t.reveal(voters[2], vote)
    t.reveal(voters[0], vote)
    assert t.task.participant(voters[0]).action_in(0) == Action.REVEALED_FOR
    with pytest.raises(ContractRevert, match="AlreadyRevealed"):
        t.reveal(voters[0], vote)
    state = t.task.state()
    w = STAKE // 10**12
    assert (state.reveal_count, state.positive_weight, state.negative_weight) == (1, w, 0)
    assert state.leading_aggregate == "0x" + keccak(b"agg").hex() and state.leading_weight == w
    with pytest.raises(ContractRevert) as exc:
        t.task.finalize_round()  # finalize too early: voters[1] may still reveal
    assert exc.value.name == "WrongPhase"
    t.advance_past_phase()
    with pytest.raises(ContractRevert, match="WrongPhase"):
        t.reveal(voters[1], Vote(keccak(b"agg"), -2, 0))  # late reveal
    t.task.finalize_round()
    info = t.task.round_info(0)
    assert (
        info.finalized and info.accepted and info.verdicts == 0b01
    )  # proposal 1 rejected by the only reveal
    with pytest.raises(ContractRevert, match="WrongPhase"):
        t.task.finalize_round()  # only once


def test_commitment_is_bound_to_task_round_and_voter(make_task: MakeTask) -> None:
    t = _running(make_task, use_arena_model=True)
    proposers, voters = t.roles(0)
    for p in proposers:
        t.members[p].propose(keccak(p.encode()), 5)
    vote = Vote(keccak(b"agg"), 1, 3)
    # voters[1] copies voters[0]'s commitment: its reveal of the same opening cannot match
    copied = vote_commitment(
        t.address, 0, voters[0], vote.aggregate_hash, vote.score, vote.verdicts, vote.salt
    )
    t.members[voters[0]].commit_vote(copied)
    t.members[voters[1]].commit_vote(copied)
    t.advance_past_phase()
    t.reveal(voters[0], vote)
    with pytest.raises(ContractRevert, match="CommitmentMismatch"):
        t.reveal(voters[1], vote)


def test_score_range_and_accepting_vote_needs_an_aggregate(make_task: MakeTask) -> None:
    t = _running(make_task, use_arena_model=True)
    proposers, voters = t.roles(0)
    for p in proposers:
        t.members[p].propose(keccak(p.encode()), 5)
    big = Vote(keccak(b"agg"), 2**31, 3)
    zero = Vote(b"\x00" * 32, 1, 3)
    t.commit(voters[0], 0, big)
    t.commit(voters[1], 0, zero)
    t.advance_past_phase()
    with pytest.raises(ContractRevert, match="ScoreOutOfRange"):
        t.reveal(voters[0], big)
    with pytest.raises(ContractRevert, match="ZeroHash"):
        t.reveal(voters[1], zero)


def test_round_without_proposals_skips_voting(make_task: MakeTask) -> None:
    t = _running(make_task, use_arena_model=True)
    t.advance_past_phase()
    assert t.task.state().phase == Phase.FINALIZABLE
    t.task.finalize_round()
    info = t.task.round_info(0)
    assert info.finalized and not info.accepted and info.proposal_count == 0
    _, voters = t.roles(0)
    proposers, _ = t.roles(0)
    for a in voters:
        t.task.settle(a, 1)
        assert t.task.participant(a).stake == STAKE  # nothing to vote on: no liveness slash
    for a in proposers:
        t.task.settle(a, 1)
        assert t.task.participant(a).stake == STAKE * 9 // 10  # absent proposers are


def test_next_round_and_views_of_past_rounds(make_task: MakeTask) -> None:
    t = _running(make_task, use_arena_model=True)
    t.play_round(start=False)
    with pytest.raises(ContractRevert, match="UnknownRound"):
        t.task.round_info(1)
    t.task.start_round()
    state = t.task.state()
    assert state.round == 1 and state.phase == Phase.PROPOSING and state.proposal_count == 0
    assert t.task.round_info(0).finalized
    with pytest.raises(ContractRevert, match="ProposalsNotRetained"):
        t.task.proposals(0)
    with pytest.raises(ContractRevert, match="WrongPhase"):
        t.task.start_round()  # round 1 is not finalized


def test_global_model_is_the_stake_weighted_plurality(make_task: MakeTask) -> None:
    """Aggregates compete: the heaviest voter alone outweighs every lighter voter together (stakes grow
    3x per participant), so its aggregate wins although it reveals last and is outnumbered."""
    t = make_task(fast_params(max_participants=6, use_arena_model=True), members=6)
    stakes = {a: 10 * ETHER * 3**i for i, a in enumerate(t.members)}
    t.join_all(stakes.items())
    t.task.start_round()
    proposers, voters = t.roles(0)
    for p in proposers:
        t.members[p].propose(keccak(p.encode()), 5)
    x, y = keccak(b"x"), keccak(b"y")
    heaviest = max(voters, key=stakes.__getitem__)
    votes = {v: Vote(y if v == heaviest else x, 1, 3) for v in voters}
    for v, vote in votes.items():
        t.commit(v, 0, vote)
    order = [v for v in voters if v != heaviest] + [heaviest]
    for v in order:
        t.reveal(v, votes[v])
        state = t.task.state()
        assert state.leading_aggregate == "0x" + (y if v == heaviest else x).hex()
    t.task.finalize_round()
    assert t.task.state().global_model == "0x" + y.hex()


def test_asynchronous_seed_source(chain: ChainClient, member_clients: list[ChainClient]) -> None:
    """A VRF-like source answers 0 first: startRound records the request and changes nothing else."""
    source = chain.deploy("DelayedRandomness")
    system = deploy_system(chain, randomness=source)
    t = DevTask.create(
        chain, system, fast_params(max_participants=3, use_arena_model=True), members=member_clients[:3]
    )
    t.fund(1_000 * ETHER)
    t.join_all((a, STAKE) for a in t.members)
    receipt = t.task.start_round()
    assert [
        e["args"]["round"]
        for e in t.task.contract.events.SeedRequested().process_receipt(receipt, errors=DISCARD)
    ] == [0]
    assert t.task.state().status == Status.ENROLLING
    oracle = chain.contract(source, "DelayedRandomness")
    chain.transact(oracle.functions.fulfil(t.address, 0, 0xC0FFEE))
    t.task.start_round()
    state = t.task.state()
    assert state.status == Status.RUNNING and state.phase == Phase.PROPOSING
    assert t.task.round_info(0).seed == 0xC0FFEE

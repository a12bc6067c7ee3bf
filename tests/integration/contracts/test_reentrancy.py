"""A malicious ERC-20 re-enters the task while being paid: the guard stops it and nothing is paid twice.

The token contract is itself the account being paid (it joins, is slashed for absence, finalizes the
round and so earns the finalizer fee), so its re-entrant call comes from the very claimant: without the
guard it would be a genuine double claim / double withdraw attempt.
"""

from __future__ import annotations

import pytest
from eth_utils.crypto import keccak
from web3.contract import Contract

from flalliance.chain.client import ChainClient
from flalliance.chain.deploy import deploy_system
from flalliance.chain.harness import ETHER, DevTask, Vote
from flalliance.chain.models import Policy, Status

from .conftest import STAKE, fast_params

pytestmark = pytest.mark.integration

GUARD_SELECTOR = keccak(b"ReentrancyGuardReentrantCall()")[:4]


def _as_token(chain: ChainClient, evil: Contract, target: str, data: str) -> None:
    chain.transact(evil.functions.execute(target, data))


def _assert_attack_blocked(chain: ChainClient, evil: Contract) -> None:
    assert chain.call(evil.functions.attackAttempted())
    assert not chain.call(evil.functions.attackSucceeded())
    assert bytes(chain.call(evil.functions.attackReturnData()))[:4] == GUARD_SELECTOR


def test_reentrant_token_cannot_double_claim_or_double_withdraw(
    chain: ChainClient, member_clients: list[ChainClient]
) -> None:
    evil_address = chain.deploy("ReentrantToken")
    evil = chain.contract(evil_address, "ReentrantToken")
    system = deploy_system(chain, token=evil_address)
    # one round: Collective (PerProposal tasks must last a whole epoch, 4 rounds here)
    params = fast_params(
        use_arena_model=True, min_participants=3, max_participants=4, total_rounds=1, policy=Policy.COLLECTIVE
    )
    t = DevTask.create(chain, system, params, members=member_clients[:3])
    t.fund(1_000 * ETHER)
    task = t.task.contract

    chain.transact(evil.functions.mint(evil_address, STAKE))
    chain.transact(evil.functions.approveFromSelf(t.address, STAKE))
    _as_token(chain, evil, t.address, task.encode_abi("join", args=[STAKE]))
    t.join_all((a, STAKE) for a in t.members)
    t.start()
    proposers, voters = t.roles(0)
    votes = {v: Vote(keccak(b"agg"), 1, 0b11) for v in voters if v != evil_address}
    t.play_round(
        proposers=[p for p in proposers if p != evil_address], votes=votes, start=False, finalize=False
    )
    _as_token(chain, evil, t.address, task.encode_abi("finalizeRound"))
    assert t.task.state().status == Status.COMPLETED
    assert t.task.round_info(0).finalizer == evil_address

    # Slashed for absence; the fee of its own slash goes to itself as the finalizer.
    _as_token(chain, evil, t.address, task.encode_abi("settle", args=[evil_address, 10]))
    info = t.task.participant(evil_address)
    assert info.stake == STAKE - STAKE // 10 and info.claimable == STAKE // 100 > 0

    chain.transact(evil.functions.arm(t.address, task.encode_abi("claim")))
    before = chain.call(evil.functions.balanceOf(evil_address))
    _as_token(chain, evil, t.address, task.encode_abi("claim"))
    _assert_attack_blocked(chain, evil)
    assert chain.call(evil.functions.balanceOf(evil_address)) - before == info.claimable  # paid once
    assert t.task.participant(evil_address).claimable == 0

    chain.transact(evil.functions.arm(t.address, task.encode_abi("withdraw")))
    before = chain.call(evil.functions.balanceOf(evil_address))
    _as_token(chain, evil, t.address, task.encode_abi("withdraw"))
    _assert_attack_blocked(chain, evil)
    assert chain.call(evil.functions.balanceOf(evil_address)) - before == info.stake  # paid once
    assert t.task.participant(evil_address).withdrawn

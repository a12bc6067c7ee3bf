"""FLTaskFactory: tasks only from finished Arena tasks, reward share, escrow in the creating transaction,
EIP-1167 clones, registry and event; parameter validation naming the field."""

from __future__ import annotations

import pytest
from eth_utils.crypto import keccak
from web3.logs import DISCARD

from flalliance.chain.arena import ArenaClient
from flalliance.chain.client import ChainClient
from flalliance.chain.deploy import DeployedSystem, deploy_system
from flalliance.chain.errors import ContractRevert
from flalliance.chain.factory import FactoryClient
from flalliance.chain.harness import ETHER
from flalliance.chain.models import Phase, Policy, Status, TaskParams
from flalliance.chain.task import TaskClient
from flalliance.chain.token import TokenClient
from flalliance.protocol import roles

from .conftest import fast_params

pytestmark = pytest.mark.integration

LOGIC = keccak(b"training-logic")


def _arena(
    chain: ChainClient, system: DeployedSystem, task_id: int, reward: int, finish: bool = True
) -> None:
    arena = ArenaClient(chain, system.arena)
    arena.register(task_id, reward)
    if finish:
        arena.finish(task_id, keccak(b"arena-model"))


def test_refuses_unfinished_arena_task(chain: ChainClient, system: DeployedSystem) -> None:
    _arena(chain, system, 7, 1_000 * ETHER, finish=False)
    factory = FactoryClient(chain, system.factory)
    with pytest.raises(ContractRevert) as exc:
        factory.create_task(7, fast_params(), LOGIC, approve=False)
    assert exc.value.name == "ArenaTaskNotFinished"
    assert exc.value.args == {"arenaTaskId": 7}
    with pytest.raises(ContractRevert, match="ArenaTaskNotFinished"):
        factory.create_task(99, fast_params(), LOGIC, approve=False)  # unknown id: not finished either


def test_escrow_clone_registry_and_event(chain: ChainClient) -> None:
    system = deploy_system(chain, reward_share_bps=2_500)
    _arena(chain, system, 1, 1_000 * ETHER)
    token = TokenClient(chain, system.token)
    assert chain.address is not None
    token.mint(chain.address, 300 * ETHER)
    factory = FactoryClient(chain, system.factory)
    assert factory.reward_for(1) == 250 * ETHER  # 25% of the Arena version's total reward

    address = factory.create_task(1, fast_params(), LOGIC)

    assert token.balance_of(address) == 250 * ETHER  # escrowed in the same transaction
    assert token.balance_of(chain.address) == 50 * ETHER  # pulled from the funder
    assert token.balance_of(system.factory) == 0  # the factory never holds funds
    assert factory.task_count() == 1 and factory.tasks() == [address]
    code = chain.w3.eth.get_code(address)  # type: ignore[arg-type]
    impl = bytes.fromhex(system.task_implementation[2:])
    assert len(code) == 45 and impl in code  # an EIP-1167 minimal proxy to the implementation
    assert factory.last_receipt is not None
    event = factory.contract.events.TaskCreated().process_receipt(factory.last_receipt, errors=DISCARD)[0][
        "args"
    ]
    assert (event["task"], event["arenaTaskId"], event["funder"], event["reward"], event["index"]) == (
        address,
        1,
        chain.address,
        250 * ETHER,
        0,
    )
    task = TaskClient(chain, address)
    config = task.config()
    assert config.funder == chain.address and config.factory == system.factory
    assert config.total_reward == 250 * ETHER and config.arena_task_id == 1
    assert config.training_logic_hash == "0x" + LOGIC.hex()
    assert config.params == fast_params()
    state = task.state()
    assert state.status == Status.ENROLLING and state.phase == Phase.IDLE
    assert (
        state.pool == 250 * ETHER and not state.has_global_model
    )  # pioneering unless the Arena model is used


def test_arena_model_as_initial_model(chain: ChainClient, system: DeployedSystem) -> None:
    _arena(chain, system, 2, 10 * ETHER)
    assert chain.address is not None
    TokenClient(chain, system.token).mint(chain.address, 10 * ETHER)
    address = FactoryClient(chain, system.factory).create_task(2, fast_params(use_arena_model=True), LOGIC)
    assert TaskClient(chain, address).state().global_model == "0x" + keccak(b"arena-model").hex()


def test_createtask_needs_the_reward_allowance(chain: ChainClient, system: DeployedSystem) -> None:
    _arena(chain, system, 3, 10 * ETHER)
    assert chain.address is not None
    TokenClient(chain, system.token).mint(chain.address, 10 * ETHER)
    with pytest.raises(ContractRevert, match="ERC20InsufficientAllowance"):
        FactoryClient(chain, system.factory).create_task(3, fast_params(), LOGIC, approve=False)


@pytest.mark.parametrize(
    ("field", "override"),
    [
        ("minParticipants", {"min_participants": 2, "max_participants": 2}),
        ("proposerFractionBps", {}),
        ("maxProposers", {}),  # a committee needs a proposer
        ("maxVoters", {}),  # ... and a voter
        ("maxLifecycle", {}),
        ("trainingLogicHash", {}),
        ("minStake", {}),
        ("slashBps", {}),  # PerProposal: a task without slashing would let an attack pay
        ("totalRounds", {}),  # PerProposal: 3 rounds < the 4-round epoch of 4 participants at 40%
        (
            "totalRounds",
            {
                "min_participants": 2,
                "max_participants": 100,
                "proposer_fraction_bps": 3_000,
                "total_rounds": 6,
            },
        ),
        (
            "totalRounds",  # a committee cap lengthens the epoch: 100 participants, 8 proposers -> 13 rounds
            {
                "min_participants": 2,
                "max_participants": 100,
                "proposer_fraction_bps": 3_000,
                "max_proposers": 8,
                "total_rounds": 13,
            },
        ),
    ],
)
def test_invalid_parameters_name_the_field(
    chain: ChainClient, system: DeployedSystem, field: str, override: dict[str, int]
) -> None:
    """The contract re-checks what TaskParams validates client-side (raw tuples bypass pydantic)."""
    _arena(chain, system, 4, 10 * ETHER)
    assert chain.address is not None
    TokenClient(chain, system.token).mint(chain.address, 10 * ETHER)
    factory = FactoryClient(chain, system.factory)
    TokenClient(chain, system.token).approve(system.factory, 10 * ETHER)
    params = list(fast_params(**override).to_abi())
    at = list(TaskParams.model_fields).index  # struct position of a field
    logic = LOGIC
    if field == "minParticipants":
        params[at("min_participants")] = 1
    elif field == "proposerFractionBps":
        params[at("proposer_fraction_bps")] = 10_000
    elif field == "maxProposers":
        params[at("max_proposers")] = override.get("max_proposers", 0)
    elif field == "maxVoters":
        params[at("max_voters")] = 0
    elif field == "maxLifecycle":
        params[at("max_lifecycle")] = 10
    elif field == "trainingLogicHash":
        logic = b"\x00" * 32
    elif field == "minStake":
        params[at("min_stake")] = 10**11  # below the weight unit (1e12 wei)
    elif field == "slashBps":
        params[at("slash_bps")] = 0
    elif field == "totalRounds":
        params[at("total_rounds")] = (
            roles.max_epoch_length(
                params[at("min_participants")],
                params[at("max_participants")],
                params[at("proposer_fraction_bps")],
                params[at("max_proposers")],
            )
            - 1
        )
    with pytest.raises(ContractRevert) as exc:
        chain.transact(factory.contract.functions.createTask(4, tuple(params), logic, b"\x04" * 32))
    assert exc.value.name == "InvalidParameter"
    assert exc.value.args == {"field": field}


def test_creation_rule_for_per_proposal_and_collective(chain: ChainClient, system: DeployedSystem) -> None:
    """PerProposal accepts a task exactly one longest epoch long; Collective (FLock's rule, no vesting)
    keeps accepting no slashing and a single round."""
    _arena(chain, system, 6, 10 * ETHER)
    assert chain.address is not None
    token = TokenClient(chain, system.token)
    factory = FactoryClient(chain, system.factory)
    wide = {"min_participants": 2, "max_participants": 100, "proposer_fraction_bps": 3_000}
    longest = roles.max_epoch_length(2, 100, 3_000)
    assert longest == 6
    token.mint(chain.address, 20 * ETHER)
    address = factory.create_task(6, fast_params(total_rounds=longest, **wide), LOGIC)
    assert TaskClient(chain, address).config().params.total_rounds == 6
    collective = list(fast_params(policy=Policy.COLLECTIVE).to_abi())
    at = list(TaskParams.model_fields).index
    collective[at("total_rounds")], collective[at("slash_bps")] = 1, 0  # one round, no slashing
    token.approve(system.factory, 10 * ETHER)
    chain.transact(factory.contract.functions.createTask(6, tuple(collective), LOGIC, b"\x06" * 32))
    assert factory.task_count() == 2


def test_implementation_and_clones_cannot_be_reinitialized(
    chain: ChainClient, system: DeployedSystem
) -> None:
    _arena(chain, system, 5, 10 * ETHER)
    assert chain.address is not None
    TokenClient(chain, system.token).mint(chain.address, 10 * ETHER)
    address = FactoryClient(chain, system.factory).create_task(5, fast_params(), LOGIC)
    args = (fast_params().to_abi(), system.token, chain.address, system.randomness, 5, b"\x01" * 32, LOGIC, 1)
    clone = TaskClient(chain, address).contract
    with pytest.raises(ContractRevert, match="AlreadyInitialized"):
        chain.transact(clone.functions.initialize(*args))
    implementation = TaskClient(chain, system.task_implementation).contract
    with pytest.raises(ContractRevert, match="ImplementationNotInitializable"):
        chain.transact(implementation.functions.initialize(*args))


def test_reward_share_is_owner_only_and_bounded(
    chain: ChainClient, system: DeployedSystem, member_clients: list[ChainClient]
) -> None:
    factory = FactoryClient(chain, system.factory)
    chain.transact(factory.contract.functions.setRewardShare(5_000))
    assert factory.reward_share_bps() == 5_000
    with pytest.raises(ContractRevert, match="InvalidRewardShare"):
        chain.transact(factory.contract.functions.setRewardShare(10_001))
    outsider = member_clients[0]
    assert outsider.address is not None
    chain.set_balance(outsider.address, ETHER)
    with pytest.raises(ContractRevert, match="OwnableUnauthorizedAccount"):
        outsider.transact(FactoryClient(outsider, system.factory).contract.functions.setRewardShare(1))


def test_a_task_address_is_fixed_by_creator_and_salt_and_taken_once(
    chain: ChainClient, system: DeployedSystem
) -> None:
    """What makes the operator's createTask idempotent: the address is known before, and a retry reverts."""
    _arena(chain, system, 8, 1_000 * ETHER)
    token = TokenClient(chain, system.token)
    assert chain.address is not None
    factory = FactoryClient(chain, system.factory)
    token.mint(chain.address, 2 * factory.reward_for(8))  # two tasks' escrow
    salt = b"\x07" * 32
    predicted = factory.predict_task(chain.address, salt)
    assert not chain.has_code(predicted)
    assert factory.create_task(8, fast_params(), LOGIC, salt=salt) == predicted
    balance = token.balance_of(chain.address)
    with pytest.raises(ContractRevert) as info:
        factory.create_task(8, fast_params(), LOGIC, salt=salt)
    assert info.value.name == "TaskExists" and token.balance_of(chain.address) == balance
    # another creator's salt space is its own: nobody can take (and so block) this creator's address
    assert factory.predict_task("0x" + "9" * 40, salt) != predicted
    assert factory.create_task(8, fast_params(), LOGIC) != predicted  # no salt: a new task each time

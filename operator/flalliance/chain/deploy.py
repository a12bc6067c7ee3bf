"""Deploy the whole on-chain system: token, Arena registry, randomness source, task implementation, factory.

Used by ``flalliance chain deploy`` (dev chains) and by the tests and benchmarks. The deploying account
owns the token (may mint), the Arena registry (registers and finishes Arena tasks) and the factory (may
change the reward share for future tasks); none of these roles can touch a task's stake or pool.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from flalliance.chain.client import ChainClient
from flalliance.chain.errors import ChainError

DEFAULT_WEIGHT_UNIT_EXP = 12  # 1 unit of voting weight = 1e12 wei = 1e-6 FML


class DeployedSystem(BaseModel):
    """Addresses of one deployment (checksummed) and where it happened."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    token: str
    arena: str
    factory: str
    task_implementation: str
    randomness: str
    chain_id: int
    block: int = Field(description="Block number after the last deployment transaction")


def deploy_system(
    client: ChainClient,
    *,
    reward_share_bps: int = 10_000,
    weight_unit_exp: int = DEFAULT_WEIGHT_UNIT_EXP,
    token: str | None = None,
    randomness: str | None = None,
) -> DeployedSystem:
    """Deploy everything with ``client``'s account as owner. ``token`` reuses an existing ERC-20 instead
    of deploying FMLToken, ``randomness`` an existing IRandomness (e.g. a VRF adapter) instead of
    BlockRandomness; ``reward_share_bps`` is the share of an Arena version's reward a task gets."""
    if not 0 < reward_share_bps <= 10_000:
        raise ValueError(f"reward_share_bps must be in (0, 10000], got {reward_share_bps}")
    if not 0 <= weight_unit_exp <= 12:
        raise ValueError(f"weight_unit_exp must be in [0, 12], got {weight_unit_exp}")
    owner = client.address
    if owner is None:
        raise ChainError("deploying needs a client with an account")
    token_address = token or client.deploy("FMLToken", owner)
    arena = client.deploy("ArenaRegistry", owner)
    randomness = randomness or client.deploy("BlockRandomness")
    implementation = client.deploy("FLTask", weight_unit_exp)
    factory = client.deploy(
        "FLTaskFactory", token_address, arena, randomness, implementation, reward_share_bps, owner
    )
    return DeployedSystem(
        token=token_address,
        arena=arena,
        factory=factory,
        task_implementation=implementation,
        randomness=randomness,
        chain_id=client.chain_id,
        block=client.block_number(),
    )

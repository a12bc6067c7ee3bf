"""The simulation's dev chain: anvil (instant blocks, a movable clock) or geth (a real block period).

The coordinator needs three things of its chain, and they differ between the two: funding accounts with
gas money (anvil sets a balance; geth's developer account sends it), and getting past a phase deadline
when everyone has acted (anvil mines a block after the deadline at once; on geth the deadline passes by
the wall clock, so the coordinator waits for a block later than it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from flalliance.chain.client import ChainClient
from flalliance.chain.devchain import Anvil
from flalliance.chain.geth import Geth
from flalliance.chain.keys import dev_account
from flalliance.sim.config import SimConfig

OWNER_FUNDS = 10**24  # geth: what the coordinator (dev account 0) gets from geth's developer account


class DevNode(Protocol):
    rpc_url: str
    chain_id: int

    def fund(self, owner: ChainClient, addresses: list[str], wei: int) -> None: ...

    def advance_past(self, owner: ChainClient, deadline: int) -> None: ...


class AnvilNode:
    def __init__(self, anvil: Anvil) -> None:
        self.rpc_url, self.chain_id = anvil.rpc_url, anvil.chain_id

    def fund(self, owner: ChainClient, addresses: list[str], wei: int) -> None:
        for address in addresses:
            owner.set_balance(address, wei)

    def advance_past(self, owner: ChainClient, deadline: int) -> None:
        if owner.block_timestamp() <= deadline:
            owner.set_next_block_timestamp(deadline + 1)
            owner.mine()


class GethNode:
    def __init__(self, geth: Geth) -> None:
        self.geth = geth
        self.rpc_url, self.chain_id = geth.rpc_url, geth.chain_id

    def fund(self, owner: ChainClient, addresses: list[str], wei: int) -> None:
        self.geth.fund(addresses, wei)

    def advance_past(self, owner: ChainClient, deadline: int) -> None:
        self.geth.wait_for_timestamp(deadline)


@contextlib.contextmanager
def dev_node(cfg: SimConfig, out: Path) -> Iterator[DevNode]:
    """The chain ``cfg.chain`` names, started (logging under ``out``) and stopped after the block."""
    if cfg.chain == "geth":
        with Geth(period=cfg.block_period, log_path=out / "geth.log") as geth:
            geth.fund([dev_account(0).address], OWNER_FUNDS)
            yield GethNode(geth)
        return
    with Anvil(log_path=out / "anvil.log") as anvil:
        yield AnvilNode(anvil)

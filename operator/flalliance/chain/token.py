"""A small client for the stake and reward token (FMLToken on dev chains, any ERC-20 in production)."""

from __future__ import annotations

from eth_utils.address import to_checksum_address
from web3.contract import Contract
from web3.types import TxReceipt

from flalliance.chain.client import ChainClient


class TokenClient:
    """An ERC-20 at ``address``; ``mint`` works only on FMLToken and only for its owner."""

    def __init__(self, client: ChainClient, address: str) -> None:
        self.client = client
        self.contract: Contract = client.contract(address, "FMLToken")
        self.address: str = str(self.contract.address)

    def balance_of(self, account: str) -> int:
        return int(self.client.call(self.contract.functions.balanceOf(to_checksum_address(account))))

    def allowance(self, owner: str, spender: str) -> int:
        fn = self.contract.functions.allowance(to_checksum_address(owner), to_checksum_address(spender))
        return int(self.client.call(fn))

    def total_supply(self) -> int:
        return int(self.client.call(self.contract.functions.totalSupply()))

    def approve(self, spender: str, amount: int) -> TxReceipt:
        return self.client.transact(self.contract.functions.approve(to_checksum_address(spender), amount))

    def ensure_allowance(self, spender: str, amount: int) -> TxReceipt | None:
        """Approve ``spender`` for ``amount`` unless the client's account already allows that much."""
        owner = self.client.address
        if owner is None:
            raise ValueError("approving needs a client with an account")
        if self.allowance(owner, spender) >= amount:
            return None
        return self.approve(spender, amount)

    def transfer(self, to: str, amount: int) -> TxReceipt:
        return self.client.transact(self.contract.functions.transfer(to_checksum_address(to), amount))

    def mint(self, to: str, amount: int) -> TxReceipt:
        return self.client.transact(self.contract.functions.mint(to_checksum_address(to), amount))

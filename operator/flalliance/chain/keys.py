"""Signing keys: from a file (a mounted Kubernetes Secret in production) or anvil's well-known dev mnemonic.

Key material never appears in logs, exception messages or reprs; errors name the file, not its content.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

# Anvil's (and Hardhat's) public development mnemonic: these accounts hold funds only on dev chains.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_DERIVATION_PATH = "m/44'/60'/0'/0/{index}"

_HEX_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")


class KeyFileError(ValueError):
    """A key file that cannot be used; the message names the file and the problem, never the key."""


def load_private_key(path: str | os.PathLike[str]) -> LocalAccount:
    """The account whose private key is in ``path``: one 0x-prefixed or bare 64-hex-digit key."""
    file = Path(path)
    try:
        text = file.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise KeyFileError(f"private key file {file} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"private key file {file} is unreadable: {type(exc).__name__}") from None
    if not _HEX_KEY.match(text):
        raise KeyFileError(f"private key file {file} must hold one 32-byte hex key (0x + 64 hex digits)")
    try:
        account: LocalAccount = Account.from_key(text)
    except Exception:  # the library's message could echo the key: replace it
        raise KeyFileError(f"private key file {file} holds an invalid secp256k1 key") from None
    return account


@functools.cache
def dev_account(index: int) -> LocalAccount:
    """Account ``index`` of anvil's dev mnemonic (path m/44'/60'/0'/0/index); cached, derivation is slow."""
    if index < 0:
        raise ValueError(f"dev account index must be >= 0, got {index}")
    Account.enable_unaudited_hdwallet_features()
    account: LocalAccount = Account.from_mnemonic(
        DEV_MNEMONIC, account_path=DEV_DERIVATION_PATH.format(index=index)
    )
    return account

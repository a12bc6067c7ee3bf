from __future__ import annotations

from pathlib import Path

import pytest

from flalliance.chain.keys import KeyFileError, dev_account, load_private_key

pytestmark = pytest.mark.unit

# Anvil's dev account 1: public knowledge, holds nothing outside dev chains.
KEY_1 = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
ADDRESS_1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def test_dev_accounts_follow_anvil_mnemonic() -> None:
    assert dev_account(0).address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert dev_account(1).address == ADDRESS_1
    assert dev_account(1).key.hex().removeprefix("0x") == KEY_1


def test_dev_account_rejects_negative_index() -> None:
    with pytest.raises(ValueError, match="index"):
        dev_account(-1)


@pytest.mark.parametrize("content", [f"0x{KEY_1}\n", KEY_1, f"  0x{KEY_1.upper()}  \n"])
def test_key_file_formats(tmp_path: Path, content: str) -> None:
    path = tmp_path / "key"
    path.write_text(content)
    assert load_private_key(path).address == ADDRESS_1
    assert load_private_key(str(path)).address == ADDRESS_1


def test_missing_key_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match=r"key file .*nope does not exist"):
        load_private_key(tmp_path / "nope")


@pytest.mark.parametrize(
    "content",
    [
        "",
        KEY_1[:-2],  # too short
        KEY_1 + "\n" + KEY_1,  # two keys
        "zz" + KEY_1[2:],  # not hex
        "0x" + "00" * 32,  # zero is not a valid secp256k1 key
        "0x" + "ff" * 32,  # above the curve order
    ],
)
def test_bad_key_files_are_refused_without_echoing_the_content(tmp_path: Path, content: str) -> None:
    path = tmp_path / "key"
    path.write_text(content)
    with pytest.raises(KeyFileError) as exc:
        load_private_key(path)
    assert str(path) in str(exc.value)
    assert KEY_1[4:20] not in str(exc.value)
    # no chained library exception (whose message could quote the key) is shown either
    assert exc.value.__cause__ is None
    assert exc.value.__context__ is None or exc.value.__suppress_context__

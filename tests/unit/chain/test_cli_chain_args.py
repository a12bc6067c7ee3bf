from __future__ import annotations

import pytest

from flalliance.cli import build_parser

pytestmark = pytest.mark.unit


def test_chain_commands_are_registered_with_defaults() -> None:
    up = build_parser().parse_args(["chain", "up"])
    assert (up.host, up.port, up.block_time, up.chain_id, up.state_dir) == (
        "127.0.0.1",
        8545,
        None,
        31337,
        None,
    )
    deploy = build_parser().parse_args(["chain", "deploy", "--fund-accounts", "2"])
    assert deploy.fund_accounts == 2 and deploy.key_file is None and deploy.reward_share_bps == 10_000


@pytest.mark.parametrize(
    "argv",
    [
        ["chain", "up", "--port", "70000"],
        ["chain", "up", "--block-time", "0"],
        ["chain", "up", "--chain-id", "-1"],
        ["chain", "up", "--accounts", "zero"],
        ["chain"],
    ],
)
def test_bad_arguments_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == 2
    assert "error" in capsys.readouterr().err

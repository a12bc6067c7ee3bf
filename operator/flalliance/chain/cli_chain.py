"""`flalliance chain up|deploy`: a local dev chain in the foreground, and the system deployed onto a chain.

Registered by flalliance/cli.py. Heavy imports (web3) happen inside the handlers so that other
sub-commands stay fast.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

DEFAULT_RPC_URL = "http://127.0.0.1:8545"
RPC_URL_ENV = "FLALLIANCE_RPC_URL"
STATE_FILE_NAME = "anvil-state.json"


def register(subparsers: Any) -> None:
    chain = subparsers.add_parser("chain", help="dev chain and contract deployment")
    commands = chain.add_subparsers(dest="chain_command", required=True)

    up = commands.add_parser(
        "up",
        help="run a local anvil chain in the foreground (Ctrl-C stops it)",
        description="Start anvil, print its RPC URL and dev accounts as one JSON line, run until "
        "SIGINT/SIGTERM. With --state-dir the chain state is loaded from and saved to that directory.",
    )
    up.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    up.add_argument(
        "--port", type=_port, default=8545, help="RPC port, 0 for a free one (default: %(default)s)"
    )
    up.add_argument(
        "--block-time", type=_positive_float, default=None, help="seconds per block (default: a block per tx)"
    )
    up.add_argument("--chain-id", type=_positive_int, default=31337, help="chain id (default: %(default)s)")
    up.add_argument(
        "--accounts", type=_positive_int, default=10, help="dev accounts to fund (default: %(default)s)"
    )
    up.add_argument(
        "--timestamp", type=_positive_int, default=None, help="genesis timestamp (reproducible runs)"
    )
    up.add_argument("--state-dir", type=Path, default=None, help="directory to load/save the chain state")
    up.set_defaults(func=_up)

    deploy = commands.add_parser(
        "deploy",
        help="deploy token, Arena registry, task factory; mint FML to dev accounts; print JSON",
    )
    deploy.add_argument(
        "--rpc-url",
        default=os.environ.get(RPC_URL_ENV, DEFAULT_RPC_URL),
        help=f"JSON-RPC endpoint (default: ${RPC_URL_ENV} or {DEFAULT_RPC_URL})",
    )
    deploy.add_argument("--chain-id", type=_positive_int, default=None, help="refuse any other chain")
    deploy.add_argument(
        "--key-file",
        type=Path,
        default=None,
        help="deployer private key file (default: anvil's dev account 0 on anvil, geth's developer key on "
        "geth --dev, which also sends the funded dev accounts ether; refused on any other chain)",
    )
    deploy.add_argument(
        "--reward-share-bps",
        type=int,
        default=10_000,
        help="FL share of an Arena reward (default: %(default)s)",
    )
    deploy.add_argument(
        "--fund-accounts", type=int, default=10, help="mint FML to dev accounts 0..N-1 (default: %(default)s)"
    )
    deploy.add_argument(
        "--fund-amount",
        type=int,
        default=1_000_000,
        help="whole FML per funded account (default: %(default)s)",
    )
    deploy.add_argument("--out", type=Path, default=None, help="also write the JSON to this file")
    deploy.add_argument(
        "--arena-tasks",
        type=int,
        default=0,
        help="register and finish AI Arena tasks 1..N (dev chains: tasks to derive FL tasks from)",
    )
    deploy.add_argument(
        "--arena-reward",
        type=int,
        default=1_000,
        help="whole FML allocated to each Arena task (default: %(default)s)",
    )
    deploy.add_argument(
        "--wait",
        type=float,
        default=0.0,
        help="seconds to wait for the RPC endpoint to answer (default: none)",
    )
    deploy.add_argument(
        "--configmap",
        default=None,
        help="NAMESPACE/NAME: publish the addresses in this ConfigMap (in-cluster); an existing deployment "
        "recorded there is reused, so re-running the deployer Job is harmless",
    )
    deploy.set_defaults(func=_deploy)


# ---------------------------------------------------------------------------------------------------------
def _up(args: argparse.Namespace) -> int:
    from flalliance.chain.devchain import Anvil, free_port
    from flalliance.chain.errors import ChainError
    from flalliance.chain.keys import dev_account

    state_path = None
    if args.state_dir is not None:
        args.state_dir.mkdir(parents=True, exist_ok=True)
        state_path = args.state_dir / STATE_FILE_NAME
    node = Anvil(
        host=args.host,
        port=args.port or free_port(args.host),
        block_time=args.block_time,
        timestamp=args.timestamp,
        chain_id=args.chain_id,
        accounts=args.accounts,
        state_path=state_path,
        log_path=args.state_dir / "anvil.log" if args.state_dir is not None else None,
    )
    stop = threading.Event()
    received: list[str] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            node.start()
        except ChainError as exc:
            print(f"flalliance chain up: {exc}", file=sys.stderr)
            return 1
        info = {
            "rpc_url": node.rpc_url,
            "chain_id": node.chain_id,
            "pid": node.pid,
            "state_file": str(state_path) if state_path is not None else None,
            # anvil's public dev mnemonic: these keys are published and worthless off dev chains
            "accounts": [
                {
                    "address": dev_account(i).address,
                    "private_key": "0x" + dev_account(i).key.hex().removeprefix("0x"),
                }
                for i in range(args.accounts)
            ],
        }
        print(json.dumps(info), flush=True)
        print(
            f"anvil running at {node.rpc_url} (pid {node.pid}); Ctrl-C to stop", file=sys.stderr, flush=True
        )
        while not stop.wait(0.5):
            if not node.running:
                print("flalliance chain up: anvil exited unexpectedly", file=sys.stderr)
                return 1
        print(f"received {received[0]}; stopping anvil", file=sys.stderr, flush=True)
        return 0
    finally:
        node.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# ---------------------------------------------------------------------------------------------------------
def _deploy(args: argparse.Namespace) -> int:
    from flalliance.chain.errors import ChainError

    try:
        _wait_for_rpc(args.rpc_url, args.wait)
        existing = _published(args.configmap, args.rpc_url) if args.configmap else None
        if existing is not None:
            print(json.dumps(existing, indent=2))
            return 0
        result = deploy_and_fund(
            args.rpc_url,
            key_file=args.key_file,
            chain_id=args.chain_id,
            reward_share_bps=args.reward_share_bps,
            fund_accounts=args.fund_accounts,
            fund_amount=args.fund_amount,
            arena_tasks=args.arena_tasks,
            arena_reward=args.arena_reward,
        )
        if args.configmap:
            _publish(args.configmap, result)
    except (ChainError, ValueError, OSError) as exc:
        print(f"flalliance chain deploy: {exc}", file=sys.stderr)
        return 1
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


def deploy_and_fund(
    rpc_url: str,
    *,
    key_file: Path | None = None,
    chain_id: int | None = None,
    reward_share_bps: int = 10_000,
    fund_accounts: int = 10,
    fund_amount: int = 1_000_000,
    arena_tasks: int = 0,
    arena_reward: int = 1_000,
) -> dict[str, Any]:
    """Deploy the system with ``deploy_system`` and mint ``fund_amount`` FML to dev accounts; a JSON dict."""
    from flalliance.chain.client import ChainClient
    from flalliance.chain.errors import ChainError
    from flalliance.chain.keys import dev_account, load_private_key

    if fund_accounts < 0 or fund_amount < 0:
        raise ValueError("--fund-accounts and --fund-amount must be >= 0")
    try:
        from flalliance.chain.deploy import deploy_system
    except ImportError as exc:
        raise ChainError(f"flalliance.chain.deploy.deploy_system is not available: {exc}") from None

    probe = ChainClient(rpc_url, chain_id=chain_id)
    if key_file is not None:
        account = load_private_key(key_file)
    else:
        version = str(probe.w3.client_version)
        if _is_geth_dev(version, probe.chain_id):
            # geth --dev funds only its developer key: it deploys, and gives the dev accounts ether.
            from flalliance.chain.geth import fund_from_dev_key, geth_dev_account

            account = geth_dev_account()
            fund_from_dev_key(probe, [dev_account(i).address for i in range(fund_accounts)], DEV_ETHER)
        elif version.lower().startswith("anvil"):
            account = dev_account(0)
        else:
            raise ChainError(
                f"{rpc_url} runs {version!r}, neither anvil nor geth --dev: give the deployer's --key-file"
            )
    client = ChainClient(rpc_url, account, chain_id=probe.chain_id)
    system = deploy_system(client, reward_share_bps=reward_share_bps)

    token = client.contract(system.token, "FMLToken")
    unit = 10 ** int(client.call(token.functions.decimals()))
    funded = []
    for index in range(fund_accounts):
        address = dev_account(index).address
        client.transact(token.functions.mint(address, fund_amount * unit))
        funded.append({"address": address, "fml": str(client.call(token.functions.balanceOf(address)))})
    from eth_utils.crypto import keccak

    from flalliance.chain.arena import ArenaClient
    from flalliance.chain.harness import ETHER

    arena = ArenaClient(client, system.arena)
    registered = []
    for arena_id in range(1, arena_tasks + 1):
        if not arena.task(arena_id).exists:
            arena.register(arena_id, arena_reward * ETHER)
            arena.finish(arena_id, bytes(keccak(f"flalliance-dev-arena-model/{arena_id}".encode())))
        registered.append(arena_id)
    return {
        "arena_tasks": registered,
        "rpc_url": rpc_url,
        "deployer": client.address,
        **system.model_dump(mode="json"),
        "funded": funded,
    }


# Ether each dev account gets on geth --dev (anvil's genesis gives its accounts 10,000).
DEV_ETHER = 1_000 * 10**18


def _is_geth_dev(client_version: str, chain_id: int) -> bool:
    from flalliance.chain.geth import GETH_CHAIN_ID

    return client_version.startswith("Geth/") and chain_id == GETH_CHAIN_ID


def _wait_for_rpc(rpc_url: str, seconds: float) -> None:
    """Retry until the endpoint answers (a deployer Job may start before the chain's pod is ready)."""
    from flalliance.chain.client import ChainClient
    from flalliance.chain.errors import ChainError

    deadline = time.monotonic() + seconds
    while True:
        try:
            ChainClient(rpc_url)
            return
        except ChainError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(1.0)


def _configmap_api(ref: str) -> tuple[Any, str, str]:
    from kubernetes import client, config

    namespace, _, name = ref.partition("/")
    if not namespace or not name:
        raise ValueError(f"--configmap must be NAMESPACE/NAME, got {ref!r}")
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.CoreV1Api(), namespace, name


def _published(ref: str, rpc_url: str) -> dict[str, Any] | None:
    """The deployment recorded in the ConfigMap, if its factory still has code on this chain."""
    from flalliance.chain.client import ChainClient

    api, namespace, name = _configmap_api(ref)
    data = api.read_namespaced_config_map(name, namespace).data or {}
    if "deployment.json" not in data:
        return None
    recorded: dict[str, Any] = json.loads(data["deployment.json"])
    code = ChainClient(rpc_url).w3.eth.get_code(recorded["factory"])
    return recorded if len(code) > 0 else None


def _publish(ref: str, result: dict[str, Any]) -> None:
    api, namespace, name = _configmap_api(ref)
    keys = ("token", "arena", "factory", "task_implementation", "randomness", "chain_id", "rpc_url")
    data = {k: str(result[k]) for k in keys if k in result}
    data["deployment.json"] = json.dumps(result, indent=2)
    api.patch_namespaced_config_map(name, namespace, {"data": data})


# ---------------------------------------------------------------------------------------------------------
def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0..65535, got {value}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value

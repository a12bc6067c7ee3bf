"""The worker CLI against a real anvil and a local-directory store: a whole task, step by step.

Each step runs `flalliance-worker` in a subprocess, as a Job pod would; the test plays the operator
(starts rounds, advances the clock, reveals with the sealed vote, finalizes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from flalliance.chain.client import ChainClient
from flalliance.chain.deploy import deploy_system
from flalliance.chain.harness import ETHER, DevTask, derived_accounts
from flalliance.chain.models import Phase, Policy, Status, TaskParams
from flalliance.fl.datasets import load_builtin
from flalliance.fl.partition import PartitionRecord, dirichlet, write_partitions
from flalliance.fl.spec import canonical_json, parse_spec, spec_hash
from flalliance.store.local import LocalStore

pytestmark = pytest.mark.integration

SPEC = {
    "dataset": {"source": "participant", "feature_shape": [64], "num_classes": 10},
    "model": {"kind": "logreg"},
    "training": {"epochs": 2, "batch_size": 16, "optimizer": {"kind": "sgd", "learning_rate": 0.1}},
}


def run_worker(args: list[str], env: dict[str, str], *, expect: int = 0) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "flalliance.worker.cli", *args],
        env={**os.environ, **env, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == expect, (
        f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr[-3000:]}"
    )
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture
def task_setup(chain: ChainClient, tmp_path: Path) -> dict[str, Any]:
    return make_setup(chain, tmp_path, SPEC)


PINNED = "registry.example/flalliance-worker@sha256:" + "ab" * 32


@pytest.fixture
def pinned_setup(chain: ChainClient, tmp_path: Path) -> dict[str, Any]:
    return make_setup(chain, tmp_path, {**SPEC, "runtime": {"image": PINNED}})


def make_setup(chain: ChainClient, tmp_path: Path, spec_doc: dict[str, Any]) -> dict[str, Any]:
    system = deploy_system(chain)
    spec = parse_spec(json.dumps(spec_doc))
    store = LocalStore(tmp_path / "store")
    store.put(canonical_json(spec))
    accounts = derived_accounts(4, label="worker-round-trip")
    members = [ChainClient(chain.rpc_url, a, chain_id=chain.chain_id) for a in accounts]
    params = TaskParams(
        min_stake=10 * ETHER,
        min_participants=4,
        max_participants=4,
        total_rounds=2,
        proposer_fraction_bps=5_000,
        policy=Policy.PER_PROPOSAL,
        join_duration=600,
        max_lifecycle=100_000,
        pioneer_duration=600,
        propose_duration=600,
        commit_duration=600,
        reveal_duration=600,
    )
    dev = DevTask.create(chain, system, params, members=members, training_logic_hash=spec_hash(spec))
    dev.fund(100 * ETHER)
    dev.join_all([(str(a.address), 20 * ETHER) for a in accounts])
    data = load_builtin("digits").train
    parts, _ = dirichlet(data.y, 4, 0.5, seed=3)
    dirs = write_partitions(
        data, parts, tmp_path / "data", PartitionRecord("dirichlet", 4, 3, {"alpha": 0.5})
    )
    keys = {}
    for account in accounts:
        key_file = tmp_path / f"{account.address}.key"
        key_file.write_text("0x" + bytes(account.key).hex())
        key_file.chmod(0o600)
        keys[str(account.address)] = key_file
    return {"dev": dev, "store": tmp_path / "store", "dirs": dict(zip(keys, dirs, strict=True)), "keys": keys}


def env_for(setup: dict[str, Any], address: str) -> dict[str, str]:
    dev: DevTask = setup["dev"]
    return {
        "FLALLIANCE_RPC_URL": dev.owner.rpc_url,
        "FLALLIANCE_CHAIN_ID": str(dev.owner.chain_id),
        "FLALLIANCE_TASK": dev.address,
        "FLALLIANCE_KEY_FILE": str(setup["keys"][address]),
        "FLALLIANCE_DATA_DIR": str(setup["dirs"][address]),
        "FLALLIANCE_STORE_URL": f"file://{setup['store']}",
    }


def test_worker_round_trip(task_setup: dict[str, Any]) -> None:
    dev: DevTask = task_setup["dev"]
    task = dev.task
    for round in range(2):
        task.start_round()
        state = task.state()
        if round == 0:
            assert state.phase == Phase.PIONEERING
            pioneer = task.pioneer_of(0)
            out = run_worker(["pioneer", "--round", "0"], env_for(task_setup, pioneer))
            assert out["status"] == "done"
            again = run_worker(["pioneer", "--round", "0"], env_for(task_setup, pioneer))
            assert again["status"] == "skipped"  # idempotent: the phase moved on
        proposers, voters = dev.roles(round)
        for p in proposers:
            out = run_worker(["train", "--round", str(round)], env_for(task_setup, p))
            assert out["status"] == "done" and out["model_hash"].startswith("0x")
        # Re-running a finished step never submits twice.
        assert task.state().phase == Phase.COMMITTING
        sealed = {}
        for v in voters:
            out = run_worker(["validate", "--round", str(round)], env_for(task_setup, v))
            assert out["status"] == "done" and "sealed_vote" in out
            sealed[v] = out["sealed_vote"]
        again = run_worker(["validate", "--round", str(round)], env_for(task_setup, voters[0]))
        assert again["status"] == "skipped"
        assert task.state().phase == Phase.REVEALING
        for v, s in sealed.items():
            out = run_worker(["reveal", "--round", str(round), "--sealed", s], env_for(task_setup, v))
            assert out["status"] == "done"
        assert task.state().phase == Phase.FINALIZABLE
        task.finalize_round()
        info = task.round_info(round)
        assert info.finalized and info.accepted, info
        if round == 0:  # PerProposal: rewards vest after the end, so a claim during the task has nothing
            out = run_worker(["claim"], env_for(task_setup, voters[0]))
            assert out["status"] == "skipped" and out["reason"] == "nothing to claim or withdraw"
    assert task.state().status == Status.COMPLETED
    for address in task_setup["keys"]:
        out = run_worker(["claim"], env_for(task_setup, address))
        assert out["status"] == "done" and "withdraw_tx" in out
        p = dev.task.participant(address)
        assert p.withdrawn and p.vesting_done and p.claimable == 0  # withdraw vested, then claim paid
        assert (out["vested"], out["forfeited"]) == (p.vested, p.forfeited)
        assert out.get("claimed", 0) == p.vested and out["withdrawn"] == p.stake


def test_wrong_training_logic_is_refused_permanently(task_setup: dict[str, Any], tmp_path: Path) -> None:
    dev: DevTask = task_setup["dev"]
    dev.task.start_round()
    pioneer = dev.task.pioneer_of(0)
    env = env_for(task_setup, pioneer)
    env["FLALLIANCE_STORE_URL"] = f"file://{tmp_path / 'empty-store'}"
    (tmp_path / "empty-store").mkdir()
    out = run_worker(["pioneer", "--round", "0"], env, expect=2)
    assert out["status"] == "failed" and "not in" in out["error"]


def test_missing_settings_name_the_flag(tmp_path: Path) -> None:
    env = {k: "" for k in ("FLALLIANCE_RPC_URL", "FLALLIANCE_TASK", "FLALLIANCE_KEY_FILE")}
    out = run_worker(["train", "--round", "0"], env, expect=2)
    assert "--rpc-url / FLALLIANCE_RPC_URL" in out["error"]


def test_a_worker_refuses_an_image_the_training_logic_does_not_pin(pinned_setup: dict[str, Any]) -> None:
    dev: DevTask = pinned_setup["dev"]
    dev.task.start_round()
    env = env_for(pinned_setup, dev.task.pioneer_of(0))
    other = "flalliance/worker:dev"
    out = run_worker(["pioneer", "--round", "0"], {**env, "FLALLIANCE_WORKER_IMAGE": other}, expect=2)
    assert out["status"] == "failed" and out["permanent"]
    assert PINNED in out["error"] and other in out["error"], out["error"]  # both values named
    assert dev.task.state().phase == Phase.PIONEERING  # nothing was submitted
    ok = run_worker(["pioneer", "--round", "0"], {**env, "FLALLIANCE_WORKER_IMAGE": PINNED})
    assert ok["status"] == "done"

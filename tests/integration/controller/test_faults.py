"""Faults under a running task.

RPC outage: the operator and every worker Job reach anvil through a TCP proxy that the test cuts
(connections refused and dropped) for 60 s while round 0's training Jobs are pending, then restores.
Expected: the FLTask says the chain is unreachable while it is, the task then completes with every round
accepted, and nothing was sent twice: one proposal per proposer and round, one commit and one reveal per
voter and round, and no transaction of the task's accounts failed.

S3 outage: the task's store is a real MinIO (its own user, credentials from a Secret) behind a proxy that
is cut for 60 s just as round 0's training Jobs start. Expected: the trainers ride it out inside their
runs (retrying with back-off, no pod fails), the task completes with every round accepted, nothing is
sent twice, and every model a proposal names on chain is in the store, whole.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from kubernetes import client

from flalliance.chain.client import ChainClient
from flalliance.chain.events import EventReader
from flalliance.chain.models import Status
from flalliance.chain.task import TaskClient
from flalliance.store.s3 import S3Store
from flalliance.testing.minio import MinioServer
from flalliance.testing.operator_thread import OperatorThread
from flalliance.testing.tcp_proxy import TcpProxy

from .test_operator import (
    completed,
    create,
    dump_state,
    fltask,
    get,
    held_training_jobs,
    participant,
    wait_for,
)

pytestmark = pytest.mark.integration

OUTAGE_SECONDS = 60


@pytest.fixture
def proxy(chain: ChainClient) -> Iterator[TcpProxy]:
    with TcpProxy(chain.rpc_url) as p:
        yield p


def _chain_condition(api: client.ApiClient, ns: str) -> dict[str, Any] | None:
    conditions = get(api, ns, "fltasks", "digits").get("status", {}).get("conditions", [])
    return next((c for c in conditions if c["type"] == "ChainReachable"), None)


def unreachable_while(api: client.ApiClient, ns: str, seconds: float) -> bool:
    """Watch the FLTask for `seconds`: whether it ever said ChainReachable=False meanwhile."""
    seen = False
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        cond = _chain_condition(api, ns)
        seen = seen or (cond is not None and cond["status"] == "False")
        time.sleep(1)
    return seen


def assert_reachable_again(api: client.ApiClient, ns: str) -> None:
    reachable = _chain_condition(api, ns)
    assert reachable is not None and reachable["status"] == "True"


@dataclass
class FaultRun:
    address: str  # the task contract
    trainers: list[str]  # round 0's training Jobs, held until the fault was in place
    done: dict[str, Any]  # the FLTask's status at completion


def run_with_fault_in_training(
    api: client.ApiClient, ns: str, kubelet: Any, body: dict[str, Any], fault: Callable[[list[str]], None]
) -> FaultRun:
    """Create the FLTask `body` and four Participants, run the operator, call `fault(trainers)` once round
    0's training Jobs exist (held: none has run yet), then play the kubelet until the task completes."""
    create(api, ns, "fltasks", body)
    for i in range(4):
        create(api, ns, "participants", participant(i))
    operator = OperatorThread(api, ns)
    operator.start()
    try:
        address = wait_for(
            "contract", lambda: get(api, ns, "fltasks", "digits").get("status", {}).get("contractAddress")
        )
        trainers = wait_for(
            "training jobs", lambda: held_training_jobs(kubelet, api, ns), dump=lambda: dump_state(api, ns)
        )
        fault(trainers)
        done = wait_for(
            "completion", lambda: completed(api, ns), kubelet, timeout=600, dump=lambda: dump_state(api, ns)
        )
    finally:
        operator.stop()
    return FaultRun(address, trainers, done)


def test_an_rpc_outage_of_a_minute_mid_round_loses_nothing_and_sends_nothing_twice(
    kube_api: client.ApiClient, ns: str, world: dict[str, Any], make_kubelet: Any, proxy: TcpProxy
) -> None:
    chain: ChainClient = world["chain"]
    start_block = chain.block_number()
    body = fltask(world)
    body["spec"]["chain"]["rpcUrl"] = proxy.url
    unreachable: list[bool] = []

    def outage(_: list[str]) -> None:
        proxy.cut()
        unreachable.append(unreachable_while(kube_api, ns, OUTAGE_SECONDS))
        proxy.restore()

    run = run_with_fault_in_training(kube_api, ns, make_kubelet(ns, world["data_dirs"]), body, outage)
    assert unreachable == [True], "the FLTask never reported the chain unreachable during the outage"
    assert_reachable_again(kube_api, ns)
    assert_completed_once(world, run.address, start_block, run.done)


def assert_completed_once(
    world: dict[str, Any], address: str, start_block: int, done: dict[str, Any]
) -> list[Any]:
    """Completed, every round accepted, one proposal/commit/reveal per account and round, no failed
    transaction of the task's accounts; the task's events."""
    chain: ChainClient = world["chain"]
    task = TaskClient(chain, address)
    assert task.state().status == Status.COMPLETED
    assert all(r["accepted"] for r in done["rounds"]) and len(done["rounds"]) == 2
    events = EventReader(chain, task.contract, start_block=start_block).poll()
    once = Counter(
        (e.name, int(e.args["round"]), str(e.args.get("proposer") or e.args.get("voter")))
        for e in events
        if e.name in ("ProposalSubmitted", "VoteCommitted", "VoteRevealed")
    )
    assert once and max(once.values()) == 1, once
    accounts = {a.address.lower() for a in world["accounts"]} | {(chain.address or "").lower()}
    for number in range(start_block + 1, chain.block_number() + 1):
        block = chain.w3.eth.get_block(number, full_transactions=True)
        for tx in block["transactions"]:
            if str(tx["from"]).lower() in accounts:  # type: ignore[index]
                receipt = chain.w3.eth.get_transaction_receipt(tx["hash"])  # type: ignore[index]
                assert receipt["status"] == 1, f"a failed transaction in block {number}: {tx}"
    return events


def test_an_s3_outage_of_a_minute_during_training_is_ridden_out_and_loses_nothing(
    kube_api: client.ApiClient, ns: str, world: dict[str, Any], make_kubelet: Any, minio: MinioServer
) -> None:
    chain: ChainClient = world["chain"]
    start_block = chain.block_number()
    prefix = f"faults/{ns}"
    creds = minio.add_user(
        f"faults-{ns}",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject"],
                    "Resource": [f"arn:aws:s3:::{minio.bucket}/{prefix}/*"],
                }
            ],
        },
    )
    client.CoreV1Api(kube_api).create_namespaced_secret(
        ns,
        {
            "metadata": {"name": "s3-credentials"},
            "stringData": {"accessKeyId": creds.access_key, "secretAccessKey": creds.secret_key},
        },
    )
    kubelet = make_kubelet(ns, world["data_dirs"])
    with TcpProxy(minio.endpoint) as proxy:
        store = {
            "url": f"s3://{minio.bucket}/{prefix}?endpoint={proxy.url}",
            "credentialsSecret": "s3-credentials",
        }

        def outage(_: list[str]) -> None:
            proxy.cut()
            # The kubelet starts the trainers now, while the store is down; they run in this thread.
            running = threading.Thread(target=kubelet.step, daemon=True)
            running.start()
            time.sleep(OUTAGE_SECONDS)
            proxy.restore()
            running.join(timeout=300)
            assert not running.is_alive()

        run = run_with_fault_in_training(kube_api, ns, kubelet, fltask(world, store=store), outage)
    trainers = run.trainers
    first_runs = [r for r in kubelet.runs if r["job"] in trainers]
    assert first_runs and all(r["exit"] == 0 for r in first_runs), first_runs
    assert len(first_runs) == len(trainers), "a trainer's pod failed and was started again"
    assert any("retrying in" in r["stderr"] for r in first_runs), "no trainer ever met the outage"
    events = assert_completed_once(world, run.address, start_block, run.done)
    reader = S3Store(
        minio.bucket, prefix, endpoint=minio.endpoint, client=minio.client(creds)
    )  # the task's own credentials, straight to the server
    models = [bytes(e.args["modelHash"]) for e in events if e.name == "ProposalSubmitted"]
    assert models
    for digest in models:
        assert reader.get(digest), digest.hex()

"""The example task (examples/digits) on a real Ethereum client: the chart's dev chain as geth --dev
sealing a block every 2 s (`devChain.client=geth`), with the operator and every worker trusting receipts
and events one block deep (`spec.chain.confirmations: 1`).

What anvil's instant blocks hide: receipts that arrive only with a later block, phase deadlines that pass
by the wall clock, a fee market. Checked: the task completes with every round finalized, the attacker's
every proposal rejected and slashed, every honest participant gains and the attacker ends below its
stake, tokens are conserved, and the escrow is balanced and solvent once the pool is refunded. The round
time is printed (the anvil run's is test_federated_task's).

Four rounds instead of the example's ten (two epochs: everyone proposes twice), to keep `make test`
within its time; the chain, the chart, the images and the manifests are the example's.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from flalliance.chain.client import ChainClient
from flalliance.chain.events import DecodedEvent, EventReader
from flalliance.chain.geth import GETH_CHAIN_ID
from flalliance.chain.task import TaskClient
from flalliance.chain.token import TokenClient
from flalliance.demo.outcome import TaskOutcome, read_outcome
from flalliance.demo.port_forward import port_forward

from .release import Release, apply, example_docs, install, make_tools, namespace_for, wait_deployer

pytestmark = pytest.mark.e2e

GROUP, VERSION = "flalliance.io", "v1alpha1"
ROUNDS = 4
BLOCK_SECONDS = 2


@dataclass
class GethRun:
    outcome: TaskOutcome
    events: list[DecodedEvent]
    participants: list[dict[str, Any]]
    supply_before: int
    seconds: float
    client_version: str

    def by_name(self) -> dict[str, str]:
        return {p["status"]["address"]: p["metadata"]["name"] for p in self.participants}


def _wait_done(api: client.ApiClient, ns: str, timeout: float = 900) -> float:
    """Wait for the task's end (the seconds it took), then for its settlement: every Participant withdrawn
    and the pool refunded (with real blocks these land several blocks after the last round)."""
    co, core = client.CustomObjectsApi(api), client.CoreV1Api(api)
    start = time.monotonic()
    deadline, ended = start + timeout, 0.0
    st: dict[str, Any] = {}
    while time.monotonic() < deadline:
        st = co.get_namespaced_custom_object(GROUP, VERSION, ns, "fltasks", "digits").get("status") or {}
        if st.get("phase") in ("Failed", "Expired"):
            return time.monotonic() - start
        if st.get("phase") == "Completed":
            ended = ended or time.monotonic() - start
            parts = co.list_namespaced_custom_object(GROUP, VERSION, ns, "participants")["items"]
            withdrawn = all((p.get("status") or {}).get("phase") == "Withdrawn" for p in parts)
            refunded = any(e.reason == "PoolRefunded" for e in core.list_namespaced_event(ns).items)
            if withdrawn and refunded:
                return ended
        time.sleep(1)
    pytest.fail(f"the task on geth did not end and settle within {timeout:.0f} s: {st}")


@pytest.fixture(scope="module")
def geth_run(api_client: client.ApiClient, kubeconfig: Path) -> Iterator[GethRun]:
    tools = make_tools(kubeconfig)
    with namespace_for(api_client, "e2e-geth") as ns:
        rel = Release("e2e-geth", ns, tools)
        try:
            install(
                rel,
                "devChain.enabled=true",
                "devChain.client=geth",
                f"devChain.blockTime={BLOCK_SECONDS}",
                "store.enabled=true",
                "testMode=true",
                f"watchNamespaces={{{ns}}}",
            )
            addresses = wait_deployer(api_client, rel)
            apply(rel, example_docs(rel, "wallets") + example_docs(rel, "data"))
            rel.kubectl("wait", "--for=condition=complete", "job/digits-data", "--timeout=300s")
            fltask = example_docs(rel, "fltask")
            for d in fltask:
                if d["kind"] == "FLTask":  # geth's chain id, and the addresses its deployer got
                    d["spec"]["chain"]["chainId"] = GETH_CHAIN_ID
                    d["spec"]["chain"]["factoryAddress"] = addresses["factory"]
                    d["spec"]["chain"]["confirmations"] = 1
                    d["spec"]["rounds"] = ROUNDS
            forward = {"kubectl": tools.kubectl_bin, "kubeconfig": str(kubeconfig)}
            with port_forward(ns, rel.devchain, 8545, **forward) as port:
                chain = ChainClient(f"http://127.0.0.1:{port}")
                supply_before = TokenClient(chain, addresses["token"]).total_supply()
            apply(rel, fltask + example_docs(rel, "participants"))
            seconds = _wait_done(api_client, ns)
            co = client.CustomObjectsApi(api_client)
            task = co.get_namespaced_custom_object(GROUP, VERSION, ns, "fltasks", "digits")
            parts = co.list_namespaced_custom_object(GROUP, VERSION, ns, "participants")["items"]
            with port_forward(ns, rel.devchain, 8545, **forward) as port:
                chain = ChainClient(f"http://127.0.0.1:{port}")
                outcome = read_outcome(chain, task, parts)
                events = EventReader(chain, TaskClient(chain, outcome.contract).contract).poll()
                version = str(chain.w3.client_version)
            yield GethRun(outcome, events, parts, supply_before, seconds, version)
        finally:
            rel.kubectl("delete", "fltasks,participants", "--all", "--wait", "--timeout=120s", check=False)
            rel.helm("uninstall", rel.name, "--wait", "--timeout", "3m", check=False)


def test_the_example_task_completes_on_geth(geth_run: GethRun, figures: list[str]) -> None:
    o = geth_run.outcome
    assert geth_run.client_version.startswith("Geth/"), geth_run.client_version
    assert o.chain_id == GETH_CHAIN_ID
    assert o.phase == "Completed", o.phase
    assert [r.round for r in o.rounds] == list(range(ROUNDS))
    finalized = [e for e in geth_run.events if e.name == "RoundFinalized"]
    assert len(finalized) == ROUNDS and not any(e.args["aborted"] for e in finalized)
    figures.append(
        f"example task on geth ({BLOCK_SECONDS} s blocks, 1 confirmation): {ROUNDS} rounds in "
        f"{geth_run.seconds:.0f} s, {geth_run.seconds / ROUNDS:.1f} s per round"
    )


def test_on_geth_the_attacker_loses_and_the_honest_gain(geth_run: GethRun) -> None:
    names = geth_run.by_name()
    verdicts = {e.args["round"]: e.args["verdicts"] for e in geth_run.events if e.name == "RoundFinalized"}
    outcomes: dict[str, list[bool]] = collections.defaultdict(list)
    for e in geth_run.events:
        if e.name == "ProposalSubmitted":
            outcomes[names[e.args["proposer"]]].append(bool(verdicts[e.args["round"]] >> e.args["index"] & 1))
    assert outcomes["p4"] and not any(outcomes["p4"]), outcomes
    participants = {p.name: p for p in geth_run.outcome.participants}
    assert participants["p4"].net_wei < 0 and participants["p4"].slashed_wei > 0, participants["p4"]
    for name in ("p1", "p2", "p3"):
        assert participants[name].net_wei > 0 and participants[name].withdrawn, participants[name]
    assert geth_run.outcome.total_supply_wei == geth_run.supply_before
    assert geth_run.outcome.escrow.balanced and geth_run.outcome.escrow.solvent

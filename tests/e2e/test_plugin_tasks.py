"""Tasks that train what their users bring, run by the chart's operator on a real cluster, one release:

1. examples/llm-lora: federated LoRA fine-tuning of a small causal LM (the lora_causal_lm plugin), the base
   model fetched from the store by its pinned hash, four participants of which p4 trains on poisoned
   text. Evaluation loss must fall from the base model's on every voter's split; p4's adapters must be
   rejected and slashed.
2. examples/plugin-ridge: a plugin outside flalliance (entry point "ridge"), in its own image
   FROM the worker, which the training logic pins by digest: the Jobs run exactly that image, and the task
   completes with the MSE falling.

The two run one after the other on the same dev chain (one operator key signs for both tasks).
"""

from __future__ import annotations

import collections
import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from flalliance.chain.client import ChainClient
from flalliance.chain.events import DecodedEvent, EventReader
from flalliance.chain.task import TaskClient
from flalliance.demo.outcome import TaskOutcome, read_outcome
from flalliance.demo.port_forward import port_forward

from .release import (
    REPO_ROOT,
    Release,
    apply,
    example_docs,
    install,
    make_tools,
    namespace_for,
    wait_deployer,
)

pytestmark = pytest.mark.e2e

GROUP, VERSION = "flalliance.io", "v1alpha1"
LLM_ROUNDS, RIDGE_ROUNDS = 4, 3


@dataclass
class TaskRun:
    name: str
    task: dict[str, Any]
    participants: list[dict[str, Any]]
    outcome: TaskOutcome
    events: list[DecodedEvent]
    results: list[dict[str, Any]]  # every worker's JSON result (termination message), with its Job's labels
    images: set[str]
    seconds: float

    def by_name(self) -> dict[str, str]:
        return {p["status"]["address"]: p["metadata"]["name"] for p in self.participants}


def _wait_done(api: client.ApiClient, ns: str, name: str, timeout: float = 900) -> None:
    co = client.CustomObjectsApi(api)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = co.get_namespaced_custom_object(GROUP, VERSION, ns, "fltasks", name).get("status") or {}
        if st.get("phase") in ("Completed", "Failed", "Expired"):
            return
        time.sleep(1)
    pytest.fail(f"task {name} did not end within {timeout:.0f} s: {st}")


def _results(api: client.ApiClient, ns: str, task: str) -> tuple[list[dict[str, Any]], set[str]]:
    pods = client.CoreV1Api(api).list_namespaced_pod(ns, label_selector=f"flalliance.io/task={task}").items
    out: list[dict[str, Any]] = []
    images: set[str] = set()
    for pod in pods:
        images.update(c.image for c in pod.spec.containers)
        for cs in pod.status.container_statuses or []:
            term = cs.state.terminated
            if term is not None and term.exit_code == 0 and term.message:
                out.append({**json.loads(term.message), "labels": dict(pod.metadata.labels)})
    return out, images


def _run_task(
    api: client.ApiClient, rel: Release, kubeconfig: Path, name: str, docs: list[dict[str, Any]]
) -> TaskRun:
    start = time.monotonic()
    apply(rel, docs)
    _wait_done(api, rel.namespace, name)
    seconds = time.monotonic() - start
    co = client.CustomObjectsApi(api)
    task = co.get_namespaced_custom_object(GROUP, VERSION, rel.namespace, "fltasks", name)
    parts = [
        p
        for p in co.list_namespaced_custom_object(GROUP, VERSION, rel.namespace, "participants")["items"]
        if p["spec"]["taskRef"]["name"] == name
    ]
    results, images = _results(api, rel.namespace, name)
    tools = rel.tools
    with port_forward(
        rel.namespace, rel.devchain, 8545, kubectl=tools.kubectl_bin, kubeconfig=str(kubeconfig)
    ) as port:
        chain = ChainClient(f"http://127.0.0.1:{port}")
        outcome = read_outcome(chain, task, parts)
        events = EventReader(chain, TaskClient(chain, outcome.contract).contract).poll()
    return TaskRun(name, task, parts, outcome, events, results, images, seconds)


def _image_digest(kubeconfig: Path, image: str) -> str:
    """The manifest digest the local cluster's containerd holds for ``image`` (its repo digest)."""
    env_file = REPO_ROOT / ".state" / "cluster" / "env"
    if not env_file.is_file():
        pytest.skip("pinning an image by digest needs the local cluster's containerd (make cluster)")
    env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    crictl = REPO_ROOT / ".state" / "cluster" / "bin" / "crictl"
    endpoint = f"unix://{env['FLALLIANCE_CTR_SOCK']}"
    out = subprocess.run(
        [str(crictl), "--runtime-endpoint", endpoint, "inspecti", "-o", "json", image],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    digests = json.loads(out.stdout)["status"]["repoDigests"]
    assert digests, f"containerd holds no repo digest for {image}"
    return str(digests[0])


@dataclass
class Runs:
    llm: TaskRun
    ridge: TaskRun
    pinned: str  # the ridge task's worker image, by digest


@pytest.fixture(scope="module")
def runs(api_client: client.ApiClient, kubeconfig: Path) -> Iterator[Runs]:
    tools = make_tools(kubeconfig)
    with namespace_for(api_client, "e2e-plugins") as ns:
        rel = Release("e2e-flalliance", ns, tools)
        try:
            sets = ["devChain.enabled=true", "store.enabled=true", "testMode=true"]
            install(rel, *sets, f"watchNamespaces={{{ns}}}")
            wait_deployer(api_client, rel)
            apply(rel, example_docs(rel, "wallets", "llm-lora") + example_docs(rel, "data", "llm-lora"))
            ridge = example_docs(rel, "task", "plugin-ridge")
            apply(rel, [d for d in ridge if d["kind"] in ("PersistentVolumeClaim", "Job")])
            rel.kubectl(
                "wait", "--for=condition=complete", "job/llm-data", "job/ridge-data", "--timeout=300s"
            )
            llm = _run_task(
                api_client, rel, kubeconfig, "llm-lora",
                example_docs(rel, "fltask", "llm-lora") + example_docs(rel, "participants", "llm-lora"),
            )  # fmt: skip
            pinned = _image_digest(kubeconfig, "docker.io/flalliance/worker-ridge:dev")
            task_docs = [d for d in ridge if d["kind"] in ("FLTask", "Participant")]
            for d in task_docs:
                if d["kind"] == "FLTask":
                    d["spec"]["trainingLogic"]["inline"]["runtime"]["image"] = pinned
            yield Runs(llm, _run_task(api_client, rel, kubeconfig, "ridge", task_docs), pinned)
        finally:
            rel.kubectl("delete", "fltasks,participants", "--all", "--wait", "--timeout=120s", check=False)
            rel.helm("uninstall", rel.name, "--wait", "--timeout", "3m", check=False)


def test_lora_task_completes_and_only_adapters_travel(runs: Runs, figures: list[str]) -> None:
    run = runs.llm
    assert run.outcome.phase == "Completed", run.task.get("status", {}).get("conditions")
    finalized = [e for e in run.events if e.name == "RoundFinalized"]
    assert len(finalized) == LLM_ROUNDS and not any(e.args["aborted"] for e in finalized)
    trains = [r for r in run.results if r.get("command") == "train"]
    assert trains and all(r["plugin"] == "lora_causal_lm" and r["device"] == "cpu" for r in trains), trains
    # adapters (rank 8 on 28 projections, 116,736 float32 values) against the 8.6 MB base model
    assert all(r["bytes"] < 600_000 for r in trains), [r["bytes"] for r in trains]
    figures.append(f"llm-lora: {run.seconds:.0f} s, adapter bytes {sorted({r['bytes'] for r in trains})}")


def test_evaluation_loss_falls_on_every_voters_split(runs: Runs, figures: list[str]) -> None:
    """Every voter's last measurement of the aggregate is below the base model's loss, where the task
    started. The start is measured by round 0's voters (their baseline is the untrained base model, which
    predicts near-uniformly: its loss is the same on every split to a few thousandths of a nat, 7.028 and
    7.031 at stop 26). A voter's first measurement in a later round is no start: the committee draw decides
    when a voter first votes, and after round 0 an honest adapter trained on other skills can raise a
    split's loss by more than a round gains (p3 at stop 26: 5.242 in round 1, 5.119, then 5.387 in round 2,
    under Dirichlet(0.5) skills)."""
    run = runs.llm
    names = {p["metadata"]["name"] for p in run.participants}
    votes: dict[str, list[tuple[int, float, float]]] = collections.defaultdict(list)
    for r in run.results:
        if r.get("command") == "validate" and r.get("aggregate_metric") is not None:
            assert r["metric"] == "cross_entropy"
            votes[r["labels"]["flalliance.io/participant"]].append(
                (r["round"], r["baseline"], r["aggregate_metric"])
            )
    assert set(votes) <= names and len(votes) >= 3, votes
    start = [baseline for seen in votes.values() for rnd, baseline, _ in seen if rnd == 0]
    assert start, f"no voter measured the base model in round 0: {dict(votes)}"
    assert max(start) - min(start) < 0.1, start  # the untrained model scores alike on every split
    for who, seen in sorted(votes.items()):
        seen.sort()
        last_aggregate = seen[-1][2]
        figures.append(
            f"{who}: loss {min(start):.3f} (base model) -> "
            + ", ".join(f"{a:.3f} (round {rnd})" for rnd, _, a in seen)
        )
        # far beyond noise: the aggregates end 1.6-1.8 nats below the base model (stop 26)
        assert last_aggregate < min(start) - 0.5, (who, seen, start)


def test_the_poisoned_adapters_are_rejected_and_slashed(runs: Runs) -> None:
    run = runs.llm
    names = run.by_name()
    verdicts = {e.args["round"]: e.args["verdicts"] for e in run.events if e.name == "RoundFinalized"}
    slashed = {
        (e.args["round"], e.args["account"])
        for e in run.events
        if e.name == "Slashed" and e.args["reason"] == 1
    }
    p4 = []
    for e in run.events:
        if e.name == "ProposalSubmitted" and names[e.args["proposer"]] == "p4":
            accepted = bool(verdicts[e.args["round"]] >> e.args["index"] & 1)
            p4.append(accepted)
            assert (e.args["round"], e.args["proposer"]) in slashed
    assert p4 and not any(p4), f"p4's poisoned adapters: accepted {p4}"
    attacker = next(p for p in run.outcome.participants if p.name == "p4")
    assert attacker.net_wei < 0, attacker


def test_a_users_plugin_runs_in_its_image_pinned_by_digest(runs: Runs) -> None:
    run, pinned = runs.ridge, runs.pinned
    assert run.outcome.phase == "Completed", run.task.get("status", {}).get("conditions")
    assert run.images == {pinned}, run.images  # every worker pod ran exactly the pinned image
    trains = [r for r in run.results if r.get("command") == "train"]
    assert len(trains) == RIDGE_ROUNDS and all(r["plugin"] == "ridge" for r in trains)
    # the MSE falls: the voters' mean measurement of the global model in the first round, against their
    # mean measurement of the aggregate they voted on in the last
    by_round: dict[int, list[tuple[float, float | None]]] = collections.defaultdict(list)
    for r in run.results:
        if r.get("command") == "validate":
            by_round[r["round"]].append((r["baseline"], r["aggregate_metric"]))
    first = sum(b for b, _ in by_round[0]) / len(by_round[0])
    last = [a for _, a in by_round[max(by_round)] if a is not None]
    assert last and sum(last) / len(last) < first, dict(by_round)
    assert all(p.net_wei > 0 for p in run.outcome.participants), run.outcome.participants

"""The example task (examples/digits: four participants, one of them proposing noise) run by the chart's
operator on a real cluster, with real worker pods, real training and a real chain, disturbed on purpose:

- in round 3 the operator's leader pod is deleted while the round's training Jobs run (two replicas: the
  standby takes the Lease over);
- in round 6 a running training pod is killed (its Job retries it).

One run (about three minutes) is shared by the tests below, each checking one promise about it.
"""

from __future__ import annotations

import collections
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from flalliance.chain.client import ChainClient
from flalliance.chain.events import DecodedEvent, EventReader
from flalliance.chain.task import TaskClient
from flalliance.chain.token import TokenClient
from flalliance.demo.outcome import TaskOutcome, read_outcome
from flalliance.demo.port_forward import port_forward

from .release import Release, apply, example_docs, install, make_tools, namespace_for, wait_deployer

pytestmark = pytest.mark.e2e

GROUP, VERSION = "flalliance.io", "v1alpha1"
ROUNDS = 10
# Accuracy as the voters report it on their private test sets (a few dozen samples each, skewed classes):
# it moves several points from round to round. Runs measured 83-97% in the final round (docs/results.md).
ACCURACY_TARGET = 0.80
CHANCE = 0.10  # ten digit classes
OPERATOR_KILL_ROUND, WORKER_KILL_ROUND = 2, 5  # 0-based: the third and the sixth round


@dataclass
class Run:
    release: Release
    task: dict[str, Any]
    participants: list[dict[str, Any]]
    jobs: list[client.V1Job]
    outcome: TaskOutcome
    events: list[DecodedEvent]
    supply_before: int
    supply_after: int
    seconds: float
    operator_killed: str = ""
    operator_after: str = ""
    worker_killed: str = ""  # the Job whose pod was killed
    takeover_seconds: float = 0.0  # from the leader's deletion to the Lease held by another replica
    operator_restarts: dict[str, int] = field(default_factory=dict)  # every operator pod at the end
    metrics: str = ""  # the leader's /metrics at the end
    log: list[str] = field(default_factory=list)

    def by_name(self) -> dict[str, str]:
        return {p["status"]["address"]: p["metadata"]["name"] for p in self.participants}


def _lease_holder(api: client.ApiClient, rel: Release) -> str:
    lease = client.CoordinationV1Api(api).read_namespaced_lease(rel.fullname, rel.namespace)
    return str(lease.spec.holder_identity or "")


def _running_pods(api: client.ApiClient, ns: str, selector: str) -> list[client.V1Pod]:
    pods = client.CoreV1Api(api).list_namespaced_pod(ns, label_selector=selector).items
    return [p for p in pods if p.status.phase == "Running" and p.metadata.deletion_timestamp is None]


def _drive(api: client.ApiClient, rel: Release, run_log: list[str]) -> dict[str, Any]:
    """Follow the task to its end, deleting the leader and a worker pod on the way; says what it killed."""
    co, core = client.CustomObjectsApi(api), client.CoreV1Api(api)
    ns = rel.namespace
    killed: dict[str, Any] = {"operator": "", "operator_after": "", "worker": "", "takeover": 0.0}
    deleted_at = 0.0
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        task = co.get_namespaced_custom_object(GROUP, VERSION, ns, "fltasks", "digits")
        st = task.get("status") or {}
        if st.get("phase") in ("Completed", "Failed", "Expired"):
            return killed
        rnd = st.get("round")
        train = f"flalliance.io/task=digits,flalliance.io/kind=train,flalliance.io/round={rnd}"
        if rnd == OPERATOR_KILL_ROUND and not killed["operator"] and _running_pods(api, ns, train):
            leader = _lease_holder(api, rel)
            core.delete_namespaced_pod(leader, ns)
            deleted_at = time.monotonic()
            killed["operator"] = leader
            run_log.append(f"round {rnd} ({st.get('roundPhase')}): deleted the leader pod {leader}")
        if killed["operator"] and not killed["operator_after"]:
            holder = _lease_holder(api, rel)
            if holder and holder != killed["operator"]:
                killed["operator_after"] = holder
                killed["takeover"] = time.monotonic() - deleted_at
                run_log.append(f"{holder} took the Lease over after {killed['takeover']:.1f} s")
        if rnd == WORKER_KILL_ROUND and not killed["worker"]:
            pods = _running_pods(api, ns, train)
            if pods:
                pod = pods[0]
                core.delete_namespaced_pod(pod.metadata.name, ns, grace_period_seconds=0)
                killed["worker"] = pod.metadata.labels["job-name"]
                run_log.append(f"round {rnd}: killed worker pod {pod.metadata.name}")
        time.sleep(0.3)
    pytest.fail(f"the task did not end within 900 s; log: {run_log}")


@pytest.fixture(scope="module")
def run(api_client: client.ApiClient, kubeconfig: Path) -> Iterator[Run]:
    tools = make_tools(kubeconfig)
    with namespace_for(api_client, "e2e-task") as ns:
        rel = Release("e2e-flalliance", ns, tools)
        try:
            install(
                rel,
                "devChain.enabled=true",
                "store.enabled=true",
                "replicas=2",
                "testMode=true",
                f"watchNamespaces={{{ns}}}",
            )
            addresses = wait_deployer(api_client, rel)
            apply(rel, example_docs(rel, "wallets") + example_docs(rel, "data"))
            rel.kubectl("wait", "--for=condition=complete", "job/digits-data", "--timeout=300s")
            with port_forward(
                ns, rel.devchain, 8545, kubectl=tools.kubectl_bin, kubeconfig=str(kubeconfig)
            ) as port:
                chain = ChainClient(f"http://127.0.0.1:{port}")
                supply_before = TokenClient(chain, addresses["token"]).total_supply()
            start = time.monotonic()
            apply(rel, example_docs(rel, "fltask") + example_docs(rel, "participants"))
            log: list[str] = []
            killed = _drive(api_client, rel, log)
            seconds = time.monotonic() - start
            co = client.CustomObjectsApi(api_client)
            task = co.get_namespaced_custom_object(GROUP, VERSION, ns, "fltasks", "digits")
            parts = co.list_namespaced_custom_object(GROUP, VERSION, ns, "participants")["items"]
            jobs = (
                client.BatchV1Api(api_client)
                .list_namespaced_job(ns, label_selector="flalliance.io/task=digits")
                .items
            )
            with port_forward(
                ns, rel.devchain, 8545, kubectl=tools.kubectl_bin, kubeconfig=str(kubeconfig)
            ) as port:
                chain = ChainClient(f"http://127.0.0.1:{port}")
                outcome = read_outcome(chain, task, parts)
                events = EventReader(chain, TaskClient(chain, outcome.contract).contract).poll()
            operators = client.CoreV1Api(api_client).list_namespaced_pod(
                ns, label_selector="app.kubernetes.io/component=operator"
            )
            restarts = {
                p.metadata.name: sum(c.restart_count for c in p.status.container_statuses or [])
                for p in operators.items
            }
            leader = _lease_holder(api_client, rel)
            with (
                port_forward(
                    ns, f"pod/{leader}", 8080, kubectl=tools.kubectl_bin, kubeconfig=str(kubeconfig)
                ) as port,
                urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply,
            ):
                scraped = reply.read().decode()
            yield Run(
                release=rel, task=task, participants=parts, jobs=jobs, outcome=outcome, events=events,
                supply_before=supply_before, supply_after=outcome.total_supply_wei, seconds=seconds,
                operator_killed=killed["operator"], operator_after=killed["operator_after"],
                worker_killed=killed["worker"], takeover_seconds=killed["takeover"],
                operator_restarts=restarts, metrics=scraped, log=log,
            )  # fmt: skip
        finally:
            # The FLTask's finalizer needs the operator: delete the example before the release.
            rel.kubectl("delete", "fltasks,participants", "--all", "--wait", "--timeout=120s", check=False)
            rel.helm("uninstall", rel.name, "--wait", "--timeout", "3m", check=False)


def test_no_operator_replica_restarts_over_the_whole_task(run: Run) -> None:
    """Two replicas: the standby answers its liveness probe too (it was killed about every 70 s before)."""
    assert len(run.operator_restarts) == 2, run.operator_restarts
    assert not any(run.operator_restarts.values()), run.operator_restarts


def _samples(text: str, name: str) -> dict[str, float]:
    """The samples of one metric in Prometheus' text format: labels -> value."""
    out = {}
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            labels, _, value = line[len(name) :].rpartition(" ")
            out[labels] = float(value)
    return out


def test_every_advertised_metric_is_updated(run: Run) -> None:
    """Scraped from the replica that led since round 3 (before: jobs_total and phase_duration_seconds were
    never updated, and rounds_total's only outcome was `finalized`)."""
    jobs = _samples(run.metrics, "flalliance_jobs_total")
    assert jobs.get('{kind="train",outcome="succeeded"}', 0) >= 2 * (ROUNDS - OPERATOR_KILL_ROUND - 1), jobs
    assert jobs.get('{kind="validate",outcome="succeeded"}', 0) >= 2, jobs
    rounds = _samples(run.metrics, "flalliance_rounds_total")
    assert rounds and all('outcome="finalized"' not in k for k in rounds), rounds
    assert sum(rounds.values()) >= ROUNDS - OPERATOR_KILL_ROUND - 1, rounds
    assert sum(v for k, v in rounds.items() if 'outcome="accepted"' in k) >= 1, rounds
    phases = _samples(run.metrics, "flalliance_phase_duration_seconds_count")
    for phase in ("Proposing", "Committing", "Revealing"):
        assert phases.get(f'{{phase="{phase}"}}', 0) >= 1, phases
    for name in (
        "flalliance_reconciles_total",
        "flalliance_actions_total",
        "flalliance_task_round",
        "flalliance_chain_tx_seconds_count",
        "flalliance_reconcile_stage_seconds_count",
        "flalliance_kube_requests_total",
    ):
        assert sum(_samples(run.metrics, name).values()) > 0, name


def test_every_round_completes(run: Run) -> None:
    o = run.outcome
    assert o.phase == "Completed", (o.phase, run.task.get("status", {}).get("conditions"))
    assert [r.round for r in o.rounds] == list(range(ROUNDS))
    assert all(r.accepted is not None for r in o.rounds), o.rounds
    finalized = [e for e in run.events if e.name == "RoundFinalized"]
    assert len(finalized) == ROUNDS and not any(e.args["aborted"] for e in finalized)


def test_every_malicious_proposal_is_rejected_and_slashed(run: Run, figures: list[str]) -> None:
    names = run.by_name()
    verdicts = {e.args["round"]: e.args["verdicts"] for e in run.events if e.name == "RoundFinalized"}
    # Slashed reason 1: a rejected proposal (0: absent, 2: a vote on the losing side).
    slashed = {
        (e.args["round"], e.args["account"])
        for e in run.events
        if e.name == "Slashed" and e.args["reason"] == 1
    }
    outcomes: dict[str, list[bool]] = collections.defaultdict(list)
    for e in run.events:
        if e.name != "ProposalSubmitted":
            continue
        rnd, who = e.args["round"], e.args["proposer"]
        accepted = bool(verdicts[rnd] >> e.args["index"] & 1)
        outcomes[names[who]].append(accepted)
        # The protocol's rule, per proposal: slashed exactly when rejected.
        assert ((rnd, who) in slashed) is not accepted, f"round {rnd}: {names[who]} accepted={accepted}"
    attacker = outcomes["p4"]
    figures.append(
        f"p4 (label flip): {attacker.count(False)} of {len(attacker)} rejected and slashed; honest: "
        + ", ".join(f"{n} {v.count(False)}/{len(v)}" for n, v in sorted(outcomes.items()) if n != "p4")
    )
    assert attacker, "p4 never proposed: the run proves nothing about rejection"
    assert not any(attacker), f"p4's poisoned proposals were accepted: {attacker}"
    p4 = next(p for p in run.outcome.participants if p.name == "p4")
    honest = [p for p in run.outcome.participants if p.behaviour == "honest"]
    assert p4.slashed_wei > 0 and p4.net_wei < min(p.net_wei for p in honest), run.outcome.participants
    # Contribution vesting: with no accepted proposal nothing vests, so cheating ends below the stake.
    assert p4.net_wei < 0, f"the attacker ended with a gain: {p4}"


def test_honest_participants_gain_and_tokens_are_conserved(run: Run) -> None:
    honest = [p for p in run.outcome.participants if p.behaviour == "honest"]
    assert len(honest) == 3
    for p in honest:
        assert p.net_wei > 0, f"{p.name} ended without a net gain: {p}"
        assert p.withdrawn and p.claimable_wei == 0, f"{p.name} was not paid out: {p}"
    attacker = next(p for p in run.outcome.participants if p.behaviour != "honest")
    assert attacker.net_wei < min(p.net_wei for p in honest)
    assert run.supply_after == run.supply_before, "FML was minted or burnt during the task"
    e = run.outcome.escrow
    assert e.balanced, f"the task contract's balance differs from its transfers in minus out: {e}"
    assert e.solvent, f"the task contract holds less than it owes: {e}"


def test_global_accuracy_reaches_the_target(run: Run) -> None:
    reported = [r.accuracy for r in run.outcome.rounds if r.accuracy is not None and r.accepted]
    assert len(reported) >= 3, reported
    # Reached: in one of the last three rounds (per-round noise), far above where the task started (the
    # pioneer's untrained model: chance, 10% on ten digits), and above the first round's (which, with
    # the roles drawn, can already be at 50%).
    assert max(reported[-3:]) >= ACCURACY_TARGET, reported
    assert reported[-1] >= CHANCE + 0.5, reported
    assert reported[-1] > reported[0], reported


def test_operator_pod_deleted_mid_round_no_duplicate_job_or_transaction(run: Run, figures: list[str]) -> None:
    assert run.operator_killed, f"the leader was never deleted: {run.log}"
    assert run.operator_after and run.operator_after != run.operator_killed, "no other replica took over"
    figures.append(f"takeover after the leader's deletion: {run.takeover_seconds:.1f} s")
    # Jobs: exactly one per (round, kind, participant), none re-created as a new attempt.
    labels = [j.metadata.labels for j in run.jobs]
    keys = collections.Counter(
        (x["flalliance.io/round"], x["flalliance.io/kind"], x["flalliance.io/participant"]) for x in labels
    )
    assert max(keys.values()) == 1, [k for k, n in keys.items() if n > 1]
    assert len(run.jobs) == 1 + ROUNDS * 4, sorted(j.metadata.name for j in run.jobs)  # pioneer + 2+2 a round
    assert all(j.metadata.labels["flalliance.io/attempt"] == "0" for j in run.jobs)

    # Transactions: one round start, one finalize, one proposal per proposer, one commit and one reveal per
    # voter, every round (a repeated transaction would show as a second event or have reverted).
    def key(e: DecodedEvent) -> tuple[Any, ...]:
        who = e.args.get("proposer") or e.args.get("voter") or e.args.get("account")
        return (e.name, e.args.get("round"), who, e.args.get("status"))

    # Settlements and slashes legitimately repeat per account; everything else happens once per key.
    per = collections.Counter(key(e) for e in run.events if e.name not in ("Settled", "Slashed"))
    repeated = {k: n for k, n in per.items() if n > 1}
    assert not repeated, repeated
    counts = collections.Counter(e.name for e in run.events)
    assert counts["RoundStarted"] == ROUNDS and counts["PioneerModelSubmitted"] == 1
    assert counts["ProposalSubmitted"] == 2 * ROUNDS
    assert counts["VoteCommitted"] == counts["VoteRevealed"] == 2 * ROUNDS


def test_killed_worker_pod_is_retried_and_its_round_completes(run: Run) -> None:
    assert run.worker_killed, f"no worker pod was killed: {run.log}"
    job = next(j for j in run.jobs if j.metadata.name == run.worker_killed)
    assert (job.status.succeeded or 0) == 1, job.status
    assert (job.status.failed or 0) >= 1, f"the kill did not count as a failed pod: {job.status}"
    rnd = int(job.metadata.labels["flalliance.io/round"])
    assert run.outcome.rounds[rnd].accepted is not None

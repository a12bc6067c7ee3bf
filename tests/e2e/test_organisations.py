"""Three independent organisations on one task, on the real cluster: each its own Helm release of the
operator in its own namespace, its own wallet Secrets, RBAC and S3 credentials; models through MinIO in the
cluster; real worker pods; the chain is organisation A's dev chain.

- A's FLTask creates the task through the factory; B and C learn the contract's address from A (out of
  band) and attach with FLTasks of their own, which first check the on-chain training-logic hash against
  their own copy.
- C's operator is scaled to zero when round 1 starts and back to one when round 3 starts.

Checked: the task completes in every namespace and every participant withdraws; every transaction from
the task's creation on was signed by a key held in the Secrets of exactly one organisation, and none by
C's keys while C was down; only C's participants are slashed as absent; each organisation's
ServiceAccount is refused the others' Secrets, FLTasks, Participants and Jobs; every proposal's model is in
the store, readable with each organisation's credentials, which can neither list the bucket nor delete.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError
from kubernetes import client

from flalliance.chain.client import ChainClient
from flalliance.chain.events import DecodedEvent, EventReader
from flalliance.chain.keys import dev_account
from flalliance.chain.models import SlashReason, Status
from flalliance.chain.task import TaskClient
from flalliance.demo.port_forward import port_forward
from flalliance.testing.block_clock import BlockClock
from flalliance.testing.minio import S3Credentials, add_user, s3_client, task_objects_policy

from .alliance import (
    BUCKET,
    GROUP,
    OPERATOR_ACCOUNT,
    ORGS,
    PER_ORG,
    ROUNDS,
    VERSION,
    Org,
    World,
    fltask,
    org_objects,
    participants,
    store_manifests,
)
from .e2e_kube import ClusterFacts, wait_until
from .release import Release, install, make_tools, namespace_for, wait_deployer

pytestmark = pytest.mark.e2e


def _apply(org: Org, docs: list[dict[str, Any]]) -> None:
    org.release.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(docs))


def _status(api: client.ApiClient, org: Org) -> dict[str, Any]:
    obj = client.CustomObjectsApi(api).get_namespaced_custom_object(
        GROUP, VERSION, org.ns, "fltasks", "digits"
    )
    return dict(obj.get("status") or {})


def _participant_phases(api: client.ApiClient, org: Org) -> list[str]:
    items = client.CustomObjectsApi(api).list_namespaced_custom_object(GROUP, VERSION, org.ns, "participants")
    return [str((p.get("status") or {}).get("phase", "")) for p in items["items"]]


def _operator_pods(api: client.ApiClient, org: Org) -> list[client.V1Pod]:
    pods = client.CoreV1Api(api).list_namespaced_pod(
        org.ns,
        label_selector=f"app.kubernetes.io/instance={org.release.name},app.kubernetes.io/component=operator",
    )
    return list(pods.items)


def _active_jobs(api: client.ApiClient, org: Org) -> list[str]:
    jobs = client.BatchV1Api(api).list_namespaced_job(org.ns, label_selector="flalliance.io/task=digits")
    return [j.metadata.name for j in jobs.items if j.status.active]


def _dump(api: client.ApiClient, world: World) -> str:
    out = [f"log: {world.log}"]
    for org in world.orgs.values():
        out.append(f"== {org.name} ({org.ns}): status {_status(api, org)}")
        out.append(f"participants: {_participant_phases(api, org)}")
        out.append(org.release.kubectl("logs", f"deploy/{org.release.fullname}", "--tail=30", check=False))
    return "\n".join(out)


@dataclass
class Run:
    world: World
    api: client.ApiClient
    task: TaskClient
    events: list[DecodedEvent]
    tx_from: list[tuple[int, str]]  # (block, sender) of every transaction since A created the task
    down: tuple[int, int]  # blocks from C's operator and Jobs gone to C's operator back (inclusive)
    seconds: float
    s3_endpoint: str
    round_started: dict[int, float] = field(default_factory=dict)  # seconds from the FLTask's creation


def _drive(
    api: client.ApiClient, world: World, setup: dict[str, Any], chain: ChainClient, clock: BlockClock
) -> Run:
    orgs = world.orgs
    a, c = orgs["org-a"], orgs["org-c"]
    start_block = chain.block_number()
    start = time.monotonic()

    def dump() -> str:
        return f"{_dump(api, world)}\nblock clock errors: {clock.errors[-3:]}"

    def task_spec(attach: str = "") -> dict[str, Any]:
        return fltask(world, setup["factory"], setup["chain_id"], setup["rpc_url"], attach)

    _apply(a, [task_spec(), *participants()])
    address = wait_until(
        lambda: _status(api, a).get("contractAddress"), 180, "A's task contract", interval=1.0, explain=dump
    )
    world.log.append(f"A created the task at {address} after {time.monotonic() - start:.1f} s")
    for name in ("org-b", "org-c"):  # they learn the address from A, out of band
        _apply(orgs[name], [task_spec(attach=address), *participants()])
    task = TaskClient(chain, address)
    rounds: dict[int, float] = {}

    def at_round(n: int) -> bool:
        state = task.state()
        rounds.setdefault(state.round, time.monotonic() - start)
        return state.round >= n or state.status >= Status.COMPLETED

    # C's operator goes down when round 1 starts; its Jobs already running finish on their own.
    wait_until(lambda: at_round(1), 600, "round 1", interval=1.0, explain=dump)
    c.release.kubectl("scale", f"deploy/{c.release.fullname}", "--replicas=0")
    wait_until(lambda: not _operator_pods(api, c), 120, "C's operator gone", interval=1.0, explain=dump)
    wait_until(lambda: not _active_jobs(api, c), 300, "C's running Jobs finished", interval=1.0, explain=dump)
    down_from = chain.block_number() + 1
    world.log.append(f"C down from block {down_from} (round {task.state().round})")
    wait_until(lambda: at_round(3), 900, "round 3", interval=1.0, explain=dump)
    down_to = chain.block_number()
    c.release.kubectl("scale", f"deploy/{c.release.fullname}", "--replicas=1")
    world.log.append(f"C back after block {down_to} (round {task.state().round})")

    def completed() -> bool:
        at_round(ROUNDS)
        return all(
            _status(api, org).get("phase") == "Completed"
            and set(_participant_phases(api, org)) == {"Withdrawn"}
            for org in orgs.values()
        )

    wait_until(completed, 900, "completion and withdrawal in every organisation", interval=1.0, explain=dump)
    seconds = time.monotonic() - start
    tx_from = []
    for number in range(start_block + 1, chain.block_number() + 1):
        for tx in chain.w3.eth.get_block(number, full_transactions=True)["transactions"]:
            tx_from.append((number, str(tx["from"]).lower()))  # type: ignore[call-overload]
    events = EventReader(chain, task.contract, start_block=start_block).poll()
    return Run(
        world=world, api=api, task=task, events=events, tx_from=tx_from, down=(down_from, down_to),
        seconds=seconds, s3_endpoint=setup["s3_endpoint"], round_started=rounds,
    )  # fmt: skip


@pytest.fixture(scope="module")
def run(alliance: dict[str, Any]) -> Run:
    chain: ChainClient = alliance["chain"]
    with BlockClock(chain.rpc_url) as clock:
        return _drive(alliance["api"], alliance["world"], alliance, chain, clock)


def test_the_task_completes_in_every_organisation(run: Run) -> None:
    assert run.task.state().status == Status.COMPLETED
    for org in run.world.orgs.values():
        assert _status(run.api, org).get("phase") == "Completed", org.name
        assert all(run.task.participant(dev_account(w).address).withdrawn for w in org.wallet_indices)
    print(f"\nthree organisations: {ROUNDS} rounds in {run.seconds:.0f} s; rounds began at "
          + ", ".join(f"r{k} {t:.0f} s" for k, t in sorted(run.round_started.items()))
          + f"; {' | '.join(run.world.log)}")  # fmt: skip


def test_every_transaction_was_signed_by_one_organisations_own_key(run: Run) -> None:
    owner = run.world.owner_of()
    signed: dict[str, set[str]] = {name: set() for name in ORGS}
    for block, sender in run.tx_from:
        assert sender in owner, f"block {block}: a transaction from {sender}, a key no organisation holds"
        signed[owner[sender]].add(sender)
        if run.down[0] <= block <= run.down[1]:
            assert owner[sender] != "org-c", f"block {block}: {sender} (org-c) sent while C was down"
    assert all(signed.values()), signed
    assert run.down[1] > run.down[0], run.down
    counts = [owner[sender] for _, sender in run.tx_from]
    print("\ntransactions signed: " + ", ".join(f"{name} {counts.count(name)}" for name in ORGS))


def test_only_the_absent_organisations_participants_are_slashed_as_absent(run: Run) -> None:
    owner = run.world.owner_of()
    absent = [
        owner.get(str(e.args["account"]).lower(), "?")
        for e in run.events
        if e.name == "Slashed" and int(e.args["reason"]) == SlashReason.ABSENT
    ]
    assert set(absent) == {"org-c"}, absent
    print(f"\nslashed as absent: {len(absent)} times, all org-c's")


def test_each_organisations_service_account_stops_at_its_namespace(run: Run) -> None:
    orgs = run.world.orgs
    for name, other in (("org-a", "org-b"), ("org-b", "org-c"), ("org-c", "org-a")):
        own = _as_service_account(run.api, orgs[name])
        core, custom = client.CoreV1Api(own), client.CustomObjectsApi(own)
        assert core.read_namespaced_secret("operator-wallet", orgs[name].ns).data["privateKey"]
        ns = orgs[other].ns
        batch = client.BatchV1Api(own)
        for call, args in (
            (core.read_namespaced_secret, ("operator-wallet", ns)),
            (core.list_namespaced_secret, (ns,)),
            (core.list_secret_for_all_namespaces, ()),
            (custom.list_namespaced_custom_object, (GROUP, VERSION, ns, "participants")),
            (custom.list_namespaced_custom_object, (GROUP, VERSION, ns, "fltasks")),
            (custom.list_cluster_custom_object, (GROUP, VERSION, "participants")),
            (batch.list_namespaced_job, (ns,)),
        ):
            with pytest.raises(client.ApiException) as refused:
                call(*args)
            assert refused.value.status == 403, (name, other, call.__name__)
        own.close()


def _as_service_account(api: client.ApiClient, org: Org) -> client.ApiClient:
    """A client holding only the organisation's operator ServiceAccount token, as its pod does."""
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=600)
    )
    token = client.CoreV1Api(api).create_namespaced_service_account_token(
        org.release.fullname, org.ns, request
    )
    cfg = client.Configuration()
    cfg.host = api.configuration.host
    cfg.ssl_ca_cert = api.configuration.ssl_ca_cert
    cfg.verify_ssl = api.configuration.verify_ssl
    cfg.api_key = {"authorization": f"Bearer {token.status.token}"}
    return client.ApiClient(cfg)


def test_models_went_through_the_store_with_each_organisations_own_credentials(run: Run) -> None:
    models = {bytes(e.args["modelHash"]) for e in run.events if e.name == "ProposalSubmitted"}
    assert models
    users = {org.s3_user.access_key for org in run.world.orgs.values() if org.s3_user}
    assert len(users) == len(ORGS)
    for org in run.world.orgs.values():
        assert org.s3_user is not None
        s3 = s3_client(run.s3_endpoint, org.s3_user)
        for digest in models:
            key = f"{run.world.prefix}/sha256/{digest.hex()}"
            assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read(), key
        for refused, kwargs in (
            (s3.list_objects_v2, {"Bucket": BUCKET}),
            (s3.delete_object, {"Bucket": BUCKET, "Key": key}),
        ):
            with pytest.raises(ClientError) as denied:
                refused(**kwargs)
            assert denied.value.response["Error"]["Code"] == "AccessDenied"


@pytest.fixture(scope="module")
def alliance(
    api_client: client.ApiClient, kubeconfig: Path, cluster_facts: ClusterFacts
) -> Iterator[dict[str, Any]]:
    """Three releases (A's with the dev chain), MinIO, each organisation's Secrets, data and S3 user."""
    tools = make_tools(kubeconfig)
    pull = cluster_facts.image_pull_policy
    with ExitStack() as stack:
        store_ns = stack.enter_context(namespace_for(api_client, "e2e-store"))
        namespaces = {name: stack.enter_context(namespace_for(api_client, f"e2e-{name}")) for name in ORGS}
        orgs = {
            name: Org(
                name=name,
                release=Release(name, namespaces[name], tools),
                operator_index=OPERATOR_ACCOUNT[name],
                wallet_indices=[3 + k * PER_ORG + i for i in range(PER_ORG)],
            )
            for k, name in enumerate(ORGS)
        }
        root = S3Credentials("flalliance-e2e", secrets.token_hex(16))
        world = World(orgs, store_ns, prefix=f"alliance-{secrets.token_hex(3)}")
        store = yaml.safe_dump_all(store_manifests(root, pull))
        tools.run(tools.kubectl_bin, "-n", store_ns, "apply", "-f", "-", stdin=store)

        def teardown() -> None:
            # C may be down if the test failed mid-way, and the finalizers need every operator.
            c = orgs["org-c"]
            c.release.kubectl("scale", f"deploy/{c.release.fullname}", "--replicas=1", check=False)
            for org in orgs.values():
                org.release.kubectl(
                    "delete", "fltasks,participants", "--all", "--wait", "--timeout=120s", check=False
                )
            for org in orgs.values():
                org.release.helm("uninstall", org.release.name, "--wait", "--timeout", "3m", check=False)

        stack.callback(teardown)
        a = orgs["org-a"]
        install(a.release, "devChain.enabled=true", f"watchNamespaces={{{a.ns}}}")
        for name in ("org-b", "org-c"):
            install(orgs[name].release, f"watchNamespaces={{{orgs[name].ns}}}")
        addresses = wait_deployer(api_client, a.release)
        tools.run(tools.kubectl_bin, "-n", store_ns, "rollout", "status", "deploy/minio", "--timeout=180s")

        def forward(ns: str, service: str, port: int) -> int:
            return stack.enter_context(
                port_forward(ns, service, port, kubectl=tools.kubectl_bin, kubeconfig=str(kubeconfig))
            )

        store_port = forward(store_ns, "minio", 9000)
        s3_endpoint = f"http://127.0.0.1:{store_port}"
        s3_client(s3_endpoint, root).create_bucket(Bucket=BUCKET)
        for k, (name, org) in enumerate(orgs.items()):
            org.s3_user = add_user(
                f"127.0.0.1:{store_port}", root, f"{name}-s3", task_objects_policy(BUCKET, world.prefix)
            )
            _apply(org, org_objects(org, k, pull))
        for org in orgs.values():
            org.release.kubectl("wait", "--for=condition=complete", "job/data", "--timeout=300s")
        chain_port = forward(a.ns, a.release.devchain, 8545)
        yield {
            "api": api_client,
            "world": world,
            "chain": ChainClient(f"http://127.0.0.1:{chain_port}"),
            "factory": addresses["factory"],
            "chain_id": int(addresses["chain_id"]),
            "rpc_url": f"http://{a.release.devchain}.{a.ns}.svc:8545",
            "s3_endpoint": s3_endpoint,
        }

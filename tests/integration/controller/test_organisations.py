"""Three organisations on one task: each its own namespace, operator process, keys and RBAC from the chart.

Each organisation gets what its Helm release would install (`helm template <org> charts/flalliance
--set watchNamespaces={<org>}`: ServiceAccount, ClusterRole, Role, bindings, Lease), and runs
`flalliance operator` as its own process with its ServiceAccount's token, watching only its namespace.
Organisation A creates the task through the factory; B and C attach with their own FLTask by
`contractAddress`. Each holds only its own operator key and two participant wallets. Models travel through
one S3 store (a real MinIO), each organisation with its own MinIO user and credentials Secret, allowed to
read and write the task's objects and nothing else (no listing, no deleting). The test plays the kubelet of
every namespace and mines a block every 2 s, so that phase deadlines pass as on a real chain.

Checked: the task completes; every transaction was sent by an address of the organisation whose Secrets
hold its key; one organisation's ServiceAccount cannot read another's Secrets, FLTasks or Participants;
every model a proposal names is in the store, and an organisation's S3 credentials can neither list nor
delete; and when C's operator is down for two rounds, only C's participants miss their duties and are
slashed as absent, nobody sends anything for them meanwhile, and C's operator resumes afterwards.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError
from eth_account.signers.local import LocalAccount
from kubernetes import client, config

from flalliance.chain.arena import ArenaClient
from flalliance.chain.client import ChainClient
from flalliance.chain.deploy import deploy_system
from flalliance.chain.events import EventReader
from flalliance.chain.factory import FactoryClient
from flalliance.chain.harness import ETHER, derived_accounts
from flalliance.chain.models import SlashReason, Status
from flalliance.chain.task import TaskClient
from flalliance.chain.token import TokenClient
from flalliance.fl.datasets import load_builtin
from flalliance.fl.partition import PartitionRecord, dirichlet, write_partitions
from flalliance.store.s3 import S3Store
from flalliance.testing.apiserver import LocalApiServer
from flalliance.testing.block_clock import BlockClock
from flalliance.testing.minio import MinioServer, S3Credentials, task_objects_policy

from .conftest import put_secret
from .test_operator import GROUP, VERSION, create, dump_state, fltask, get, wait_for

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "charts" / "flalliance"
ORGS = ("org-a", "org-b", "org-c")
PER_ORG = 2
ROUNDS = 4
# Short phases: the rounds where C is down wait for their deadlines (the others end once all acted).
PHASES = {"join": 600, "pioneer": 90, "propose": 45, "commit": 30, "reveal": 30}
RBAC_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Lease"}


class Organisation:
    """One organisation: its namespace, release objects, keys, kubeconfig and operator process."""

    def __init__(self, name: str, operator_key: LocalAccount, wallets: list[LocalAccount]) -> None:
        self.name = name
        self.operator_key = operator_key
        self.wallets = wallets
        self.kubeconfig: Path | None = None
        self.api: client.ApiClient | None = None  # as its ServiceAccount
        self.process: subprocess.Popen[bytes] | None = None
        self.log: Path | None = None
        self.lease = ""
        self.service_account = ""
        self.s3: S3Credentials | None = None

    @property
    def addresses(self) -> set[str]:
        return {a.address.lower() for a in [self.operator_key, *self.wallets]}

    def start(self) -> None:
        assert self.kubeconfig is not None and self.log is not None and self.process is None
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "flalliance.cli",
                    "operator",
                    "--namespace",
                    self.name,
                    "--kubeconfig",
                    str(self.kubeconfig),
                    "--lease-namespace",
                    self.name,
                    "--lease-name",
                    self.lease,
                    "--lease-seconds",
                    "5",
                    "--metrics-port",
                    "0",
                    "--health-port",
                    "0",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={
                    **os.environ,
                    "OMP_NUM_THREADS": "1",
                    "PYTHONWARNINGS": "ignore:Unverified HTTPS request",
                },
            )

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


def _install_release(helm: str, kubectl: Any, org: Organisation) -> None:
    """What `helm install <org> charts/flalliance -n <org> --set watchNamespaces={<org>}` grants."""
    out = subprocess.run(
        [
            helm,
            "template",
            org.name,
            str(CHART),
            "--namespace",
            org.name,
            "--set",
            f"watchNamespaces={{{org.name}}}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    docs = [d for d in yaml.safe_load_all(out.stdout) if d and d["kind"] in RBAC_KINDS]
    applied = kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(docs))
    assert applied.returncode == 0, applied.stderr
    org.lease = next(d["metadata"]["name"] for d in docs if d["kind"] == "Lease")
    org.service_account = next(d["metadata"]["name"] for d in docs if d["kind"] == "ServiceAccount")


def _service_account_kubeconfig(
    api: client.ApiClient, server: LocalApiServer, org: Organisation, path: Path
) -> client.ApiClient:
    """A kubeconfig holding only the organisation's ServiceAccount token (TokenRequest), as in its pod."""
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=7200)
    )
    token = client.CoreV1Api(api).create_namespaced_service_account_token(
        org.service_account, org.name, request
    )
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "local",
                        "cluster": {"server": server.url, "certificate-authority": str(server.ca_file)},
                    }
                ],
                "users": [{"name": org.name, "user": {"token": token.status.token}}],
                "contexts": [{"name": "local", "context": {"cluster": "local", "user": org.name}}],
                "current-context": "local",
            }
        )
    )
    path.chmod(0o600)
    org.kubeconfig = path
    return config.new_client_from_config(str(path))


@pytest.fixture
def alliance(
    chain: ChainClient,
    kube_api: client.ApiClient,
    apiserver: LocalApiServer,
    kubectl: Any,
    helm: str,
    make_kubelet: Any,
    minio: MinioServer,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[dict[str, Any]]:
    system = deploy_system(chain)
    arena = ArenaClient(chain, system.arena)
    arena.register(7, 500 * ETHER)
    arena.finish(7, b"\x44" * 32)
    token = TokenClient(chain, system.token)
    core = client.CoreV1Api(kube_api)
    data = load_builtin("digits").train
    n = len(ORGS) * PER_ORG
    parts, _ = dirichlet(data.y, n, 1.0, seed=5)
    dirs = write_partitions(
        data, parts, tmp_path / "data", PartitionRecord("dirichlet", n, 5, {"alpha": 1.0})
    )
    suffix = hashlib.sha256(request.node.name.encode()).hexdigest()[:5]  # the API server is shared
    # The task's objects, which every organisation reads and writes (content-addressed).
    prefix = f"alliance-{suffix}"
    store = {"url": f"s3://{minio.bucket}/{prefix}?endpoint={minio.endpoint}", "credentialsSecret": "s3"}
    task_objects = task_objects_policy(minio.bucket, prefix)
    orgs: dict[str, Organisation] = {}
    kubelets = {}
    for k, name in enumerate(ORGS):
        keys = derived_accounts(1 + PER_ORG, label=f"alliance/{name}")
        org = Organisation(f"{name}-{suffix}", keys[0], keys[1:])  # namespace and release name
        core.create_namespace({"metadata": {"name": org.name}})
        _install_release(helm, kubectl, org)
        for account in keys:
            chain.set_balance(account.address, 100 * ETHER)
        put_secret(core, org.name, "operator-key", "0x" + bytes(org.operator_key.key).hex())
        org.s3 = minio.add_user(f"{org.name}-s3", task_objects)
        core.create_namespaced_secret(
            org.name,
            {
                "metadata": {"name": "s3"},
                "stringData": {"accessKeyId": org.s3.access_key, "secretAccessKey": org.s3.secret_key},
            },
        )
        data_dirs = {}
        for i, wallet in enumerate(org.wallets):
            token.mint(wallet.address, 100 * ETHER)
            put_secret(core, org.name, f"wallet-{i}", "0x" + bytes(wallet.key).hex())
            core.create_namespaced_persistent_volume_claim(
                org.name,
                {
                    "metadata": {"name": f"data-{i}"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                },
            )
            data_dirs[f"data-{i}"] = dirs[k * PER_ORG + i]
        org.log = tmp_path / f"operator-{name}.log"
        org.api = _service_account_kubeconfig(kube_api, apiserver, org, tmp_path / f"kubeconfig-{name}")
        orgs[name] = org
        kubelets[name] = make_kubelet(org.name, data_dirs)
    # The creating organisation funds the reward the factory escrows.
    factory = FactoryClient(chain, system.factory)
    token.mint(orgs["org-a"].operator_key.address, factory.reward_for(7))
    try:
        yield {
            "system": system,
            "orgs": orgs,
            "kubelets": kubelets,
            "store": store,
            "prefix": prefix,
            "minio": minio,
            "chain": chain,
        }
    finally:
        for org in orgs.values():
            org.stop()


def _fltask(world: dict[str, Any], *, attach: str | None = None) -> dict[str, Any]:
    """A's FLTask creates the task (arenaTaskId); B's and C's attach to its contract."""
    body = fltask(
        world,
        rounds=ROUNDS,
        minParticipants=len(ORGS) * PER_ORG,
        maxParticipants=len(ORGS) * PER_ORG,
        phaseDurations=PHASES,
        arenaTaskId=7,
        store=world["store"],
    )
    if attach is not None:
        del body["spec"]["arenaTaskId"]
        body["spec"]["contractAddress"] = attach
    return body


def _participants(api: client.ApiClient, ns: str) -> None:
    for i in range(PER_ORG):
        create(
            api,
            ns,
            "participants",
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "Participant",
                "metadata": {"name": f"p{i}"},
                "spec": {
                    "taskRef": {"name": "digits"},
                    "walletSecret": {"name": f"wallet-{i}"},
                    "stake": "20",
                    "dataset": {"persistentVolumeClaim": f"data-{i}"},
                },
            },
        )


def test_each_organisations_rbac_stops_at_its_namespace(alliance: dict[str, Any]) -> None:
    orgs: dict[str, Organisation] = alliance["orgs"]
    a, b = orgs["org-a"], orgs["org-b"]
    own = client.CoreV1Api(a.api)
    assert own.read_namespaced_secret("operator-key", a.name).data["privateKey"]
    custom = client.CustomObjectsApi(a.api)
    for attempt in (
        lambda: own.read_namespaced_secret("operator-key", b.name),
        lambda: own.list_namespaced_secret(b.name),
        lambda: own.list_secret_for_all_namespaces(),
        lambda: custom.list_namespaced_custom_object(GROUP, VERSION, b.name, "participants"),
        lambda: custom.list_namespaced_custom_object(GROUP, VERSION, b.name, "fltasks"),
        lambda: custom.list_cluster_custom_object(GROUP, VERSION, "participants"),
        lambda: client.BatchV1Api(a.api).list_namespaced_job(b.name),
    ):
        with pytest.raises(client.ApiException) as refused:
            attempt()
        assert refused.value.status == 403


def test_three_organisations_run_one_task_and_an_absent_one_pays_only_for_itself(
    kube_api: client.ApiClient, alliance: dict[str, Any]
) -> None:
    orgs: dict[str, Organisation] = alliance["orgs"]
    kubelets = alliance["kubelets"]
    chain: ChainClient = alliance["chain"]
    start_block = chain.block_number()

    def step_all() -> None:
        for name, kubelet in kubelets.items():
            if orgs[name].alive():
                kubelet.step()
            assert orgs[name].process is None or orgs[name].alive(), _logs(orgs[name])

    def dump() -> str:
        return "\n\n".join(f"== {o.name}\n{dump_state(kube_api, o.name)}\n{_logs(o)}" for o in orgs.values())

    with BlockClock(chain.rpc_url):
        create(kube_api, orgs["org-a"].name, "fltasks", _fltask(alliance))
        _participants(kube_api, orgs["org-a"].name)
        for org in orgs.values():
            org.start()
        address = wait_for(
            "org-a's contract",
            lambda: _status(kube_api, orgs["org-a"]).get("contractAddress"),
            timeout=120,
            dump=dump,
        )
        for name in ("org-b", "org-c"):  # they learn the address from A, out of band
            create(kube_api, orgs[name].name, "fltasks", _fltask(alliance, attach=address))
            _participants(kube_api, orgs[name].name)
        task = TaskClient(chain, address)

        # C's operator goes down when round 1 starts and comes back when round 3 starts.
        wait_for("round 1", lambda: (step_all(), task.state().round >= 1)[1], timeout=600, dump=dump)
        orgs["org-c"].stop()
        down_from = chain.block_number()
        wait_for("round 3", lambda: (step_all(), task.state().round >= 3)[1], timeout=900, dump=dump)
        down_to = chain.block_number()
        orgs["org-c"].start()

        def completed() -> bool:
            step_all()
            return all(
                _status(kube_api, orgs[name]).get("phase") == "Completed"
                and all(
                    get(kube_api, orgs[name].name, "participants", f"p{i}").get("status", {}).get("phase")
                    == "Withdrawn"
                    for i in range(PER_ORG)
                )
                for name in ORGS
            )

        wait_for("completion everywhere", completed, timeout=900, dump=dump)
    assert task.state().status == Status.COMPLETED

    # Who sent what: every transaction from the task's creation on came from one organisation's key
    # (or the test's own foundation account), and nothing was sent for C while its operator was down.
    owner_of = {address: name for name, org in orgs.items() for address in org.addresses}
    senders: dict[str, set[str]] = {name: set() for name in ORGS}
    for number in range(start_block + 1, chain.block_number() + 1):
        block = chain.w3.eth.get_block(number, full_transactions=True)
        for tx in block["transactions"]:
            sender = str(tx["from"]).lower()  # type: ignore[index]
            if sender == (chain.address or "").lower():
                continue
            assert sender in owner_of, f"transaction from an unknown address {sender} in block {number}"
            senders[owner_of[sender]].add(sender)
            if down_from < number <= down_to:
                assert owner_of[sender] != "org-c", (
                    f"{sender} (org-c) sent in block {number}, its operator down"
                )
    assert all(senders[name] for name in ORGS)

    # Slashes: absences only for C's participants, in the rounds it was down.
    slashed_absent: dict[str, set[int]] = {}
    for event in EventReader(chain, task.contract, start_block=start_block).poll():
        if event.name == "Slashed" and int(event.args["reason"]) == SlashReason.ABSENT:
            who = owner_of.get(str(event.args["account"]).lower(), "?")
            slashed_absent.setdefault(who, set()).add(int(event.args.get("round", -1)))
    assert set(slashed_absent) == {"org-c"}, slashed_absent
    c_wallets = {w.address.lower() for w in orgs["org-c"].wallets}
    assert all(task.participant(w).withdrawn for w in c_wallets)

    # The models went through the store: each organisation's credentials read every proposal's model,
    # and can neither list the bucket nor delete an object.
    minio: MinioServer = alliance["minio"]
    models = {
        bytes(e.args["modelHash"])
        for e in EventReader(chain, task.contract, start_block=start_block).poll()
        if e.name == "ProposalSubmitted"
    }
    assert models
    for org in orgs.values():
        assert org.s3 is not None
        s3 = minio.client(org.s3)
        reader = S3Store(minio.bucket, alliance["prefix"], endpoint=minio.endpoint, client=s3)
        assert all(reader.get(digest) for digest in models)
        some = f"{alliance['prefix']}/sha256/{next(iter(models)).hex()}"
        for refused, kwargs in (
            (s3.list_objects_v2, {"Bucket": minio.bucket}),
            (s3.delete_object, {"Bucket": minio.bucket, "Key": some}),
        ):
            with pytest.raises(ClientError) as denied:
                refused(**kwargs)
            assert denied.value.response["Error"]["Code"] == "AccessDenied"
    assert len({org.s3.access_key for org in orgs.values() if org.s3}) == len(ORGS)


def _status(api: client.ApiClient, org: Organisation) -> dict[str, Any]:
    status: dict[str, Any] = get(api, org.name, "fltasks", "digits").get("status", {})
    return status


def _logs(org: Organisation, lines: int = 40) -> str:
    if org.log is None or not org.log.exists():
        return "(no log)"
    return "\n".join(org.log.read_text(errors="replace").splitlines()[-lines:])

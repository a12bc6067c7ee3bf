"""The three organisations of `test_organisations`: who they are, and the objects each one applies (keys,
S3 credentials, data volumes and the Job that fills them, its FLTask and Participants), and the MinIO the
test runs in the cluster. Plain data builders: the test applies them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from flalliance.chain.keys import dev_account
from flalliance.testing.minio import S3Credentials

from .release import EXAMPLES, Release

GROUP, VERSION = "flalliance.io", "v1alpha1"
ORGS = ("org-a", "org-b", "org-c")
PER_ORG = 2
ROUNDS = 4
# The rounds where C is down wait for their deadlines; the others end as soon as everyone has acted.
PHASES = {"join": 600, "pioneer": 180, "propose": 60, "commit": 45, "reveal": 45}
# Anvil's public dev accounts (funded with ether and $FML by A's dev chain): an operator key and two
# wallets per organisation. Account 0 deployed the system and funds the reward A's task escrows.
OPERATOR_ACCOUNT = {"org-a": 0, "org-b": 1, "org-c": 2}
BUCKET = "artifacts"
STORE_IMAGE = "flalliance/minio:dev"


@dataclass
class Org:
    name: str
    release: Release
    operator_index: int
    wallet_indices: list[int]
    s3_user: S3Credentials | None = None  # its MinIO user, made once the store runs

    @property
    def ns(self) -> str:
        return self.release.namespace

    @property
    def addresses(self) -> set[str]:
        return {dev_account(i).address.lower() for i in [self.operator_index, *self.wallet_indices]}


@dataclass
class World:
    orgs: dict[str, Org]
    store_ns: str
    prefix: str
    log: list[str] = field(default_factory=list)

    def owner_of(self) -> dict[str, str]:
        """Each organisation's addresses (operator key and wallets, lower case) -> its name."""
        return {address: org.name for org in self.orgs.values() for address in org.addresses}


# --------------------------------------------------------------------------------------------------------
# The S3 store: MinIO in a namespace of its own, one user per organisation.
def store_manifests(root: S3Credentials, pull: str) -> list[dict[str, Any]]:
    labels = {"app.kubernetes.io/name": "minio"}
    restricted = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "minio-root"},
            "stringData": {"MINIO_ROOT_USER": root.access_key, "MINIO_ROOT_PASSWORD": root.secret_key},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "minio", "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": {
                            "runAsNonRoot": True,
                            "runAsUser": 65532,
                            "runAsGroup": 65532,
                            "fsGroup": 65532,
                            "seccompProfile": {"type": "RuntimeDefault"},
                        },
                        "containers": [
                            {
                                "name": "minio",
                                "image": STORE_IMAGE,
                                "imagePullPolicy": pull,
                                "args": [
                                    "server",
                                    "--quiet",
                                    "--address",
                                    ":9000",
                                    "--console-address",
                                    "127.0.0.1:9001",
                                    "/data",
                                ],
                                "env": [
                                    {"name": "HOME", "value": "/tmp"},
                                    {"name": "MINIO_BROWSER", "value": "off"},
                                    {"name": "MINIO_UPDATE", "value": "off"},
                                ],
                                "envFrom": [{"secretRef": {"name": "minio-root"}}],
                                "ports": [{"name": "s3", "containerPort": 9000}],
                                "readinessProbe": {
                                    "httpGet": {"path": "/minio/health/ready", "port": "s3"},
                                    "periodSeconds": 2,
                                },
                                "resources": {
                                    "requests": {"cpu": "50m", "memory": "128Mi"},
                                    "limits": {"memory": "1Gi"},
                                },
                                "securityContext": restricted,
                                "volumeMounts": [
                                    {"name": "data", "mountPath": "/data"},
                                    {"name": "tmp", "mountPath": "/tmp"},
                                ],
                            }
                        ],
                        "volumes": [{"name": "data", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "minio", "labels": labels},
            "spec": {"selector": labels, "ports": [{"name": "s3", "port": 9000, "targetPort": "s3"}]},
        },
    ]


# --------------------------------------------------------------------------------------------------------
# Each organisation's own objects: keys, S3 credentials, data volumes and the Job that fills them.
def _secret(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data}


def org_objects(org: Org, k: int, pull: str) -> list[dict[str, Any]]:
    docs = [_secret("operator-wallet", {"privateKey": _key(org.operator_index)})]
    docs += [_secret(f"wallet-{i}", {"privateKey": _key(w)}) for i, w in enumerate(org.wallet_indices)]
    assert org.s3_user is not None
    s3 = {"accessKeyId": org.s3_user.access_key, "secretAccessKey": org.s3_user.secret_key}
    docs.append(_secret("s3", s3))
    docs += [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": f"data-{i}"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "64Mi"}}},
        }
        for i in range(PER_ORG)
    ]
    # The example's data Job, partitioning digits for all six participants (Dirichlet 1.0, seed 7), of
    # which this organisation keeps only its own two shares (the rest goes to the scratch volume).
    job = next(
        d for d in yaml.safe_load_all((EXAMPLES / "data.yaml").read_text()) if d and d["kind"] == "Job"
    )
    job["metadata"] = {"name": "data"}
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    container["imagePullPolicy"] = pull
    n = len(ORGS) * PER_ORG
    container["args"] = ["partition", "--dataset", "digits", "--participants", str(n), "--scheme",
                         "dirichlet", "--alpha", "1.0", "--seed", "7", "--out", "/data"]  # fmt: skip
    container["volumeMounts"] = [
        {"name": "scratch", "mountPath": "/data"},
        {"name": "tmp", "mountPath": "/tmp"},
    ] + [{"name": f"own-{i}", "mountPath": f"/data/client-{k * PER_ORG + i:03d}"} for i in range(PER_ORG)]
    pod["volumes"] = [{"name": "scratch", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}] + [
        {"name": f"own-{i}", "persistentVolumeClaim": {"claimName": f"data-{i}"}} for i in range(PER_ORG)
    ]
    docs.append(job)
    return docs


def _key(index: int) -> str:
    return "0x" + bytes(dev_account(index).key).hex()


def fltask(world: World, factory: str, chain_id: int, rpc_url: str, attach: str = "") -> dict[str, Any]:
    """The example's FLTask, for six participants across three organisations, storing through S3."""
    task = next(
        d for d in yaml.safe_load_all((EXAMPLES / "fltask.yaml").read_text()) if d and d["kind"] == "FLTask"
    )
    spec = task["spec"]
    spec["chain"] = {
        "rpcUrl": rpc_url,
        "chainId": chain_id,
        "factoryAddress": factory,
        "operatorKeySecret": {"name": "operator-wallet"},
    }
    spec.update(
        rounds=ROUNDS,
        minParticipants=len(ORGS) * PER_ORG,
        maxParticipants=len(ORGS) * PER_ORG,
        phaseDurations=PHASES,
        store={
            "url": f"s3://{BUCKET}/{world.prefix}?endpoint=http://minio.{world.store_ns}.svc:9000",
            "credentialsSecret": "s3",
        },
    )
    if attach:
        del spec["arenaTaskId"]
        spec["contractAddress"] = attach
    return dict(task)


def participants() -> list[dict[str, Any]]:
    """The example's first Participant, once per wallet of the organisation."""
    example = next(
        d
        for d in yaml.safe_load_all((EXAMPLES / "participants.yaml").read_text())
        if d and d["kind"] == "Participant"
    )
    out = []
    for i in range(PER_ORG):
        spec = {**example["spec"], "walletSecret": {"name": f"wallet-{i}"}}
        spec["dataset"] = {"persistentVolumeClaim": f"data-{i}"}
        out.append({**example, "metadata": {"name": f"p{i}"}, "spec": spec})
    return out

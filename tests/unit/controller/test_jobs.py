from __future__ import annotations

from typing import Any

import pytest

from flalliance.api.fltask import FLTaskSpec, TrainingLogic
from flalliance.api.participant import ParticipantSpec
from flalliance.controller.actions import CreateJob
from flalliance.controller.jobs import job_name, render_job
from flalliance.controller.views import JobKind

pytestmark = pytest.mark.unit

TASK = FLTaskSpec.model_validate(
    {
        "chain": {"rpcUrl": "http://chain:8545", "chainId": 31337, "operatorKeySecret": {"name": "op"}},
        "contractAddress": "0x" + "2" * 40,
        "trainingLogic": {"hash": "0x" + "a" * 64},
        "store": {"url": "file:///artifacts", "persistentVolumeClaim": "artifacts"},
        "jobTemplate": {
            "resources": {"limits": {"cpu": 1, "memory": "1Gi"}},
            "nodeSelector": {"pool": "gpu"},
            "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "backoffLimit": 2,
        },
    }
)
ALICE = ParticipantSpec.model_validate(
    {
        "taskRef": {"name": "digits"},
        "walletSecret": {"name": "alice-wallet", "key": "pk"},
        "stake": "20",
        "dataset": {"persistentVolumeClaim": "alice-data", "subPath": "alice"},
    }
)


def render(**kw: Any) -> dict[str, Any]:
    action = CreateJob(kind=JobKind.TRAIN, round=3, participant="alice", attempt=1, deadline=1_600)
    args: dict[str, Any] = {
        "task_name": "digits",
        "namespace": "team-a",
        "task_uid": "uid-1",
        "task": TASK,
        "contract_address": "0x" + "2" * 40,
        "participant_name": "alice",
        "participant": ALICE,
        "action": action,
        "now": 1_000,
    }
    args.update(kw)
    return render_job(**args)


def test_job_name_is_deterministic_and_a_valid_label() -> None:
    assert job_name("digits", "train", 3, "alice", 1) == "digits-r3-train-alice-1"
    long = job_name("t" * 40, "validate", 12345, "p" * 40, 2)
    assert len(long) <= 63 and long == job_name("t" * 40, "validate", 12345, "p" * 40, 2)
    assert long != job_name("t" * 40, "validate", 12345, "p" * 40, 3)


def test_job_identity_ownership_and_deadline() -> None:
    job = render()
    meta = job["metadata"]
    assert meta["name"] == "digits-r3-train-alice-1" and meta["namespace"] == "team-a"
    assert meta["labels"]["flalliance.io/round"] == "3" and meta["labels"]["flalliance.io/kind"] == "train"
    assert meta["ownerReferences"][0]["uid"] == "uid-1" and meta["ownerReferences"][0]["controller"] is True
    assert job["spec"]["activeDeadlineSeconds"] == 600
    assert job["spec"]["backoffLimit"] == 2
    assert render(now=1_599)["spec"]["activeDeadlineSeconds"] == 30  # never below the minimum


def test_pod_is_locked_down_and_mounts_only_its_own_secret_and_data() -> None:
    pod = render()["spec"]["template"]["spec"]
    [container] = pod["containers"]
    sc = container["securityContext"]
    assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert pod["automountServiceAccountToken"] is False
    secrets = [v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v]
    assert secrets == ["alice-wallet"]
    [wallet] = [v for v in pod["volumes"] if v["name"] == "wallet"]
    assert wallet["secret"]["items"] == [{"key": "pk", "path": "key"}]
    [data] = [m for m in container["volumeMounts"] if m["name"] == "data"]
    assert data == {"name": "data", "mountPath": "/data", "readOnly": True, "subPath": "alice"}
    assert {"name": "store", "mountPath": "/artifacts"} in container["volumeMounts"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["FLALLIANCE_TASK"] == "0x" + "2" * 40 and env["FLALLIANCE_KEY_FILE"].endswith("/key")
    assert not any("PRIVATE" in k or k == "pk" for k in env)
    assert container["args"] == ["train", "--round", "3"]


def test_scheduling_and_resources_come_from_the_template_unless_overridden() -> None:
    pod = render()["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"pool": "gpu"}
    assert pod["tolerations"] == [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert pod["containers"][0]["resources"] == {"limits": {"cpu": 1, "memory": "1Gi"}}
    own = ALICE.model_copy(
        update={
            "resources": TASK.job_template.resources.model_copy(  # type: ignore[union-attr]
                update={"limits": {"nvidia.com/gpu": 1}}
            )
        }
    )
    pod = render(participant=own)["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"] == {"limits": {"nvidia.com/gpu": 1}}


def test_allowed_volume_sources_pass_through() -> None:
    csi = {"driver": "nfs.csi.k8s.io", "volumeAttributes": {"share": "/bob"}}
    other = ParticipantSpec.model_validate(
        {
            "taskRef": {"name": "digits"},
            "walletSecret": {"name": "bob-wallet"},
            "stake": "20",
            "dataset": {"volume": {"csi": csi}},
        }
    )
    pod = render(participant=other, participant_name="bob")["spec"]["template"]["spec"]
    assert {"name": "data", "csi": csi} in pod["volumes"]
    assert not any("hostPath" in v for v in pod["volumes"])


def test_only_a_test_mode_behaviour_reaches_the_worker() -> None:
    def env(**kw: str) -> dict[str, str]:
        container = render(**kw)["spec"]["template"]["spec"]["containers"][0]
        return {e["name"]: e.get("value", "") for e in container["env"]}

    assert "FLALLIANCE_BEHAVIOUR" not in env()
    assert env(behaviour="label_flip")["FLALLIANCE_BEHAVIOUR"] == "label_flip"


def test_inline_logic_mounts_its_config_map_read_only_and_names_the_file() -> None:
    inline = TASK.model_copy(update={"training_logic": TrainingLogic(inline={"model": {"kind": "logreg"}})})
    pod = render(task=inline)["spec"]["template"]["spec"]
    [container] = pod["containers"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    env = {e["name"]: e["value"] for e in container["env"]}
    assert volumes["training-logic"]["configMap"]["name"] == "digits-training-logic"
    assert mounts["training-logic"]["readOnly"] is True
    path = env["FLALLIANCE_TRAINING_LOGIC_FILE"]
    assert path == mounts["training-logic"]["mountPath"] + "/training-logic.json"
    sc = container["securityContext"]
    assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
    # A task that names an existing hash has nothing to mount: the spec is in the store already.
    plain = render()["spec"]["template"]["spec"]
    assert "training-logic" not in {v["name"] for v in plain["volumes"]}
    assert "FLALLIANCE_TRAINING_LOGIC_FILE" not in {e["name"] for e in plain["containers"][0]["env"]}


def _env(job: dict[str, Any]) -> dict[str, str]:
    [container] = job["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", "") for e in container["env"]}


def test_gpus_render_as_limits_from_the_task_or_the_participant() -> None:
    [container] = render()["spec"]["template"]["spec"]["containers"]
    assert "nvidia.com/gpu" not in container["resources"]["limits"]
    template = {**TASK.job_template.to_k8s(), "gpu": {"count": 2}}
    task = FLTaskSpec.model_validate({**TASK.to_k8s(), "jobTemplate": template})
    [container] = render(task=task)["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"] == {"cpu": 1, "memory": "1Gi", "nvidia.com/gpu": "2"}
    own = ParticipantSpec.model_validate(
        {**ALICE.to_k8s(), "gpu": {"count": 1, "resource": "amd.com/gpu"}, "nodeSelector": {"gpu": "mi300"},
         "tolerations": [{"key": "amd", "operator": "Exists"}]}
    )  # fmt: skip
    pod = render(task=task, participant=own)["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["amd.com/gpu"] == "1"
    assert "nvidia.com/gpu" not in pod["containers"][0]["resources"]["limits"]
    assert pod["nodeSelector"] == {"gpu": "mi300"}  # the participant's own GPU nodes, not the task's
    assert pod["tolerations"] == [{"key": "amd", "operator": "Exists"}]


def test_gpu_fields_are_validated_with_the_field_named() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="count"):
        ParticipantSpec.model_validate({**ALICE.to_k8s(), "gpu": {"count": 0}})
    with pytest.raises(ValidationError, match="resource"):
        ParticipantSpec.model_validate({**ALICE.to_k8s(), "gpu": {"resource": "gpu"}})


def test_the_pinned_image_is_what_the_job_runs_and_is_told() -> None:
    assert _env(render())["FLALLIANCE_WORKER_IMAGE"] == "flalliance/worker:dev"
    pinned = "registry.example/flalliance-worker@sha256:" + "ab" * 32
    inline = {
        "runtime": {"image": pinned},
        "dataset": {"source": "digits", "feature_shape": [64], "num_classes": 10},
        "model": {"kind": "logreg"},
        "training": {"epochs": 1, "batch_size": 8, "optimizer": {"learning_rate": 0.1}},
    }
    task = FLTaskSpec.model_validate({**TASK.to_k8s(), "trainingLogic": {"inline": inline}})
    job = render(task=task)
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == pinned
    assert _env(job)["FLALLIANCE_WORKER_IMAGE"] == pinned


def test_scratch_size_is_the_tmp_limit() -> None:
    vols = {v["name"]: v for v in render()["spec"]["template"]["spec"]["volumes"]}
    assert vols["tmp"]["emptyDir"]["sizeLimit"] == "1Gi"
    task = FLTaskSpec.model_validate({**TASK.to_k8s(), "jobTemplate": {"scratchSize": "8Gi"}})
    vols = {v["name"]: v for v in render(task=task)["spec"]["template"]["spec"]["volumes"]}
    assert vols["tmp"]["emptyDir"]["sizeLimit"] == "8Gi"

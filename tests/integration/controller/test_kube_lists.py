"""The operator's Job listing on a real API server: a pass reads the Jobs (and pods) of the rounds it can
act on, not every Job the task has made, so its cost does not grow with the task's age (issue 13)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client

from flalliance.controller.kube import Kube
from flalliance.controller.labels import (
    LABEL_ATTEMPT,
    LABEL_KIND,
    LABEL_PARTICIPANT,
    LABEL_ROUND,
    LABEL_TASK,
    MANAGED_BY,
)
from flalliance.testing.job_outcome import record_job, record_pod

pytestmark = pytest.mark.integration


def _job(task: str, round_: int, participant: str) -> dict[str, Any]:
    labels = {
        **MANAGED_BY,
        LABEL_TASK: task,
        LABEL_ROUND: str(round_),
        LABEL_KIND: "train",
        LABEL_PARTICIPANT: participant,
        LABEL_ATTEMPT: "0",
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": f"{task}-train-r{round_}-{participant}", "labels": labels},
        "spec": {
            "template": {
                "metadata": {"labels": labels},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "worker", "image": "worker"}]},
            }
        },
    }


def test_jobs_are_listed_by_round_and_results_read_in_one_request(
    kube_api: client.ApiClient, ns: str
) -> None:
    batch, core = client.BatchV1Api(kube_api), client.CoreV1Api(kube_api)
    for task in ("alpha", "beta"):  # a second task in the namespace must not show up either
        for round_ in range(6):
            for participant in ("p0", "p1"):
                job = batch.create_namespaced_job(ns, _job(task, round_, participant))
                if round_ < 5:  # every round but the latest has finished
                    message = json.dumps({"task": task, "round": round_, "participant": participant})
                    record_pod(core, ns, job, f"{job.metadata.name}-0", 0, message)
                    record_job(batch, ns, job, succeeded=True)

    kube = Kube(kube_api)
    views = kube.list_jobs(ns, "alpha", (4, 5))
    assert sorted((v.round, v.participant) for v in views) == [(4, "p0"), (4, "p1"), (5, "p0"), (5, "p1")]
    finished = [v for v in views if v.round == 4]
    assert all(v.result == {"task": "alpha", "round": 4, "participant": v.participant} for v in finished)
    assert all(v.result is None for v in views if v.round == 5)
    # one list of the Jobs and one of those rounds' pods: not one request per finished Job
    assert kube.requests.count == 2

    # read again: the results are cached, the pods not listed again
    kube.list_jobs(ns, "alpha", (4, 5))
    assert kube.requests.count == 3

    # without rounds (the chain not read yet) the pass still sees every Job of its task, and only its task
    every = Kube(kube_api).list_jobs(ns, "alpha")
    assert len(every) == 12
    assert {v.round for v in every} == set(range(6))
    assert all(v.result is not None for v in every if v.round < 5)

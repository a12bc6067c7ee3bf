"""Invalid manifests applied with kubectl are refused by the API server, with a message naming the field.

The CRDs are the ones generated from the pydantic models (crds/), installed here the way a user without
Helm would: `kubectl apply -f crds/`.
"""

from __future__ import annotations

import copy
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from .release import EXAMPLES, REPO_ROOT, Tools, make_tools

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tools(kubeconfig: Path) -> Iterator[Tools]:
    t = make_tools(kubeconfig)
    t.run(t.kubectl_bin, "apply", "--server-side", "--force-conflicts", "-f", str(REPO_ROOT / "crds"))
    for crd in ("fltasks.flalliance.io", "participants.flalliance.io"):
        t.run(t.kubectl_bin, "wait", "--for=condition=Established", f"crd/{crd}", "--timeout=60s")
    yield t


def _apply(tools: Tools, ns: str, doc: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tools.kubectl_bin, "-n", ns, "apply", "-f", "-"],
        input=yaml.safe_dump(doc),
        capture_output=True,
        text=True,
        env=os.environ | {"KUBECONFIG": str(tools.kubeconfig)},
        timeout=60,
        check=False,
    )


def _example(kind: str) -> dict[str, Any]:
    name = {"FLTask": "fltask", "Participant": "participants"}[kind]
    docs = [d for d in yaml.safe_load_all((EXAMPLES / f"{name}.yaml").read_text()) if d and d["kind"] == kind]
    return copy.deepcopy(docs[0])


def _fltask(**changes: Any) -> dict[str, Any]:
    doc = _example("FLTask")
    for path, value in changes.items():
        node = doc["spec"]
        *parents, leaf = path.split("__")
        for p in parents:
            node = node[p]
        if value is None:
            node.pop(leaf)
        else:
            node[leaf] = value
    return doc


CASES = [
    ("proposer fraction out of range", _fltask(proposerFraction=1.5), "spec.proposerFraction"),
    ("store missing", _fltask(store=None), "spec.store"),
    ("bad store url", _fltask(store__url="ftp://somewhere"), "spec.store.url"),
    ("unknown payout policy", _fltask(payoutPolicy="Everyone"), "spec.payoutPolicy"),
    (
        "both arena task and contract",
        _fltask(contractAddress="0x" + "1" * 40),
        "exactly one of arenaTaskId and contractAddress must be set",
    ),
    ("bad factory address", _fltask(chain__factoryAddress="0x1234"), "spec.chain.factoryAddress"),
]


@pytest.mark.parametrize(("what", "doc", "named"), CASES, ids=[c[0] for c in CASES])
def test_invalid_fltask_is_refused_naming_the_field(
    tools: Tools, namespace: str, what: str, doc: dict[str, Any], named: str
) -> None:
    proc = _apply(tools, namespace, doc)
    assert proc.returncode != 0, f"{what}: kubectl accepted it:\n{proc.stdout}"
    assert named in proc.stderr, f"{what}: the error does not name {named!r}:\n{proc.stderr}"


def test_invalid_participant_is_refused_naming_the_field(tools: Tools, namespace: str) -> None:
    doc = _example("Participant")
    doc["spec"]["stake"] = "lots"
    doc["spec"]["dataset"] = {"persistentVolumeClaim": "data-p1", "volume": {"emptyDir": {}}}
    proc = _apply(tools, namespace, doc)
    assert proc.returncode != 0, proc.stdout
    assert "spec.stake" in proc.stderr, proc.stderr
    assert "exactly one of dataset.persistentVolumeClaim and dataset.volume" in proc.stderr, proc.stderr


def test_the_example_itself_is_accepted(tools: Tools, namespace: str) -> None:
    """The control case: the same manifests unchanged pass validation (so the refusals above are real)."""
    for kind in ("FLTask", "Participant"):
        proc = _apply(tools, namespace, _example(kind))
        assert proc.returncode == 0, proc.stderr

"""Honest voters in different processes must produce byte-identical aggregates (and pioneer models).

Each rule runs in separate Python processes on the same proposal files given in different orders; the
sha256 of the encoded aggregates must agree across processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from flalliance.fl.weights import content_hash, encode

pytestmark = pytest.mark.integration

CHILD = r"""
import json, sys
from pathlib import Path
import torch
torch.set_num_threads(int(sys.argv[3]))
from flalliance.fl.aggregation import Proposal, aggregate
from flalliance.fl.pioneer import initial_model_bytes
from flalliance.fl.spec import parse_spec, TrainingLogicSpec
from flalliance.fl.weights import content_hash, decode, encode, TensorSpec
from flalliance.fl.models import architecture
from pydantic import TypeAdapter
from flalliance.fl.spec import AggregationSpec

work = Path(sys.argv[1])
order = json.loads(sys.argv[2])
spec = parse_spec((work / "spec.json").read_text())
arch = architecture(spec)
props = []
for name in order:
    data = (work / name).read_bytes()
    tensors = decode(data, arch, max_bytes=spec.max_model_bytes)
    props.append(Proposal(content_hash(data), tensors, 10 + 3 * int(name[1])))
rules = json.loads((work / "rules.json").read_text())
out = {}
for key, rule in rules.items():
    r = TypeAdapter(AggregationSpec).validate_python(rule)
    out[key] = content_hash(encode(aggregate(r, props))).hex()
out["pioneer"] = content_hash(initial_model_bytes(spec)).hex()
print(json.dumps(out))
"""


def test_aggregates_agree_across_processes(tmp_path: Path) -> None:
    spec_json = (
        '{"dataset":{"source":"digits","feature_shape":[1,8,8],"num_classes":10},'
        '"model":{"kind":"mcmahan_cnn","conv1":8,"conv2":16,"hidden":32},'
        '"training":{"epochs":1,"batch_size":8,"optimizer":{"learning_rate":0.1}}}'
    )
    (tmp_path / "spec.json").write_text(spec_json)
    from flalliance.fl.pioneer import initial_tensors
    from flalliance.fl.spec import parse_spec

    base = initial_tensors(parse_spec(spec_json))
    rng = np.random.default_rng(7)
    names = []
    for i in range(7):
        scale = 100.0 if i == 6 else 0.01  # one wild proposal
        t = {k: (v + scale * rng.standard_normal(v.shape)).astype(np.float32) for k, v in base.items()}
        name = f"p{i}.safetensors"
        (tmp_path / name).write_bytes(encode(t))
        names.append(name)
    rules = {
        "fedavg": {"rule": "fedavg"},
        "mean": {"rule": "fedavg", "weighted": False},
        "median": {"rule": "median"},
        "trimmed": {"rule": "trimmed_mean", "beta": 0.2},
        "krum": {"rule": "multi_krum", "byzantine": 2},
    }
    (tmp_path / "rules.json").write_text(json.dumps(rules))
    orders = [names, list(reversed(names)), names[3:] + names[:3]]
    results = []
    for threads, order in zip((1, 2, 1), orders, strict=True):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(tmp_path), json.dumps(order), str(threads)],
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        )
        results.append(json.loads(out.stdout))
    assert results[0] == results[1] == results[2]
    assert len(set(results[0].values())) == len(results[0])  # the rules really differ
    assert results[0]["pioneer"] == content_hash(encode(base)).hex()  # and match this process

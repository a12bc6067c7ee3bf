"""The LoRA plugin on a real (small) transformers model with peft adapters: training lowers the evaluation
loss, only adapter tensors travel, the pioneer is reproducible, and the voter's round accepts honest
adapters and rejects a poisoned one. The base model is smaller than the benchmark's (hidden 64, 2 layers)
to keep the suite fast; the figures are in bench/results/lora-*.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from flalliance.fl.aggregation import Proposal, aggregate
from flalliance.fl.attacks import malicious_proposal
from flalliance.fl.pioneer import initial_tensors
from flalliance.fl.plugins import plugin_for
from flalliance.fl.plugins.lora_base import manifest_hash, write_base_model
from flalliance.fl.plugins.lora_text import corpus, write_partitions
from flalliance.fl.private_split import private_split
from flalliance.fl.spec import TrainingLogicSpec, parse_spec
from flalliance.fl.training import evaluate, load_data, train
from flalliance.fl.validation import ProposalFile, validate_round
from flalliance.fl.weights import content_hash, encode

pytestmark = pytest.mark.integration
SMALL = {"vocab_size": 512, "hidden_size": 64, "layers": 2, "heads": 2, "intermediate_size": 128}


@pytest.fixture(scope="module")
def task(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainingLogicSpec, Path]:
    root = tmp_path_factory.mktemp("lora")
    digest = write_base_model(root / "base", corpus(n=1500), **SMALL)
    write_partitions(root / "data", 4, 160, alpha=1.0, seed=0, test=200)
    spec = parse_spec(
        json.dumps(
            {
                "runtime": {"plugin": "lora_causal_lm"},
                "metric": {"name": "cross_entropy", "direction": "minimize"},
                "aggregation": {"rule": "fedavg", "include": "accepted"},
                "validation": {"vote_margin": 0.05, "min_reference_gain": 0.25},
                "config": {
                    "base_model": {"sha256": digest, "path": str(root / "base")},
                    "lora": {
                        "rank": 4,
                        "alpha": 8,
                        "target_modules": ["q_proj", "v_proj", "up_proj", "down_proj"],
                    },
                    "sequence_length": 32,
                    "training": {"steps": 25, "batch_size": 16, "optimizer": {"learning_rate": 0.005}},
                },
            }
        )
    )
    return spec, root


def test_base_model_is_reproducible_and_pinned(task: tuple[TrainingLogicSpec, Path], tmp_path: Path) -> None:
    _, root = task
    again = write_base_model(tmp_path / "b", corpus(n=1500), **SMALL)
    assert again == manifest_hash(root / "base")
    assert sorted(p.name for p in (root / "base").iterdir()) == [
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
    ]


def test_pioneer_adapters_are_seeded_and_start_at_the_base_model(
    task: tuple[TrainingLogicSpec, Path],
) -> None:
    spec, _ = task
    a, b, c = initial_tensors(spec, seed=1), initial_tensors(spec, seed=1), initial_tensors(spec, seed=2)
    assert content_hash(encode(a)) == content_hash(encode(b)) != content_hash(encode(c))
    assert a and all("lora_A" in n or "lora_B" in n for n in a)
    assert all(not t.any() for n, t in a.items() if "lora_B" in n)  # B = 0: the adapted model is the base


def test_training_lowers_the_evaluation_loss_and_only_adapters_travel(
    task: tuple[TrainingLogicSpec, Path],
) -> None:
    spec, root = task
    start = initial_tensors(spec)
    data = load_data(spec, root / "data" / "client-0")
    test = load_data(spec, root / "data" / "global-test")
    before = evaluate(spec, start, test)
    result = train(spec, start, data, seed=3)
    after = evaluate(spec, result.tensors, test)
    assert result.device == "cpu"
    assert after < before - 0.3, (before, after)
    adapter_bytes = len(encode(result.tensors))
    model_bytes = (root / "base" / "model.safetensors").stat().st_size
    assert adapter_bytes * 5 < model_bytes, (adapter_bytes, model_bytes)
    again = train(spec, start, data, seed=3)  # deterministic for a seed on one machine
    assert content_hash(encode(again.tensors)) == content_hash(encode(result.tensors))


@pytest.mark.parametrize("warm", [False, True], ids=["round 0, untrained pioneer", "after a round"])
def test_voter_accepts_honest_adapters_and_rejects_a_poisoned_one(
    task: tuple[TrainingLogicSpec, Path], warm: bool
) -> None:
    spec, root = task
    plugin = plugin_for(spec)
    secret = b"s" * 32
    splits = [
        private_split(
            load_data(spec, root / "data" / f"client-{i}"),
            secret=secret + bytes([i]),
            task=b"t",
            test_fraction=0.2,
        )
        for i in range(4)
    ]
    # round 0 judges against the untrained pioneer (where a poisoned adapter still gains something); the
    # other case plays one honest round first, so the global adapters are trained
    g0 = initial_tensors(spec)
    trained = [train(spec, g0, splits[i][0], seed=10 + i) for i in range(3)] if warm else []
    props = [Proposal(bytes([i]) * 32, w.tensors, w.num_samples) for i, w in enumerate(trained)]
    global_t = aggregate(spec.aggregation, props) if warm else g0
    # round 0 as in the example (2 proposers: too few for the outlier check, the reference gain decides);
    # after a round with three proposals
    honest = [train(spec, global_t, splits[i][0], seed=20 + i).tensors for i in ((0, 1) if warm else (0,))]
    poisoned = malicious_proposal("label_flip", spec, global_t, splits[2][0], seed=7)
    files = {content_hash(encode(t)): encode(t) for t in [*honest, poisoned]}
    rv = validate_round(
        spec,
        global_t,
        [ProposalFile(h, b, 100) for h, b in files.items()],
        splits[3][1],
        train=splits[3][0],
        reference_seed=5,
    )
    verdicts = {v.hash: v for v in rv.verdicts}
    bad = content_hash(encode(poisoned))
    assert not verdicts[bad].accepted, verdicts[bad]
    assert all(v.accepted for h, v in verdicts.items() if h != bad), rv.verdicts
    assert rv.included == sorted(h for h in files if h != bad)  # the voter aggregates what it accepts
    assert rv.aggregate is not None and rv.aggregate_metric is not None
    assert rv.vote.score >= 0, rv.vote
    assert plugin.evaluate(spec, rv.aggregate, splits[3][1]) == rv.aggregate_metric


RULES = [
    {"rule": "fedavg"},
    {"rule": "median"},
    {"rule": "trimmed_mean", "beta": 0.2},
    {"rule": "multi_krum", "byzantine": 1},
]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: str(r["rule"]))
def test_every_rule_aggregates_adapters_byte_identically_whatever_the_order(
    task: tuple[TrainingLogicSpec, Path], rule: dict[str, object]
) -> None:
    from pydantic import TypeAdapter

    from flalliance.fl.spec import AggregationSpec

    spec, root = task
    agg_rule: AggregationSpec = TypeAdapter(AggregationSpec).validate_python(rule)
    g0 = initial_tensors(spec)
    data = load_data(spec, root / "data" / "client-1")
    models = [train(spec, g0, data, seed=s).tensors for s in (1, 2, 3, 4)]
    props = [Proposal(content_hash(encode(m)), m, 10 + i) for i, m in enumerate(models)]
    out = aggregate(agg_rule, props)
    assert encode(aggregate(agg_rule, props[::-1])) == encode(out)
    assert set(out) == set(g0) and all(a.dtype == np.float32 for a in out.values())


def test_the_examples_pinned_base_model_is_what_the_command_writes(tmp_path: Path) -> None:
    """examples/llm-lora/fltask.yaml pins the hash `flalliance-worker base-model --seed 0` writes: a change
    of the pinned libraries or of the generator must show here, not as a refused task on a cluster."""
    import yaml

    root = Path(__file__).resolve().parents[3]
    docs = list(yaml.safe_load_all((root / "examples" / "llm-lora" / "fltask.yaml").read_text()))
    pinned = docs[0]["spec"]["trainingLogic"]["inline"]["config"]["base_model"]["sha256"]
    assert write_base_model(tmp_path / "base", corpus(), seed=0) == pinned

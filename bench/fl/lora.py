"""Benchmark *lora*: the LoRA task federated by this protocol, against centralized LoRA fine-tuning on the
pooled data and against Flower's FedAvg on the same clients' adapters.

The task is the llm-lora preset's (`flalliance simulate --preset llm-lora`, examples/llm-lora): the
generated base model (hidden 192, 4 layers, 2.2M parameters), rank-8 adapters on every projection, 4
participants with 300 generated instruction examples each (Dirichlet(0.5) skill mixes), each split
privately into train/test as a worker splits it. Every round two proposers train (20 AdamW steps of 16
sequences each, from the global adapters); the round's first voter judges them with the real voter's code
(`validate_round`, include=accepted) and its aggregate becomes the global model: what the chain would
accept. Proposers are drawn without replacement per epoch, as the contract does.

- **centralized**: one adapter trained on all participants' train splits pooled, with as many optimizer
  steps as the whole federation took (rounds x proposers x steps), same batch size and optimizer; also at
  rounds x steps (one proposer's sequential budget), for reference.
- **flower_fedavg**: the same proposers' adapters each round aggregated by Flower's `FedAvg.aggregate_fit`
  (weighted by examples), run in the bench venv (`make bench-venv`); skipped with a note without flwr.

Targets (issue 14): final federated evaluation loss within 5% of centralized; within 2% of Flower's FedAvg.
Also adapter bytes per proposal against the base model's bytes, and round time on this CPU.

    .venv/bin/python bench/fl/lora.py                  # or .state/bench-venv/bin/python for the Flower run
        [--rounds 10] [--seed 0] [--out bench/results/lora.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from flalliance.fl.pioneer import initial_tensors
from flalliance.fl.plugin import Samples
from flalliance.fl.plugins.lora_base import manifest_hash, write_base_model
from flalliance.fl.plugins.lora_text import corpus, write_partitions
from flalliance.fl.private_split import private_split
from flalliance.fl.spec import TrainingLogicSpec
from flalliance.fl.training import evaluate, join, load_data, train
from flalliance.fl.validation import ProposalFile, validate_round
from flalliance.fl.weights import Tensors, content_hash, encode
from flalliance.sim.config import SimConfig, lora_preset_spec

REPO = Path(__file__).resolve().parents[2]
PARTICIPANTS, PROPOSERS = 4, 2


def machine() -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "commit": commit.stdout.strip(),
    }


def setup(work: Path, seed: int) -> tuple[TrainingLogicSpec, list[tuple[Samples, Samples]], Samples, str]:
    base = work / "base-model"
    digest = manifest_hash(base) if (base / "config.json").is_file() else write_base_model(base, corpus())
    write_partitions(work / "data", PARTICIPANTS, 300, alpha=0.5, seed=seed)
    spec = lora_preset_spec(SimConfig(preset="llm-lora", include="accepted"), digest, base.resolve())
    splits = []
    for i in range(PARTICIPANTS):
        data = load_data(spec, work / "data" / f"client-{i}")
        secret = f"bench-lora/{seed}/{i}".encode().ljust(32, b".")
        splits.append(private_split(data, secret=secret, task=b"bench-lora", test_fraction=0.2))
    return spec, splits, load_data(spec, work / "data" / "global-test"), digest


def proposers_of(round: int, rng: np.random.Generator, order: list[int]) -> list[int]:
    """Every participant proposes once per epoch of PARTICIPANTS / PROPOSERS rounds (the contract's rule)."""
    epoch = PARTICIPANTS // PROPOSERS
    if round % epoch == 0:
        order[:] = list(rng.permutation(PARTICIPANTS))
    at = (round % epoch) * PROPOSERS
    return sorted(order[at : at + PROPOSERS])


Splits = list[tuple[Samples, Samples]]


def federated(
    spec: TrainingLogicSpec, splits: Splits, test: Samples, rounds: int, seed: int, flower: bool
) -> dict[str, Any]:
    g: Tensors = initial_tensors(spec)
    fg: Tensors = {k: v.copy() for k, v in g.items()}  # Flower's global model
    curve, flower_curve = [evaluate(spec, g, test)], [evaluate(spec, fg, test)]
    rng, order = np.random.default_rng(seed), [0]
    train_s, validate_s, rejected, adapter_bytes = [], [], 0, 0
    strategy = None
    if flower:
        from flwr.server.strategy import FedAvg

        strategy = FedAvg()
    for r in range(rounds):
        props = proposers_of(r, rng, order)
        voter = next(i for i in range(PARTICIPANTS) if i not in props)
        t0 = time.perf_counter()
        models = {i: train(spec, g, splits[i][0], seed=seed + 1000 * r + i).tensors for i in props}
        train_s.append((time.perf_counter() - t0) / len(props))
        blobs = {i: encode(m) for i, m in models.items()}
        adapter_bytes = len(next(iter(blobs.values())))
        files = [ProposalFile(content_hash(b), b, len(splits[i][0])) for i, b in blobs.items()]
        t0 = time.perf_counter()
        rv = validate_round(spec, g, files, splits[voter][1], train=splits[voter][0], reference_seed=seed + r)
        validate_s.append(time.perf_counter() - t0)
        rejected += sum(1 for v in rv.verdicts if not v.accepted)
        if rv.aggregate is not None:
            g = rv.aggregate
        curve.append(evaluate(spec, g, test))
        if strategy is not None:
            fmodels = {i: train(spec, fg, splits[i][0], seed=seed + 1000 * r + i).tensors for i in props}
            fg = flower_fedavg(strategy, r, fg, fmodels, {i: len(splits[i][0]) for i in props})
            flower_curve.append(evaluate(spec, fg, test))
        print(f"round {r}: proposers {props}, voter {voter}, loss {curve[-1]:.4f}"
              + (f", flower {flower_curve[-1]:.4f}" if strategy else ""), flush=True)  # fmt: skip
    return {
        "curve": curve,
        "flower_curve": flower_curve if strategy is not None else None,
        "honest_rejected": rejected,
        "proposals": rounds * PROPOSERS,
        "adapter_bytes": adapter_bytes,
        "train_seconds_per_proposer": float(np.mean(train_s)),
        "validate_seconds_per_voter": float(np.mean(validate_s)),
        "round_seconds": float(np.mean(train_s) + np.mean(validate_s)),  # proposers train in parallel
    }


def flower_fedavg(
    strategy: Any, r: int, g: Tensors, models: dict[int, Tensors], sizes: dict[int, int]
) -> Tensors:
    from flwr.common import Code, FitRes, Status, ndarrays_to_parameters, parameters_to_ndarrays

    keys = list(g)
    results = [
        (
            None,
            FitRes(Status(Code.OK, ""), ndarrays_to_parameters([models[i][k] for k in keys]), sizes[i], {}),
        )
        for i in sorted(models)
    ]
    params, _ = strategy.aggregate_fit(r + 1, results, [])
    return {
        k: np.asarray(a, dtype=np.float32) for k, a in zip(keys, parameters_to_ndarrays(params), strict=True)
    }


def centralized(spec: TrainingLogicSpec, splits: list[tuple[Samples, Samples]], test: Samples, steps: int,
                seed: int) -> dict[str, Any]:  # fmt: skip
    pooled = join(spec, [s[0] for s in splits])
    cfg = dict(spec.config or {})
    cfg["training"] = {**cfg["training"], "steps": steps}  # type: ignore[dict-item]
    long = spec.model_copy(update={"config": cfg})
    t0 = time.perf_counter()
    result = train(long, initial_tensors(spec), pooled, seed=seed)
    return {"steps": steps, "loss": evaluate(spec, result.tensors, test), "seconds": time.perf_counter() - t0}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", type=Path, default=REPO / ".state" / "bench-lora")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "lora.json")
    args = p.parse_args()
    torch.set_num_threads(1)
    try:
        import flwr

        flower_version: str | None = flwr.__version__
    except ImportError:
        flower_version = None
    spec, splits, test, digest = setup(args.work, args.seed)
    steps = int(spec.config["training"]["steps"])  # type: ignore[index, call-overload]
    fed = federated(spec, splits, test, args.rounds, args.seed, flower_version is not None)
    total = args.rounds * PROPOSERS * steps
    central = centralized(spec, splits, test, total, args.seed)
    central_seq = centralized(spec, splits, test, args.rounds * steps, args.seed)
    base_bytes = (args.work / "base-model" / "model.safetensors").stat().st_size
    final = fed["curve"][-1]
    out: dict[str, Any] = {
        "machine": machine(),
        "flwr": flower_version,
        "seed": args.seed,
        "rounds": args.rounds,
        "participants": PARTICIPANTS,
        "proposers_per_round": PROPOSERS,
        "spec": json.loads(spec.model_dump_json()),
        "base_model_sha256": digest,
        "base_model_bytes": base_bytes,
        "federated": fed,
        "centralized_same_total_steps": central,
        "centralized_sequential_steps": central_seq,
        "final_loss": {"federated": final, "centralized": central["loss"], "initial": fed["curve"][0]},
        "federated_vs_centralized_pct": 100 * (final - central["loss"]) / central["loss"],
        "adapter_vs_model_bytes_pct": 100 * fed["adapter_bytes"] / base_bytes,
    }
    out["target_centralized_met"] = out["federated_vs_centralized_pct"] <= 5.0
    if fed["flower_curve"] is not None:
        flower_final = fed["flower_curve"][-1]
        out["final_loss"]["flower_fedavg"] = flower_final
        out["federated_vs_flower_pct"] = 100 * (final - flower_final) / flower_final
        out["target_flower_met"] = out["federated_vs_flower_pct"] <= 2.0
    else:
        out["note"] = "flwr not installed in this interpreter: run with .state/bench-venv/bin/python"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    print(json.dumps({k: out[k] for k in out if k.endswith(("pct", "met")) or k == "final_loss"}, indent=2))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()

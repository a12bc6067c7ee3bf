"""Benchmark figures of the FL engine, written to bench/results/fl.json:

- aggregation time per rule for 10 and 50 proposals of the McMahan CNN (1,663,370 parameters), including
  the float64 work and the deterministic safetensors encoding of the result;
- bytes per model (safetensors file) for each model on 28x28 images;
- import / start-up time of the fl package (fresh interpreter, best of 3).

    .venv/bin/python bench/fl/figures.py [--out bench/results/fl.json] [--sizes 10 50]
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

import numpy as np
import torch

from flalliance.fl.aggregation import Proposal, aggregate
from flalliance.fl.models import architecture
from flalliance.fl.pioneer import initial_model_bytes, initial_tensors
from flalliance.fl.spec import (
    AggregationSpec,
    DatasetSpec,
    FedAvgSpec,
    LogRegSpec,
    McMahan2NNSpec,
    McMahanCNNSpec,
    MedianSpec,
    MLPSpec,
    ModelSpec,
    MultiKrumSpec,
    TrainingLogicSpec,
    TrimmedMeanSpec,
)
from flalliance.fl.weights import content_hash, encode

IMAGES = DatasetSpec(source="fashion_mnist", feature_shape=(1, 28, 28), num_classes=10)


def spec_for(model: ModelSpec) -> TrainingLogicSpec:
    return TrainingLogicSpec.model_validate(
        {
            "dataset": IMAGES,
            "model": model,
            "training": {"epochs": 1, "batch_size": 10, "optimizer": {"learning_rate": 0.1}},
        }
    )


def aggregation_times(sizes: list[int]) -> dict[str, dict[str, float]]:
    spec = spec_for(McMahanCNNSpec())
    base = initial_tensors(spec)
    rng = np.random.default_rng(0)
    rules: dict[str, AggregationSpec] = {
        "fedavg": FedAvgSpec(),
        "median": MedianSpec(),
        "trimmed_mean": TrimmedMeanSpec(beta=0.1),
        "multi_krum": MultiKrumSpec(byzantine=2),
    }
    out: dict[str, dict[str, float]] = {}
    for n in sizes:
        proposals = []
        for i in range(n):
            t = {k: (v + 0.01 * rng.standard_normal(v.shape)).astype(np.float32) for k, v in base.items()}
            proposals.append(Proposal(content_hash(encode(t)), t, 100 + i))
        for name, rule in rules.items():
            started = time.perf_counter()
            encode(aggregate(rule, proposals))
            out.setdefault(name, {})[str(n)] = round(time.perf_counter() - started, 3)
            print(f"aggregate {name} n={n}: {out[name][str(n)]} s", flush=True)
    return out


def model_bytes() -> dict[str, int]:
    models: dict[str, ModelSpec] = {
        "logreg": LogRegSpec(),
        "mlp_64": MLPSpec(hidden=(64,)),
        "mcmahan_2nn": McMahan2NNSpec(),
        "mcmahan_cnn": McMahanCNNSpec(),
    }
    out = {}
    for name, model in models.items():
        spec = spec_for(model)
        out[name] = len(initial_model_bytes(spec))
        params = sum(int(np.prod(t.shape)) for t in architecture(spec).values())
        print(f"{name}: {params} parameters, {out[name]} bytes", flush=True)
    return out


def import_seconds() -> dict[str, float]:
    out = {}
    for module in ("flalliance.fl", "flalliance.fl.spec", "flalliance.fl.validation", "flalliance.store"):
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
            best = min(best, time.perf_counter() - started)
        out[module] = round(best, 3)
        print(f"python -c 'import {module}': {out[module]} s", flush=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    out["bare_interpreter"] = round(time.perf_counter() - started, 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("bench/results/fl.json"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50])
    args = parser.parse_args()
    torch.set_num_threads(2)
    result = {
        "command": "python bench/fl/figures.py " + " ".join(sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__},
        "aggregation_seconds_mcmahan_cnn": aggregation_times(args.sizes),
        "model_file_bytes": model_bytes(),
        "import_seconds": import_seconds(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    args.out.write_text(json.dumps({**previous, **result}, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()

"""Benchmark *throughput*: how fast a worker trains, per plugin, on this machine's device.

- classifier: McMahan's 2NN on Fashion-MNIST-shaped inputs (784 features), samples per second of local
  training (1 epoch of 6,000 samples, batch 32);
- lora_causal_lm: the example's base model and adapters, tokens per second of local training (loss-carrying
  and input tokens both reported), and the seconds one proposer's round of training takes (20 steps of 16
  sequences of 32 tokens) and one voter's round of judging two proposals takes.

Runs on CPU here and on CUDA where the machine has a device (the LoRA plugin's `device: auto`; the
classifier plugin always trains on the CPU), writing bench/results/throughput-<device>.json.

    .venv/bin/python bench/fl/throughput.py [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from flalliance.fl.dataset import Dataset
from flalliance.fl.pioneer import initial_tensors
from flalliance.fl.plugins.lora_base import manifest_hash, write_base_model
from flalliance.fl.plugins.lora_text import corpus, write_partitions
from flalliance.fl.private_split import private_split
from flalliance.fl.spec import parse_spec
from flalliance.fl.training import load_data, train
from flalliance.fl.validation import ProposalFile, validate_round
from flalliance.fl.weights import content_hash, encode
from flalliance.sim.config import SimConfig, lora_preset_spec

REPO = Path(__file__).resolve().parents[2]


def classifier(repeats: int) -> dict[str, Any]:
    spec = parse_spec(
        json.dumps(
            {
                "dataset": {"source": "participant", "feature_shape": [784], "num_classes": 10},
                "model": {"kind": "mcmahan_2nn"},
                "training": {"epochs": 1, "batch_size": 32, "optimizer": {"learning_rate": 0.05}},
            }
        )
    )
    rng = np.random.default_rng(0)
    data = Dataset(rng.random((6000, 784), dtype=np.float32), rng.integers(0, 10, 6000).astype(np.int64))
    g = initial_tensors(spec)
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        train(spec, g, data, seed=r)
        times.append(time.perf_counter() - t0)
    best = min(times)
    return {
        "model": "mcmahan_2nn",
        "samples": len(data),
        "seconds": best,
        "samples_per_second": len(data) / best,
    }


def lora(work: Path, repeats: int) -> dict[str, Any]:
    base = work / "base-model"
    digest = manifest_hash(base) if (base / "config.json").is_file() else write_base_model(base, corpus())
    write_partitions(work / "data", 3, 300, alpha=0.5, seed=0)
    spec = lora_preset_spec(SimConfig(preset="llm-lora"), digest, base.resolve())
    cfg = spec.config or {}
    steps = int(cfg["training"]["steps"])  # type: ignore[index, call-overload]
    batch = int(cfg["training"]["batch_size"])  # type: ignore[index, call-overload]
    length = int(cfg["sequence_length"])  # type: ignore[call-overload]
    splits = [
        private_split(load_data(spec, work / "data" / f"client-{i}"), secret=bytes([i]) * 32, task=b"x",
                      test_fraction=0.2)
        for i in range(3)
    ]  # fmt: skip
    g = initial_tensors(spec)
    times, device = [], "cpu"
    for r in range(repeats):
        t0 = time.perf_counter()
        result = train(spec, g, splits[0][0], seed=r)
        times.append(time.perf_counter() - t0)
        device = result.device
    best = min(times)
    a = train(spec, g, splits[0][0], seed=11).tensors
    b = train(spec, g, splits[1][0], seed=12).tensors
    files = [ProposalFile(content_hash(encode(t)), encode(t), 100) for t in (a, b)]
    t0 = time.perf_counter()
    validate_round(spec, g, files, splits[2][1], train=splits[2][0], reference_seed=3)
    judge = time.perf_counter() - t0
    input_tokens = steps * batch * length
    return {
        "device": device,
        "base_model_sha256": digest,
        "steps": steps,
        "batch_size": batch,
        "sequence_length": length,
        "train_seconds_per_round": best,
        "input_tokens_per_second": input_tokens / best,
        "sequences_per_second": steps * batch / best,
        "validate_seconds_two_proposals": judge,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--work", type=Path, default=REPO / ".state" / "bench-throughput")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    out = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None,
            "threads": args.threads,
        },
        "classifier": classifier(args.repeats),
        "lora_causal_lm": lora(args.work, args.repeats),
    }
    path = args.out or REPO / "bench" / "results" / f"throughput-{device}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    print(json.dumps(out, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()

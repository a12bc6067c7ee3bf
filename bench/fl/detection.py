"""Benchmark: how the voter's scoring rule separates malicious from honest proposals.

digits, MLP 64-64-10, 10 participants under Dirichlet(alpha) label skew, 3 of them malicious with one
attack; every participant proposes each round and every honest participant votes with its private test
split. Reports the share of malicious and of honest proposals rejected (over all voters and rounds) and
the global model's accuracy on the held-out set.

    .venv/bin/python bench/fl/detection.py [--rounds 15] [--alpha 0.5] [--seeds 0 1 2] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from flalliance.fl.attacks import ATTACKS, malicious_proposal
from flalliance.fl.datasets import load_builtin
from flalliance.fl.partition import dirichlet, holdout
from flalliance.fl.pioneer import initial_tensors
from flalliance.fl.private_split import private_split
from flalliance.fl.spec import (
    DatasetSpec,
    FedAvgSpec,
    MLPSpec,
    OptimizerSpec,
    TrainingLogicSpec,
    TrainingSpec,
)
from flalliance.fl.training import evaluate, train
from flalliance.fl.validation import ProposalFile, validate_round
from flalliance.fl.weights import content_hash, encode

SPEC = TrainingLogicSpec(
    dataset=DatasetSpec(source="digits", feature_shape=(64,), num_classes=10),
    model=MLPSpec(hidden=(64,)),
    training=TrainingSpec(epochs=2, batch_size=16, optimizer=OptimizerSpec(learning_rate=0.05)),
    aggregation=FedAvgSpec(include="screened"),
)
TASK = b"bench-task"


def run(attack: str | None, *, rounds: int, alpha: float, seed: int, clients: int = 10, bad: int = 3) -> dict:
    data = load_builtin("digits").train
    rest, held = holdout(data.y, 0.2, seed)
    pool, global_test = data.subset(rest), data.subset(held)
    parts, _ = dirichlet(pool.y, clients, alpha, seed, min_size=10)
    splits = [
        private_split(
            pool.subset(p), secret=f"participant-{i}-secret-{seed}".encode(), task=TASK, test_fraction=0.2
        )
        for i, p in enumerate(parts)
    ]
    rng = np.random.default_rng(seed + 1000)
    malicious = set(rng.choice(clients, size=bad, replace=False).tolist()) if attack else set()
    g = initial_tensors(SPEC, seed=seed)
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for r in range(rounds):
        files, owner = [], {}
        for i, (tr, _) in enumerate(splits):
            if i in malicious and attack is not None:
                t = malicious_proposal(attack, SPEC, g, tr, seed=seed * 1000 + r * 10 + i)  # type: ignore[arg-type]
            else:
                t = train(SPEC, g, tr, seed=seed * 1000 + r * 10 + i).tensors
            b = encode(t)
            h = content_hash(b)
            owner[h] = i
            files.append(ProposalFile(h, b, len(tr)))
        agg = None
        rejections: Counter[bytes] = Counter()
        voters = 0
        for v, (_, te) in enumerate(splits):
            if v in malicious:
                continue
            res = validate_round(SPEC, g, files, te)
            voters += 1
            for verdict in res.verdicts:
                kind = "malicious" if owner[verdict.hash] in malicious else "honest"
                counts[f"{kind}_total"] += 1
                if not verdict.accepted:
                    counts[f"{kind}_rejected"] += 1
                    rejections[verdict.hash] += 1
                    reasons[f"{kind}:{verdict.reason}"] += 1
            if agg is None and res.aggregate is not None:
                agg = res.aggregate
        for h, i in owner.items():
            kind = "malicious" if i in malicious else "honest"
            counts[f"{kind}_proposals"] += 1
            if 2 * rejections[h] > voters:
                counts[f"{kind}_majority_rejected"] += 1
        if agg is not None:
            g = agg
    return {
        "counts": dict(counts),
        "reasons": dict(reasons),
        "final_global_accuracy": evaluate(SPEC, g, global_test),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--attacks", nargs="+", default=["none", *ATTACKS])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--min-cosine", type=float, default=None, help="override validation.min_cosine")
    parser.add_argument("--loss-z", type=float, default=None, help="override validation.loss_outlier_z")
    args = parser.parse_args()
    global SPEC
    overrides = {}
    if args.min_cosine is not None:
        overrides["min_cosine"] = args.min_cosine
    if args.loss_z is not None:
        overrides["loss_outlier_z"] = args.loss_z
    if overrides:
        SPEC = SPEC.model_copy(update={"validation": SPEC.validation.model_copy(update=overrides)})
    torch.set_num_threads(1)
    results: dict[str, dict] = {}
    for attack in args.attacks:
        started = time.perf_counter()
        total: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        accs = []
        for seed in args.seeds:
            out = run(None if attack == "none" else attack, rounds=args.rounds, alpha=args.alpha, seed=seed)
            total.update(out["counts"])
            reasons.update(out["reasons"])
            accs.append(out["final_global_accuracy"])
        row = {
            "malicious_rejected": total["malicious_rejected"] / total["malicious_total"]
            if total["malicious_total"]
            else None,
            "honest_rejected": total["honest_rejected"] / total["honest_total"],
            "malicious_rejected_by_voter_majority": total["malicious_majority_rejected"]
            / total["malicious_proposals"]
            if total["malicious_proposals"]
            else None,
            "honest_rejected_by_voter_majority": total["honest_majority_rejected"]
            / total["honest_proposals"],
            "honest_verdicts": total["honest_total"],
            "malicious_verdicts": total["malicious_total"],
            "final_accuracy_mean": float(np.mean(accs)),
            "final_accuracy_per_seed": accs,
            "rejection_reasons": dict(sorted(reasons.items())),
            "seconds": round(time.perf_counter() - started, 1),
        }
        results[attack] = row
        print(attack, json.dumps(row), flush=True)
    if args.out:
        args.out.write_text(
            json.dumps({"setup": vars(args) | {"out": str(args.out)}, "results": results}, indent=2)
        )


if __name__ == "__main__":
    main()

"""Benchmark *quality at scale*: 1,000 participants, committees against full participation.

Fashion-MNIST (the whole 60,000-image training set, Dirichlet alpha 0.5 over 1,000 participants: ~60
images each, split privately 80/20), the 2NN of the quality benchmark, E=2 local epochs. Two systems at the
same number of local trainings (client optimizer runs, each E epochs over its own data):

- ``committee``: our protocol in the emulator (`emulator.run`, the contract's rules through the reference
  ledger) with the FLTask resource's default committee, at most 16 proposers and 32 voters a round: every
  voter validates the 16 proposals on its private split, votes decide, PerProposal payouts;
- ``full``: full participation, every one of the 1,000 participants trains in every round and the server
  averages all of them (FedAvg weighted by samples, no voting): what a round costs when it does not have
  committees.

``full`` plays R rounds (R x 1,000 trainings), ``committee`` R x 1,000 / 16 rounds (the same trainings).
Reported: the final held-out accuracy of each (target: committee within 1 point of full), the rounds each
needs to reach 90% of its final accuracy, and the wall time.

    nice -n 10 .venv/bin/python bench/sim/scale.py --full-rounds 8
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, write
from emulator import Federation, federation, run

from flalliance.api.fltask import DEFAULT_MAX_PROPOSERS, DEFAULT_MAX_VOTERS
from flalliance.fl.aggregation import Proposal, aggregate
from flalliance.fl.pioneer import initial_tensors
from flalliance.fl.spec import FedAvgSpec
from flalliance.fl.training import evaluate, train
from flalliance.protocol import roles
from flalliance.sim.config import SimConfig, build_spec

PARTICIPANTS = 1_000
TARGET_POINTS = 1.0


def full_participation(cfg: SimConfig, fed: Federation, rounds: int) -> list[float]:
    """FedAvg with every participant training every round; the held-out accuracy after each round."""
    torch.set_num_threads(1)
    spec = build_spec(cfg)
    g = initial_tensors(spec, seed=cfg.init_seed)
    curve = []
    for r in range(rounds):
        props = []
        for i in range(cfg.participants):
            t = train(spec, g, fed.train[i], seed=cfg.train_seed + 1000 * r + i).tensors
            props.append(Proposal(b"%032d" % i, t, len(fed.train[i])))
        g = aggregate(FedAvgSpec(), props)
        curve.append(evaluate(spec, g, fed.held_out))
        print(f"full round {r}: {curve[-1]:.4f}", flush=True)
    return curve


def rounds_to(curve: list[float], share: float) -> int:
    """The first round (1-based) whose accuracy reaches ``share`` of the final one."""
    goal = share * curve[-1]
    return next(i + 1 for i, a in enumerate(curve) if a >= goal)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full-rounds", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test-subsample", type=int, default=2_000)
    args = parser.parse_args()
    base = SimConfig(
        preset="fmnist-2nn",
        participants=PARTICIPANTS,
        rounds=1,
        epochs=2,
        test_subsample=args.test_subsample,
        partition_seed=args.seed,
        init_seed=args.seed,
        train_seed=args.seed,
        max_proposers=DEFAULT_MAX_PROPOSERS,
        max_voters=DEFAULT_MAX_VOTERS,
    )
    proposers = roles.num_proposers(PARTICIPANTS, base.proposer_fraction_bps, DEFAULT_MAX_PROPOSERS)
    trainings = args.full_rounds * PARTICIPANTS
    committee_rounds = -(-trainings // proposers)
    t0 = time.perf_counter()
    fed = federation(base)
    t1 = time.perf_counter()
    full = full_participation(base, fed, args.full_rounds)
    t2 = time.perf_counter()
    committee = run(base.model_copy(update={"rounds": committee_rounds}), fed, "protocol")
    t3 = time.perf_counter()
    ours = committee.summary(set())
    gap = 100 * (full[-1] - committee.accuracy[-1])
    out: dict[str, Any] = {
        "machine": machine(),
        "config": base.model_dump(mode="json"),
        "participants": PARTICIPANTS,
        "samples_per_participant": {"min": min(fed.sizes), "max": max(fed.sizes), "total": sum(fed.sizes)},
        "committee": {
            "max_proposers": DEFAULT_MAX_PROPOSERS,
            "max_voters": DEFAULT_MAX_VOTERS,
            "proposers_per_round": proposers,
            "voters_per_round": roles.num_voters(PARTICIPANTS, proposers, DEFAULT_MAX_VOTERS),
            "rounds": committee_rounds,
            "trainings": committee_rounds * proposers,
            "final_accuracy": committee.accuracy[-1],
            "rounds_to_90pct_of_final": rounds_to(committee.accuracy, 0.9),
            "honest_rejected": ours["honest_rejected"],
            "rounds_accepted": committee.rounds_accepted,
            "curve": [round(a, 4) for a in committee.accuracy],
            "seconds": round(t3 - t2, 1),
        },
        "full": {
            "rounds": args.full_rounds,
            "trainings": trainings,
            "final_accuracy": full[-1],
            "rounds_to_90pct_of_final": rounds_to(full, 0.9),
            "curve": [round(a, 4) for a in full],
            "seconds": round(t2 - t1, 1),
        },
        "gap_points": gap,
        "target_points": TARGET_POINTS,
        "target_met": gap <= TARGET_POINTS,
        "data_seconds": round(t1 - t0, 1),
    }
    print(
        f"full {full[-1]:.4f} after {args.full_rounds} rounds; committee {committee.accuracy[-1]:.4f} after "
        f"{committee_rounds} rounds; gap {gap:.2f} points (target <= {TARGET_POINTS})",
        flush=True,
    )
    print(write("sim-scale-fashion_mnist-1000.json", out))


if __name__ == "__main__":
    main()

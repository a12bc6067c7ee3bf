"""Benchmark *example shape*: the example task's configuration, with a label-flipping attacker, over seeds.

examples/digits runs 4 participants (Dirichlet 1.0 over digits), 10 rounds, 2 proposers and 2 voters a
round, stake 20 and a reward of 1,080 tokens; here the fourth participant flips labels in every proposal.
Reports, pooled over the seeds, the share of its proposals rejected (target, issue 11: >= 95% over 10
seeds), the share of honest proposals rejected, and every participant's net (vested rewards - slashes).

    nice -n 10 .venv/bin/python bench/sim/example_shape.py [--seeds 0 1 ... 9] [--attack label_flip]
        [--validation judge_in_aggregate=true --out sim-example-shape-label_flip-trial.json]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, write
from emulator import federation, run
from grid import validation_overrides

from flalliance.fl.attacks import ATTACKS
from flalliance.sim.config import SimConfig, build_spec


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--attack", default="label_flip", choices=ATTACKS)
    parser.add_argument(
        "--validation", nargs="*", default=[], metavar="FIELD=JSON", help="a trial of other limits (grid.py)"
    )
    parser.add_argument("--out", default=None, help="default: sim-example-shape-<attack>.json")
    args = parser.parse_args()
    validation = validation_overrides(args.validation)
    runs: list[dict[str, Any]] = []
    for seed in args.seeds:
        cfg = SimConfig(
            preset="digits-mlp",
            participants=4,
            rounds=10,
            alpha=1.0,
            proposer_fraction_bps=5_000,
            stake_tokens=20,
            reward_tokens=1_080,
            partition_seed=seed,
            init_seed=seed,
            train_seed=seed,
            behaviours={3: args.attack},
        )
        spec = build_spec(cfg)
        spec = spec.model_copy(update={"validation": spec.validation.model_copy(update=validation)})
        res = run(cfg, federation(cfg), "protocol", spec=spec)
        s = res.summary({3})
        runs.append(
            {
                "seed": seed,
                "final_accuracy": s["final_accuracy"],
                "malicious_proposals": s["malicious_proposals"],
                "malicious_rejected": s["malicious_rejected"],
                "honest_proposals": s["honest_proposals"],
                "honest_rejected": s["honest_rejected"],
                "net_tokens": {str(i): round(v, 4) for i, v in res.net_tokens.items()},
            }
        )
        print(runs[-1], flush=True)
    bad = sum(r["malicious_proposals"] for r in runs)
    bad_rej = sum(round((r["malicious_rejected"] or 0) * r["malicious_proposals"]) for r in runs)
    hon = sum(r["honest_proposals"] for r in runs)
    hon_rej = sum(round((r["honest_rejected"] or 0) * r["honest_proposals"]) for r in runs)
    summary = {
        "attack": args.attack,
        "malicious_rejected": bad_rej / bad if bad else None,
        "malicious_proposals": bad,
        "honest_rejected": hon_rej / hon if hon else None,
        "honest_proposals": hon,
        "attacker_net_negative_runs": sum(r["net_tokens"]["3"] < 0 for r in runs),
        "honest_all_positive_runs": sum(all(r["net_tokens"][str(i)] > 0 for i in range(3)) for r in runs),
        "runs": len(runs),
        "target_malicious_rejected": 0.95,
    }
    print(summary, flush=True)
    out = {"machine": machine(), "validation_overrides": validation, "summary": summary, "runs": runs}
    write(args.out or f"sim-example-shape-{args.attack}.json", out)


if __name__ == "__main__":
    main()

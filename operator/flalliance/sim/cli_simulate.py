"""`flalliance simulate`: a whole task on this machine (anvil, contracts, N participant processes).

Registered by flalliance/cli.py; torch and web3 are imported only when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="run a whole FL Alliance task locally: anvil, the contracts, N participant processes",
        description="Deploys the contracts on a fresh anvil, creates a task, starts one `flalliance-worker "
        "participate` process per participant (roles from the chain), plays every round, and writes "
        "report.json, accuracy.png and payouts.png into --out.",
    )
    p.add_argument("--preset", choices=["digits-mlp", "fmnist-2nn"], default="digits-mlp")
    p.add_argument("--participants", type=int, default=10)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--alpha", type=float, default=0.5, help="Dirichlet label skew (default 0.5)")
    p.add_argument("--seed", type=int, default=0, help="partition seed (also names the accounts)")
    p.add_argument("--subsample", type=int, default=None, help="training samples used (stratified)")
    p.add_argument("--test-subsample", type=int, default=None, help="held-out samples evaluated")
    p.add_argument(
        "--malicious",
        nargs="*",
        default=[],
        metavar="SPEC",
        help="INDEX=BEHAVIOUR (e.g. 3=label_flip 7=absent) or BEHAVIOUR:COUNT (the last COUNT "
        "participants); behaviours: label_flip gaussian scaled sign_flip free_rider random absent",
    )
    p.add_argument("--policy", choices=["per_proposal", "collective"], default="per_proposal")
    p.add_argument("--proposer-fraction-bps", type=int, default=3_000)
    p.add_argument("--slash-bps", type=int, default=1_000)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--learning-rate", type=float, default=None)
    p.add_argument(
        "--aggregation", choices=["fedavg", "median", "trimmed_mean", "multi_krum"], default="fedavg"
    )
    p.add_argument("--include", choices=["screened", "accepted", "all"], default="accepted")
    p.add_argument(
        "--launch",
        choices=["fork", "exec"],
        default="fork",
        help="fork participants from this process (fast start) or exec a fresh worker each (default fork)",
    )
    p.add_argument("--out", type=Path, default=Path(".state/sim"), help="output directory")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from flalliance.sim.config import SimConfig, parse_behaviours

    try:
        cfg = SimConfig(
            preset=args.preset,
            participants=args.participants,
            rounds=args.rounds,
            alpha=args.alpha,
            partition_seed=args.seed,
            subsample=args.subsample,
            test_subsample=args.test_subsample,
            behaviours=parse_behaviours(args.malicious, args.participants),
            policy=args.policy,
            proposer_fraction_bps=args.proposer_fraction_bps,
            slash_bps=args.slash_bps,
            epochs=args.epochs,
            learning_rate=args.learning_rate,
            aggregation=args.aggregation,
            include=args.include,
            launch=args.launch,
        )
    except (ValidationError, ValueError) as exc:
        print(f"flalliance simulate: {exc}", file=sys.stderr)
        return 2
    from flalliance.sim.runner import Simulation

    sim = Simulation(cfg, args.out, progress=(lambda _: None) if args.quiet else None)
    report = sim.run()
    print(
        f"report: {args.out / 'report.json'}; plots: {args.out / 'accuracy.png'}, {args.out / 'payouts.png'}"
    )
    print(f"wall time {report.wall_seconds:.1f} s (setup {report.setup_seconds:.1f} s)")
    return 0

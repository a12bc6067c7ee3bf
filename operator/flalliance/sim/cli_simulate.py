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
    p.add_argument("--preset", choices=["digits-mlp", "fmnist-2nn", "llm-lora"], default="digits-mlp")
    p.add_argument(
        "--training-logic",
        type=Path,
        default=None,
        help="your own training-logic spec (JSON, or YAML as in an FLTask's trainingLogic.inline) instead "
        "of the preset's",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        action="append",
        default=[],
        dest="data_dirs",
        help="one participant's data directory (repeat once per participant; sets --participants)",
    )
    p.add_argument("--test-dir", type=Path, default=None, help="global held-out data for the figures")
    p.add_argument(
        "--dataset-file",
        type=Path,
        default=None,
        help="your own dataset file (.npz/.csv for the classifier, .jsonl for LoRA), split here",
    )
    p.add_argument(
        "--partition", choices=["iid", "dirichlet"], default="dirichlet", help="for --dataset-file"
    )
    p.add_argument("--lora-steps", type=int, default=20, help="llm-lora: optimizer steps per round")
    p.add_argument("--participants", type=int, default=None, help="default 10 (or one per --data-dir)")
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
    p.add_argument("--max-proposers", type=int, default=256, help="committee cap: proposers a round")
    p.add_argument("--max-voters", type=int, default=65_535, help="committee cap: voters a round")
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
    p.add_argument(
        "--chain",
        choices=["anvil", "geth"],
        default="anvil",
        help="anvil (instant blocks, clock moved on) or geth --dev (real block period, real-time deadlines)",
    )
    p.add_argument("--block-period", type=int, default=2, help="geth: seconds between blocks (default 2)")
    p.add_argument("--confirmations", type=int, default=0, help="blocks after a receipt before it counts")
    p.add_argument(
        "--phase-seconds", type=int, default=None, help="length of each phase (default 3600; 20 on geth)"
    )
    p.add_argument("--out", type=Path, default=Path(".state/sim"), help="output directory")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from flalliance.sim.config import MAX_SIMULATED_PARTICIPANTS, SimConfig, parse_behaviours

    try:
        participants = args.participants or (len(args.data_dirs) if args.data_dirs else 10)
        if participants > MAX_SIMULATED_PARTICIPANTS:
            raise SystemExit(
                f"--participants: at most {MAX_SIMULATED_PARTICIPANTS} (one process each), got "
                f"{participants}; bench/sim/scale.py emulates larger tasks in one process"
            )
        cfg = SimConfig(
            preset=args.preset,
            participants=participants,
            training_logic=args.training_logic,
            data_dirs=tuple(args.data_dirs),
            test_dir=args.test_dir,
            dataset_file=args.dataset_file,
            partition=args.partition,
            lora_steps=args.lora_steps,
            rounds=args.rounds,
            alpha=args.alpha,
            partition_seed=args.seed,
            subsample=args.subsample,
            test_subsample=args.test_subsample,
            behaviours=parse_behaviours(args.malicious, participants),
            policy=args.policy,
            proposer_fraction_bps=args.proposer_fraction_bps,
            max_proposers=args.max_proposers,
            max_voters=args.max_voters,
            slash_bps=args.slash_bps,
            epochs=args.epochs,
            learning_rate=args.learning_rate,
            aggregation=args.aggregation,
            include=args.include,
            launch=args.launch,
            chain=args.chain,
            block_period=args.block_period,
            confirmations=args.confirmations,
            phase_seconds=args.phase_seconds or (20 if args.chain == "geth" else 3_600),
        )
    except (ValidationError, ValueError) as exc:
        print(f"flalliance simulate: {exc}", file=sys.stderr)
        return 2
    from flalliance.fl.dataset import DataError
    from flalliance.fl.plugin import PluginError
    from flalliance.fl.spec import SpecError
    from flalliance.sim.runner import Simulation

    sim = Simulation(cfg, args.out, progress=(lambda _: None) if args.quiet else None)
    try:
        report = sim.run()
    except (SpecError, DataError, PluginError) as exc:  # the user's file or field, named; nothing started
        print(f"flalliance simulate: {exc}", file=sys.stderr)
        return 2
    print(
        f"report: {args.out / 'report.json'}; plots: {args.out / 'accuracy.png'}, {args.out / 'payouts.png'}"
    )
    print(f"wall time {report.wall_seconds:.1f} s (setup {report.setup_seconds:.1f} s)")
    return 0

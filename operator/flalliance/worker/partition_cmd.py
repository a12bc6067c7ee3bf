"""`flalliance-worker partition`: split a packaged dataset into one private directory per participant.

For demos, benchmarks and the example's data-writer Job: IID, Dirichlet(alpha) label skew or McMahan
shards, plus a stratified held-out global test set; the seed and sizes are recorded in partition.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from flalliance.fl.spec import BuiltinDataset


def register(sub: Any) -> None:
    p = sub.add_parser("partition", help="write per-participant dataset directories from a packaged dataset")
    p.add_argument(
        "--dataset", required=True, choices=["digits", "breast_cancer", "wine", "fashion_mnist", "mnist_5k"]
    )
    p.add_argument("--participants", type=int, required=True)
    p.add_argument("--scheme", choices=["iid", "dirichlet", "shards"], default="dirichlet")
    p.add_argument("--alpha", type=float, default=0.5)
    p.add_argument("--shards-per-client", type=int, default=2)
    p.add_argument("--holdout", type=float, default=0.2, help="fraction held out as the global test set")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from flalliance.fl.datasets import load_builtin
    from flalliance.fl.partition import PartitionRecord, dirichlet, holdout, iid, shards, write_partitions

    name: BuiltinDataset = args.dataset
    data = load_builtin(name).train
    rest, held = holdout(data.y, args.holdout, args.seed)
    pool = data.subset(rest)
    attempts = 1
    params: dict[str, float | int] = {"holdout": args.holdout}
    if args.scheme == "iid":
        parts = iid(pool.y, args.participants, args.seed)
    elif args.scheme == "dirichlet":
        parts, attempts = dirichlet(pool.y, args.participants, args.alpha, args.seed)
        params["alpha"] = args.alpha
    else:
        parts = shards(pool.y, args.participants, args.shards_per_client, args.seed)
        params["shards_per_client"] = args.shards_per_client
    record = PartitionRecord(args.scheme, args.participants, args.seed, params, attempts=attempts)
    dirs = write_partitions(pool, parts, args.out, record, global_test=data.subset(held))
    return {
        "command": "partition",
        "status": "done",
        "dataset": name,
        "scheme": args.scheme,
        "seed": args.seed,
        "directories": [str(d) for d in dirs],
        "sizes": [len(p) for p in parts],
    }

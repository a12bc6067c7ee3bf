"""`flalliance-worker base-model` and `flalliance-worker text-data`: the LoRA task's inputs, offline.

``base-model`` writes a small Llama-style causal LM (from a config, fixed seed) and its tokenizer (trained
on the project's generated text) as a base-model directory, prints its manifest hash (the training logic's
``config.base_model.sha256``) and, with ``--store-url``, puts it into the artifact store for workers that
have no copy on a volume. ``text-data`` writes per-participant JSONL files (Dirichlet skill mixes) and a
global test file. The example's data Job runs both; nothing is downloaded.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("base-model", help="write the LoRA task's small base model (offline, seeded)")
    p.add_argument("--out", type=Path, required=True, help="directory to write (created)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vocab-size", type=int, default=1024)
    p.add_argument("--hidden-size", type=int, default=192)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--intermediate-size", type=int, default=512)
    p.add_argument("--store-url", default=None, help="also put the directory into this artifact store")
    p.set_defaults(run=_base_model)
    t = sub.add_parser("text-data", help="write per-participant JSONL text data for the LoRA task")
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--participants", type=int, required=True)
    t.add_argument("--per-participant", type=int, default=400)
    t.add_argument("--test", type=int, default=400, help="examples in global-test/")
    t.add_argument("--alpha", type=float, default=0.5, help="Dirichlet concentration of the skill mix")
    t.add_argument("--seed", type=int, default=0)
    t.set_defaults(run=_text_data)


def _base_model(args: argparse.Namespace) -> dict[str, Any]:
    from flalliance.fl.plugins.lora_base import put_directory, write_base_model
    from flalliance.fl.plugins.lora_text import corpus

    digest = write_base_model(
        args.out,
        corpus(),
        seed=args.seed,
        vocab_size=args.vocab_size,
        hidden_size=args.hidden_size,
        layers=args.layers,
        heads=args.heads,
        intermediate_size=args.intermediate_size,
    )
    out: dict[str, Any] = {"command": "base-model", "status": "done", "sha256": digest, "path": str(args.out)}
    out["bytes"] = sum(p.stat().st_size for p in args.out.iterdir())
    if args.store_url:
        from flalliance.store import RetryingStore, open_store

        store = RetryingStore(open_store(args.store_url), budget=180.0)
        put_directory(args.out, store.put)
        out["store"] = store.describe()
    return out


def _text_data(args: argparse.Namespace) -> dict[str, Any]:
    from flalliance.fl.plugins.lora_text import write_partitions

    mixes = write_partitions(
        args.out, args.participants, args.per_participant, alpha=args.alpha, seed=args.seed, test=args.test
    )
    return {"command": "text-data", "status": "done", "out": str(args.out), "skill_mix": mixes}

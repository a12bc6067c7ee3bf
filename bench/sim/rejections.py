"""Every voter's verdict on the proposals a majority rejected: why an honest proposal loses its vote.

Plays one grid cell in the emulator (the real ``validate_round`` per voter) and, for each proposal that more
than half of its voters rejected, prints every voter's reason and figures: the loss change over the global
model on the voter's data (dL), the cosine and offset balance against the voter's own update, the norm
ratio, the mirror gap and the accuracy change. docs/results.md reads the Fashion-MNIST clean run this way.

    .venv/bin/python bench/sim/rejections.py --dataset fashion_mnist [--attack sign_flip] [--seed 0]
        [--set epochs=1 --set learning_rate=0.02]   # SimConfig fields, values as JSON
        [--validation judge_in_aggregate=true]      # a trial of other limits (grid.py)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import emulator
from common import SETUPS, malicious
from grid import ROUNDS, trial_spec, validation_overrides

from flalliance.fl.validation import plugin_for


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", choices=list(SETUPS), default="fashion_mnist")
    parser.add_argument("--attack", default=None, help="an attack at --share; default the clean run")
    parser.add_argument("--share", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=JSON", help="a SimConfig field")
    parser.add_argument(
        "--validation", nargs="*", default=[], metavar="FIELD=JSON", help="a trial of other limits (grid.py)"
    )
    args = parser.parse_args()
    validation = validation_overrides(args.validation)

    rows: list[tuple[float, list[Any]]] = []  # (the global model's loss on the voter's data, verdicts)
    real_validate = emulator.validate_round

    def recording(spec: Any, g: Any, files: Any, test: Any, **kw: Any) -> Any:
        rv = real_validate(spec, g, files, test, **kw)
        plugin = plugin_for(spec)
        rows.append((plugin.loss(spec, g, plugin.join([test, kw["train"]])), rv.verdicts))
        return rv

    bad: set[str] = set()
    real_malicious = emulator.malicious_proposal

    def marking(*a: Any, **kw: Any) -> Any:
        t = real_malicious(*a, **kw)
        bad.add(emulator.content_hash(emulator.encode(t)).hex())
        return t

    emulator.validate_round = recording  # type: ignore[assignment]
    emulator.malicious_proposal = marking  # type: ignore[assignment]
    seed = args.seed
    update: dict[str, Any] = {"partition_seed": seed, "init_seed": seed, "train_seed": seed}
    update["rounds"] = ROUNDS[args.dataset]
    for item in args.set:
        name, _, value = item.partition("=")
        update[name] = json.loads(value)
    base = type(SETUPS[args.dataset]).model_validate({**SETUPS[args.dataset].model_dump(), **update})
    cfg = malicious(base, args.attack, args.share) if args.attack else base
    res = emulator.run(cfg, emulator.federation(base), "protocol", spec=trial_spec(cfg, validation))
    print({k: v for k, v in res.summary(set(cfg.malicious)).items() if k != "reasons"})

    by_hash: dict[str, list[tuple[float, Any]]] = defaultdict(list)
    for baseline_loss, verdicts in rows:
        for v in verdicts:
            by_hash[v.hash.hex()].append((baseline_loss, v))
    for h, seen in by_hash.items():
        rejected = sum(not v.accepted for _, v in seen)
        if 2 * rejected <= len(seen):
            continue
        print(f"{'malicious' if h in bad else 'honest'} {h[:12]}: rejected by {rejected} of {len(seen)}")
        for bl, v in seen:
            figures = (
                f"dL={v.loss - bl:+.3f} cos={v.own_cosine:.2f} balance={v.offset_balance:+.2f} "
                f"z={v.offset_z:+.1f} ratio={v.own_norm_ratio:.2f} "
                f"gap={v.mirror_gap:+.3f} dacc={v.delta:+.3f}"
                if v.own_cosine is not None
                else ""
            )
            print(f"    {'accept' if v.accepted else v.reason:>16} {figures} probation={v.probation}")


if __name__ == "__main__":
    main()

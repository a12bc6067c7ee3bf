"""Add Flower's cells from an earlier grid run to a protocol-only run of the same seeds.

Flower's strategies (FedMedian, FedTrimmedAvg, Krum, MultiKrum, Bulyan) aggregate the same clients' updates
with no ledger, so a change to the protocol's rules (payouts, vote weights) leaves their cells as they were.
Rerunning them costs most of the grid's time (and the bench venv), so after such a change the protocol
rows are rerun alone (``grid.py --no-flower``) and Flower's rows carried over, the JSON saying from which
file and commit.

    git show <commit>:bench/results/sim-grid-digits.json > /tmp/earlier-digits.json
    .venv/bin/python bench/sim/merge_flower.py NEW.json /tmp/earlier-digits.json --out sim-grid-digits.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, write


def merge(new: dict[str, Any], earlier: dict[str, Any], earlier_name: str) -> dict[str, Any]:
    """``new`` with ``earlier``'s Flower cells; refuses runs of other seeds, attacks or shares."""
    for field in ("seeds", "shares", "attacks"):
        if new[field] != earlier[field]:
            raise SystemExit(f"{field}: {new[field]} here, {earlier[field]} in {earlier_name}")
    flower = [s for s in earlier["systems"] if s.startswith("flower-")]
    seconds = 0.0
    for name, table in new["datasets"].items():
        old = earlier["datasets"].get(name)
        if old is None:
            raise SystemExit(f"datasets: {name} is not in {earlier_name}")
        if old["config"] != table["config"]:
            raise SystemExit(f"datasets.{name}.config differs from {earlier_name}'s")
        for system in flower:
            table["clean"][system] = old["clean"][system]
            for key, row in table["cells"].items():
                row[system] = old["cells"][key][system]
                seconds += sum(run.get("seconds", 0.0) for run in row[system]["runs"])
    out = dict(new)
    out["systems"] = [*new["systems"], *flower]
    out["flwr"] = earlier["flwr"]
    out["flower_cells_from"] = {"file": earlier_name, "commit": earlier["machine"]["commit"]}
    out["seconds"] = round(new["seconds"] + seconds, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("new", help="protocol-only run (bench/results/ name or path)")
    parser.add_argument("earlier", help="a run of the same seeds with Flower's cells")
    parser.add_argument("--out", required=True, help="file name under bench/results/")
    args = parser.parse_args()

    def load(name: str) -> dict[str, Any]:
        path = Path(name) if Path(name).exists() else RESULTS / name
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    merged = merge(load(args.new), load(args.earlier), Path(args.earlier).name)
    print(f"wrote {write(args.out, merged)}")


if __name__ == "__main__":
    main()

"""Write the ridge example's data: scikit-learn's diabetes regression set (442 patients, 10 features,
bundled in the wheel), standardised, split IID into one CSV directory per participant plus a global test
directory.   python -m flalliance_ridge.data --out DIR --participants 3 [--seed 0]"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from sklearn.datasets import load_diabetes


def write(out: Path, participants: int, seed: int = 0, test_fraction: float = 0.2) -> list[int]:
    data = load_diabetes()
    x = (data.data - data.data.mean(axis=0)) / data.data.std(axis=0)
    y = (data.target - data.target.mean()) / data.target.std()
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = round(test_fraction * len(y))
    parts = {"global-test": order[:n_test]}
    for i, idx in enumerate(np.array_split(order[n_test:], participants)):
        parts[f"client-{i}"] = idx
    for name, idx in parts.items():
        (out / name).mkdir(parents=True, exist_ok=True)
        with (out / name / "data.csv").open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow([*(f"x{j}" for j in range(x.shape[1])), "target"])
            for i in sorted(idx):
                w.writerow([*(f"{v:.6f}" for v in x[i]), f"{y[i]:.6f}"])
    return [len(parts[f"client-{i}"]) for i in range(participants)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--participants", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    print({"sizes": write(args.out, args.participants, args.seed)})


if __name__ == "__main__":
    main()

# ruff: noqa: E501
"""Render the simulation benchmarks' JSON (bench/results/sim-*.json) as the tables of docs/results.md.

.venv/bin/python bench/sim/tables.py        # rewrites the block between the sim-tables markers
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pooling import pooled

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "results.md"
ATTACKS = ("label_flip", "gaussian", "scaled", "sign_flip", "free_rider", "random")


def _load(*names: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for name in names:
        path = RESULTS / name
        if path.exists():
            data = json.loads(path.read_text())
            merged.setdefault("datasets", {}).update(data.get("datasets", {}))
            merged.update({k: v for k, v in data.items() if k != "datasets"})
    return merged


def pct(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{100 * v:.{digits}f}%"


def met(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def quality() -> list[str]:
    q = _load("sim-quality-digits.json", "sim-quality-fashion_mnist.json")
    longer = _load("sim-quality-fashion_mnist-150rounds.json").get("datasets", {})
    for name, d in longer.items():
        q["datasets"][f"{name} "] = d  # a second row for the longer run
    lines = [
        "| dataset | seeds | centralized (same code) | protocol, final round | protocol, last-10 mean | plain FedAvg, same clients | gap (final) | target | honest proposals rejected (no attackers) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, d in q.get("datasets", {}).items():
        seeds = ", ".join(str(r["seed"]) for r in d["runs"])
        last10 = sum(r["protocol_last10_mean"] for r in d["runs"]) / len(d["runs"])
        honest = sum(r["protocol_honest_rejected"] for r in d["runs"]) / len(d["runs"])
        lines.append(
            f"| {name.strip()} ({d['config']['rounds']} rounds) | {seeds} | {pct(d['centralized_mean'])} | "
            f"{pct(d['protocol_final_mean'])} | {pct(last10)} | {pct(d['fedavg_final_mean'])} | "
            f"{d['gap_points']:.2f} pts | <= {d['target_gap_points']:.0f} pts: {met(d['target_met'])} | "
            f"{pct(honest)} |"
        )
    return lines


def peer() -> list[str]:
    p = _load("sim-peer.json", "sim-peer-digits.json", "sim-peer-fashion_mnist.json")
    lines = [
        "| dataset | protocol | Flower FedAvg | Flower FedMedian | Flower Krum | protocol - Flower FedAvg | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, d in p.get("datasets", {}).items():
        c = d["clean"]
        lines.append(
            f"| {name} ({d['config']['rounds']} rounds) | {pct(c['protocol'])} | {pct(c['flower_fedavg'])} | "
            f"{pct(c['flower_fedmedian'])} | {pct(c['flower_krum'])} | "
            f"{-d['clean_gap_to_flower_fedavg_points']:+.2f} pts | >= -1 pt: {met(d['target_met'])} |"
        )
    return lines


def robustness() -> list[str]:
    r = _load("sim-robustness.json", "sim-robustness-digits.json", "sim-robustness-fashion_mnist.json")
    p = _load("sim-peer.json", "sim-peer-digits.json", "sim-peer-fashion_mnist.json").get("datasets", {})
    out: list[str] = []
    for name, d in r.get("datasets", {}).items():
        clean = d["clean"]
        out += [
            "",
            f"**{name}** ({d['config']['rounds']} rounds, seed {d['config']['partition_seed']}; clean final "
            f"accuracy: protocol {pct(clean['protocol']['final_accuracy'])}, first-built rule "
            f"{pct(clean['protocol_first_built']['final_accuracy'])}, FLock collective "
            f"{pct(clean['collective']['final_accuracy'])}, FedAvg {pct(clean['fedavg']['final_accuracy'])}; "
            f"honest proposals rejected when nobody attacks: {pct(clean['protocol']['honest_rejected'])})",
            "",
            "| attack @ malicious share | protocol: acc (change vs clean, pts) | malicious rejected | honest rejected | "
            "honest all gain | first-built rule: acc / malicious rej. / honest rej. | FLock collective: acc / "
            "honest all gain | FedAvg | Flower FedMedian / Krum |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for key, row in d["attacks"].items():
            ours, old, flock, avg = (
                row["protocol"],
                row["protocol_first_built"],
                row["collective"],
                row["fedavg"],
            )
            fl = p.get(name, {}).get("attacks", {}).get(key)
            flower = f"{pct(fl['flower_fedmedian'])} / {pct(fl['flower_krum'])}" if fl else "-"
            out.append(
                f"| {key.replace('@', ' @ ')}% | {pct(ours['final_accuracy'])} ({-ours['drop_points']:+.1f}) | "
                f"{pct(ours['malicious_rejected'])} | {pct(ours['honest_rejected'])} | "
                f"{'yes' if ours['honest_all_net_gain'] else 'NO'} | {pct(old['final_accuracy'])} / "
                f"{pct(old['malicious_rejected'])} / {pct(old['honest_rejected'])} | "
                f"{pct(flock['final_accuracy'])} / {'yes' if flock['honest_all_net_gain'] else 'NO'} | "
                f"{pct(avg['final_accuracy'])} | {flower} |"
            )
        at30 = {k: v["protocol"] for k, v in d["attacks"].items() if k.endswith("@30")}
        if at30:
            acc_ok = all(v["drop_points"] <= 2.0 for v in at30.values())
            mal = [v["malicious_rejected"] for v in at30.values() if v["malicious_rejected"] is not None]
            hon = [v["honest_rejected"] for v in at30.values() if v["honest_rejected"] is not None]
            gain = all(v["honest_all_net_gain"] for v in at30.values())
            worst_drop = max(at30.items(), key=lambda kv: kv[1]["drop_points"])
            worst_mal = min(at30.items(), key=lambda kv: kv[1]["malicious_rejected"] or 0)
            worst_hon = max(at30.items(), key=lambda kv: kv[1]["honest_rejected"] or 0)
            out += [
                "",
                f"Targets at 30% ({name}): accuracy >= clean - 2 points for every attack: {met(acc_ok)} (worst: "
                f"{worst_drop[0]}, {-worst_drop[1]['drop_points']:+.1f} points); >= 95% of malicious proposals "
                f"rejected: {met(min(mal) >= 0.95)} (worst: {worst_mal[0]}, "
                f"{pct(worst_mal[1]['malicious_rejected'])}); <= 3% of honest proposals rejected: "
                f"{met(max(hon) <= 0.03)} (worst: {worst_hon[0]}, {pct(worst_hon[1]['honest_rejected'])}); every "
                f"honest participant ends with a net gain: {met(gain)}.",
            ]
    return out


def _net(v: float | None) -> str:
    return "-" if v is None else f"{v:+.1f}"


def grid() -> list[str]:
    """bench/results/sim-grid.json or sim-grid-<dataset>.json (make bench-sim-grid): per dataset, one row
    per attack @ share, pooled over the seeds. Other sim-grid-*.json files (other seeds, trials of other
    limits) are described in docs/results.md's text, not merged here."""
    parts = []
    for path in sorted(RESULTS.glob("sim-grid*.json")):
        part = json.loads(path.read_text())
        stems = {"sim-grid"} | {f"sim-grid-{name}" for name in part["datasets"]}
        if path.stem in stems and not part.get("validation_overrides") and not part.get("colluding_voters"):
            parts.append(part)
    if not parts:
        return ["(not measured yet: make bench-sim-grid)"]
    g = dict(parts[0])
    g["datasets"] = {k: v for part in parts for k, v in part["datasets"].items()}
    g["seconds"] = sum(part.get("seconds", 0) for part in parts)
    names = sorted(
        {s.removeprefix("flower-") for part in parts for s in part["systems"] if s.startswith("flower-")}
    )
    out = [
        "Seeds: "
        + "; ".join(
            f"{part['attacks'] and ', '.join(part['datasets'])} {', '.join(map(str, part['seeds']))}"
            for part in parts
        )
        + "; systems: this protocol"
        + (f" and Flower {g['flwr']}'s " + ", ".join(names) + " where run" if names else "")
        + f"; {g.get('seconds', 0) / 60:.0f} min on {g['machine']['cpus']} cores. Per cell, pooled over the seeds:"
        " rejection rates over all proposals, the mean accuracy change from each seed's clean run, the lowest"
        " net of any honest participant and the highest net of any attacker (tokens; stake 100, reward 1,000).",
    ]
    for name, d in g["datasets"].items():
        flower = [s for s in next(iter(d["cells"].values())) if s.startswith("flower-")]
        clean = d["clean"]["protocol"]["pooled"]
        out += [
            "",
            f"**{name}** ({d['rounds']} rounds; clean: protocol {pct(clean['final_accuracy_mean'])}, honest "
            f"proposals rejected {pct(clean['honest_rejected'])}, lowest honest net {_net(clean['honest_min_net_tokens'])})",
            "",
            "| attack @ share | protocol acc (pts vs clean) | malicious rejected | honest rejected | honest min net | attacker max net | targets met |"
            + "".join(f" {s.removeprefix('flower-')} acc (pts) |" for s in flower),
            "|---|---|---|---|---|---|---|" + "---|" * len(flower),
        ]
        for key, row in d["cells"].items():
            c = row["protocol"]["pooled"]
            t = c.get("targets", {})
            missed = [k for k, ok in t.items() if not ok]
            cells = "".join(
                f" {pct(row[s]['pooled']['final_accuracy_mean'])} ({-row[s]['pooled']['drop_points_mean']:+.1f}) |"
                for s in flower
            )
            out.append(
                f"| {key.replace('@', ' @ ')}% | {pct(c['final_accuracy_mean'])} ({-c['drop_points_mean']:+.1f}) | "
                f"{pct(c['malicious_rejected'])} | {pct(c['honest_rejected'])} | {_net(c['honest_min_net_tokens'])} | "
                f"{_net(c['malicious_max_net_tokens'])} | {'all' if not missed else 'missed: ' + ', '.join(missed)} |"
                + cells
            )
    return out


def colluding() -> list[str]:
    """bench/results/sim-grid-colluding-voters*.json (grid.py --colluding-voters): the attackers vote as a
    bloc too. Per cell, pooled over the seeds those runs cover: the bloc against the protocol as built, in
    square brackets the bloc against the good-standing trial (sim-trial-good-standing-colluding-*.json,
    commit 96bb5ee, reverted), and in round brackets the same seeds with the attackers voting honestly (any
    sim-grid*.json without trial overrides)."""
    runs: dict[str, dict[tuple[str, str], dict[int, dict[str, Any]]]] = {
        "trial": {},
        "bloc": {},
        "honest": {},
    }
    for path in sorted(RESULTS.glob("sim-*.json")):
        if path.stem.startswith("sim-trial-good-standing-colluding-"):
            side = "trial"
        elif path.stem.startswith("sim-grid"):
            side = "bloc" if "colluding-voters" in path.stem else "honest"
        else:
            continue
        part = json.loads(path.read_text())
        if part.get("validation_overrides") or bool(part.get("colluding_voters")) != (side != "honest"):
            continue
        for name, d in part["datasets"].items():
            for key, row in d["cells"].items():
                for seed, cell in zip(part["seeds"], row["protocol"]["runs"], strict=True):
                    runs[side].setdefault((name, key), {})[seed] = cell
    if not runs["bloc"]:
        return ["(not measured yet: bench/sim/grid.py --colluding-voters)"]
    out = [
        "| dataset | attack @ share | seeds | malicious rejected | honest rejected | accuracy (pts vs clean) | "
        "honest min net | attacker max net | targets met (bloc) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (name, key), by_seed in sorted(
        runs["bloc"].items(), key=lambda kv: (kv[0][0], kv[0][1].split("@")[1], kv[0][1])
    ):
        seeds = sorted(by_seed)

        def pool(
            side: str, seeds: list[int] = seeds, cell: tuple[str, str] = (name, key)
        ) -> dict[str, Any] | None:
            have = runs[side].get(cell, {})
            return pooled([have[s] for s in seeds]) if all(s in have for s in seeds) else None

        trial, now, honest = pool("trial"), pool("bloc"), pool("honest")
        assert now is not None
        missed = [k for k, ok in now.get("targets", {}).items() if not ok]

        def fig(field: str, fmt: Any, trial: Any = trial, now: Any = now, honest: Any = honest) -> str:
            text = f"**{fmt(now[field])}** [{fmt(trial[field]) if trial else '-'}]"
            return text + (f" ({fmt(honest[field])})" if honest else "")

        out.append(
            f"| {name} | {key.replace('@', ' @ ')}% | {', '.join(map(str, seeds))} | "
            f"{fig('malicious_rejected', pct)} | {fig('honest_rejected', pct)} | "
            f"{fig('drop_points_mean', lambda v: f'{-v:+.1f}')} | {fig('honest_min_net_tokens', _net)} | "
            f"{fig('malicious_max_net_tokens', _net)} | {'all' if not missed else 'missed: ' + ', '.join(missed)} |"
        )
    return out


def cost() -> list[str]:
    path = RESULTS / "sim-cost.json"
    if not path.exists():
        return ["(not measured yet)"]
    c = json.loads(path.read_text())
    s = c["summary"]
    rows = [
        "| figure | value |",
        "|---|---|",
        f"| wall time, whole simulation (anvil, deploy, data, 10 processes, 10 rounds, claims) | "
        f"{c['wall_seconds']:.1f} s (target <= 60 s: {met(c['target_met'])}) |",
        f"| of which set-up until all 10 joined (data, deploy, participants forked with torch loaded) | "
        f"{c['setup_seconds']:.1f} s |",
        f"| per round (median) | {sorted(c['round_seconds'])[len(c['round_seconds']) // 2]:.2f} s |",
        f"| model file (safetensors) | {c['model_bytes']:,} bytes |",
        f"| model bytes moved per round (uploads + downloads) | {c['bytes_per_round']:,.0f} bytes |",
        f"| final accuracy after 10 rounds | {pct(s['final_accuracy'])} |",
        f"| load average when it started (2 cores, shared) | {c['machine']['load_average_at_start']:.1f} |",
    ]
    exec_path = RESULTS / "sim-cost-exec.json"
    if exec_path.exists():
        e = json.loads(exec_path.read_text())
        rows += [
            f"| same with `--launch exec` (10 fresh `flalliance-worker participate` processes) | "
            f"{e['wall_seconds']:.1f} s, of which set-up {e['setup_seconds']:.1f} s (ten torch imports on two "
            f"cores) |",
        ]
    return rows


def main() -> None:
    blocks = {
        "quality": quality(),
        "peer": peer(),
        "robustness": robustness(),
        "grid": grid(),
        "colluding": colluding(),
        "cost": cost(),
    }
    text = DOC.read_text()
    for name, lines in blocks.items():
        pattern = re.compile(rf"(<!-- sim-{name}:begin -->\n).*?(<!-- sim-{name}:end -->)", re.S)
        body = "\n".join(lines)
        text = pattern.sub(lambda m, body=body: m.group(1) + body + "\n" + m.group(2), text)
    DOC.write_text(text)
    print(f"updated {DOC}")


if __name__ == "__main__":
    main()

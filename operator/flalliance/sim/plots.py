"""PNG plots of a simulation report (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flalliance.fl.spec import ACCURACY_METRICS
from flalliance.sim.report import SimReport, cumulative_net


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def accuracy_plot(report: SimReport, path: Path) -> Path:
    """Global-model accuracy on the held-out set per round (rejected rounds marked)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    percent = report.metric in ACCURACY_METRICS
    scale = 100.0 if percent else 1.0  # an accuracy in percent, a loss or a plugin's metric as it is
    xs = [r.round for r in report.rounds if r.global_accuracy is not None]
    ys = [scale * (r.global_accuracy or 0.0) for r in report.rounds if r.global_accuracy is not None]
    if report.initial_accuracy is not None:
        xs, ys = [-1, *xs], [scale * report.initial_accuracy, *ys]
    ax.plot(xs, ys, marker="o", label="global model")
    rejected = [(r.round, scale * (r.global_accuracy or 0.0)) for r in report.rounds if not r.accepted]
    if rejected:
        ax.scatter(*zip(*rejected, strict=True), color="red", zorder=3, label="round rejected")
    if report.centralized_accuracy is not None:
        ax.axhline(scale * report.centralized_accuracy, color="grey", ls="--", label="centralized")
    ax.set_xlabel("round (-1 = pioneer model)")
    ax.set_ylabel(f"held-out {report.metric}" + (" (%)" if percent else ""))
    cfg = report.config
    logic = Path(cfg["training_logic"]).name if cfg.get("training_logic") else cfg.get("preset")
    ax.set_title(f"{logic}: {len(report.participants)} participants, policy {cfg.get('policy')}")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right" if report.minimize else "lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def payout_plot(report: SimReport, path: Path) -> Path:
    """Cumulative net payout (rewards - slashes, tokens) per participant; malicious ones dashed, in red."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    series = cumulative_net(report)
    rounds = [r.round for r in report.rounds]
    for p in report.participants:
        ys = series[p.label]
        if p.malicious:
            ax.plot(rounds, ys, color="red", ls="--", marker="x", label=f"{p.label} ({p.behaviour})")
        else:
            ax.plot(rounds, ys, color="tab:blue", alpha=0.6, label=p.label)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("round")
    ax.set_ylabel("cumulative net payout (tokens)")
    ax.set_title("rewards - slashes per participant (red dashed: malicious)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path

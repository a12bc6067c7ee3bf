"""The demo's PNG: accuracy per round (rejected rounds marked) and each participant's rewards and slashes."""

from __future__ import annotations

from pathlib import Path

from flalliance.demo.outcome import WEI, TaskOutcome


def outcome_plot(outcome: TaskOutcome, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    rounds = [r for r in outcome.rounds if r.accuracy is not None]
    ax1.plot([r.round + 1 for r in rounds], [100 * (r.accuracy or 0) for r in rounds], marker="o")
    for r in outcome.rounds:
        if r.accepted is False:
            ax1.axvline(r.round + 1, color="tab:red", alpha=0.3)
    ax1.set_xlabel("round")
    ax1.set_ylabel("accuracy on the voters' private test sets (%)")
    ax1.set_title(f"{outcome.task}: {outcome.rounds_accepted}/{outcome.rounds_total} rounds accepted")
    ax1.grid(alpha=0.3)
    names = [f"{p.name}\n({p.behaviour})" for p in outcome.participants]
    xs = range(len(names))
    ax2.bar(
        [x - 0.2 for x in xs],
        [(p.kept_wei + p.fees_wei) / WEI for p in outcome.participants],
        0.4,
        label="rewards kept (vested) + fees",
        color="tab:green",
    )
    ax2.bar(
        [x + 0.2 for x in xs],
        [-p.slashed_wei / WEI for p in outcome.participants],
        0.4,
        label="slashes",
        color="tab:red",
    )
    ax2.axhline(0, color="black", linewidth=0.8)
    ax2.set_xticks(list(xs), names)
    ax2.set_ylabel("$FML (read from the chain)")
    ax2.set_title("payouts per participant")
    ax2.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

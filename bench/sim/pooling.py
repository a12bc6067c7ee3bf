"""The grid's per-cell pooling and targets, without torch: ``grid.py`` writes the pooled figures and
``tables.py`` pools runs from several result files (the colluding-voter runs beside their baseline)."""

from __future__ import annotations

from typing import Any

TARGETS = {"malicious_rejected_min": 0.95, "honest_rejected_max": 0.03, "drop_points_max": 2.0}


def pooled(cells: list[dict[str, Any]]) -> dict[str, Any]:
    """The seeds of one cell together: rejection rates over all proposals, the worst nets, the mean drop."""

    def rate(kind: str) -> float | None:
        total = sum(c[f"{kind}_proposals"] for c in cells)
        if not total:
            return None
        return sum((c[f"{kind}_rejected"] or 0) * c[f"{kind}_proposals"] for c in cells) / total

    honest_nets = [v for c in cells for i, v in c["net_tokens"].items() if int(i) not in c["malicious"]]
    bad_nets = [v for c in cells for i, v in c["net_tokens"].items() if int(i) in c["malicious"]]
    out: dict[str, Any] = {
        "seeds": len(cells),
        "final_accuracy_mean": sum(c["final_accuracy"] for c in cells) / len(cells),
        "drop_points_mean": sum(c["drop_points"] for c in cells) / len(cells),
        "drop_points_max": max(c["drop_points"] for c in cells),
        "malicious_rejected": rate("malicious"),
        "honest_rejected": rate("honest"),
        "honest_min_net_tokens": min(honest_nets) if honest_nets else None,
        "malicious_max_net_tokens": max(bad_nets) if bad_nets else None,
    }
    if honest_nets:
        mal = out["malicious_rejected"]
        out["targets"] = {
            "malicious_rejected": mal is None or mal >= TARGETS["malicious_rejected_min"],
            "honest_rejected": (out["honest_rejected"] or 0) <= TARGETS["honest_rejected_max"],
            "accuracy": out["drop_points_mean"] <= TARGETS["drop_points_max"],
            "honest_net_positive": min(honest_nets) > 0,
            "malicious_net_negative": not bad_nets or max(bad_nets) < 0,
        }
    return out

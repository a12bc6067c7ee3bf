"""Reveal a sealed vote: shared by `flalliance-worker reveal` and the operator (no torch here)."""

from __future__ import annotations

from typing import Any

from flalliance.chain.models import Action
from flalliance.chain.task import TaskClient
from flalliance.sealed_vote import unseal


def reveal_sealed(
    task: TaskClient, private_key: bytes, voter: str, round: int, sealed: str
) -> dict[str, Any]:
    opening = unseal(sealed, private_key, task=task.address, round=round, voter=voter)
    if task.participant(voter).action_in(round) in (Action.REVEALED_FOR, Action.REVEALED_AGAINST):
        return {"command": "reveal", "round": round, "status": "skipped", "reason": "already revealed"}
    receipt = task.reveal_vote(opening.aggregate_hash, opening.score, opening.verdicts, opening.salt)
    tx = receipt["transactionHash"]
    return {
        "command": "reveal",
        "round": round,
        "status": "done",
        "tx": tx.hex() if isinstance(tx, bytes | bytearray) else str(tx),
        "score": opening.score,
        "accuracy": opening.accuracy,
        "baseline": opening.baseline,
    }

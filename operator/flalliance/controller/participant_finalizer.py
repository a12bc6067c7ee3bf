"""The Participant finalizer: a Participant holding a stake is not removed until the stake is back.

Deleting a Participant mid-task used to strand its stake: nothing would ever withdraw it. Now the deletion
waits. The participant keeps its roles until the task ends (leaving early would only get it slashed for
missed phases), the FLTask's reconciler withdraws and claims for it after the end as for every local seat,
and then the finalizer lets the Participant go. While it waits, the `Released` condition says why.

`release_verdict` is the pure rule; `check_release` reads the FLTask, the wallet and the chain for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from pydantic import ValidationError

from flalliance.api.base import wei_to_fml
from flalliance.api.conditions import set_condition
from flalliance.api.fltask import FLTaskSpec
from flalliance.api.participant import ParticipantSpec, ParticipantStatus
from flalliance.chain.errors import ChainError
from flalliance.chain.models import ParticipantInfo, Status
from flalliance.chain.task import TaskClient
from flalliance.controller.kube import Kube, KubeProblem
from flalliance.controller.observe import shared_client

log = logging.getLogger(__name__)

ENDED = (Status.COMPLETED, Status.EXPIRED, Status.CANCELLED)


@dataclass(frozen=True)
class Verdict:
    release: bool
    reason: str
    message: str


def release_verdict(
    *,
    task_exists: bool,
    address: str | None,
    status: Status | None,
    seat: ParticipantInfo | None,
    rounds: str,
) -> Verdict:
    """May the Participant go now? `status`/`seat` are None when the chain could not be read."""
    if not task_exists:
        return Verdict(True, "TaskGone", "its FLTask no longer exists: nothing can settle through it")
    if address is None:
        return Verdict(True, "NeverJoined", "no wallet was ever read for it, so it never staked")
    if status is None:
        return Verdict(False, "ChainUnreadable", "cannot read its seat on the chain yet; retrying")
    if seat is None or not seat.joined:
        return Verdict(True, "NeverJoined", "it holds no seat in the task contract")
    if status not in ENDED:
        return Verdict(
            False,
            "WaitingForTaskEnd",
            f"its stake of {wei_to_fml(seat.stake)} $FML stays in the contract until the task ends "
            f"({rounds}); it keeps its roles until then, and the operator then withdraws and claims for it",
        )
    if not seat.withdrawn or seat.claimable > 0:
        return Verdict(False, "Settling", "the task has ended: its stake and rewards are being paid out")
    return Verdict(True, "Settled", "its stake was withdrawn and its rewards claimed")


def check_release(kube: Kube, namespace: str, body: dict[str, Any]) -> Verdict:
    """The verdict for a Participant being deleted; writes the `Released` condition when it must wait."""
    name = body["metadata"]["name"]
    try:
        pspec = ParticipantSpec.model_validate(body.get("spec") or {})
    except ValidationError:
        return Verdict(True, "InvalidSpec", "its spec never parsed, so it never staked")
    task_obj = kube.get_task(namespace, pspec.task_ref.name)
    verdict: Verdict
    if task_obj is None:
        verdict = release_verdict(task_exists=False, address=None, status=None, seat=None, rounds="")
    else:
        verdict = _with_chain(kube, namespace, pspec, task_obj)
    if not verdict.release:
        _write_condition(kube, namespace, name, body, verdict)
    elif verdict.reason == "TaskGone":
        kube.event(body, "Warning", "ReleasedWithoutSettling", f"{name}: {verdict.message}")
    return verdict


def _with_chain(kube: Kube, namespace: str, pspec: ParticipantSpec, task_obj: dict[str, Any]) -> Verdict:
    task_spec, task_status = task_obj.get("spec") or {}, task_obj.get("status") or {}
    address_of_task = task_spec.get("contractAddress") or task_status.get("contractAddress")
    rounds = f"round {task_status.get('round', 0)} of {task_spec.get('rounds', '?')}"
    try:
        key = kube.read_secret_key(namespace, pspec.wallet_secret, what="spec.walletSecret")
        address: str | None = Account.from_key(key).address
    except (KubeProblem, ValueError):
        address = None  # no readable wallet: the operator could never have staked for it
    if not address_of_task:
        return Verdict(True, "NeverJoined", "its task has no contract yet, so it never staked")
    if address is None:
        return release_verdict(task_exists=True, address=None, status=None, seat=None, rounds=rounds)
    try:
        spec = FLTaskSpec.model_validate(task_obj["spec"])
        reader = shared_client(spec.chain.rpc_url, spec.chain.chain_id, None)
        task = TaskClient(reader, address_of_task)
        state, seat = task.state(), task.participant(address)
    except (ChainError, ValidationError) as exc:
        log.warning("participant release: chain unreadable: %s", exc)
        return release_verdict(task_exists=True, address=address, status=None, seat=None, rounds=rounds)
    return release_verdict(task_exists=True, address=address, status=state.status, seat=seat, rounds=rounds)


def _write_condition(kube: Kube, namespace: str, name: str, body: dict[str, Any], verdict: Verdict) -> None:
    try:
        status = ParticipantStatus.model_validate(body.get("status") or {})
    except ValidationError:
        status = ParticipantStatus()
    conditions = set_condition(
        status.conditions,
        type="Released",
        status="False",
        reason=verdict.reason,
        message=f"deletion waits: {verdict.message}",
        observed_generation=int(body["metadata"].get("generation", 0)),
    )
    if conditions != status.conditions:
        kube.patch_status(namespace, "participants", name, {"conditions": [c.to_k8s() for c in conditions]})

"""What a finished task left on the chain: per-participant rewards (credited, forfeited at vesting), slashes
and token balances, the rounds, and an audit of the task contract's escrow (every token in or out
accounted for).

Read-only: a `ChainClient` without a key is enough. The custom resources give the names and the round
summaries (accuracy is what the voters reported); every amount comes from the chain itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from pydantic import BaseModel, ConfigDict

from flalliance.chain.client import ChainClient
from flalliance.chain.task import TaskClient
from flalliance.controller.labels import ANNOTATION_BEHAVIOUR

TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
WEI = 10**18


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ParticipantOutcome(_Model):
    name: str
    address: str
    behaviour: str
    stake_wei: int
    remaining_stake_wei: int
    rewarded_wei: int  # every reward settlement credited (PerProposal: vested or not)
    slashed_wei: int
    fees_wei: int
    claimable_wei: int
    withdrawn: bool
    balance_wei: int
    balance_change_wei: int | None  # against `baseline` when one was given
    unvested_wei: int = 0  # PerProposal: credited, vests after the end
    vested_wei: int = 0  # PerProposal, after vesting: rewarded x (accepted - rejected) / decided
    forfeited_wei: int = 0  # PerProposal, after vesting: returned to the pool
    accepted_proposals: int = 0
    rejected_proposals: int = 0

    @property
    def kept_wei(self) -> int:
        """Rewards that are the participant's: all settled ones (Collective) or the vested part."""
        return self.rewarded_wei - self.unvested_wei - self.forfeited_wei

    @property
    def net_wei(self) -> int:
        """Rewards kept + finalizer fees - slashes (rewards not vested yet count for nothing)."""
        return self.kept_wei + self.fees_wei - self.slashed_wei


class RoundOutcome(_Model):
    round: int
    accepted: bool | None
    accuracy: float | None
    accepted_proposals: int
    rejected_proposals: int


class EscrowAudit(_Model):
    """The task contract's token flows: what came in, what went out, what it holds and still owes."""

    received_wei: int
    paid_out_wei: int
    balance_wei: int
    owed_wei: int  # stakes not withdrawn + unclaimed and unvested rewards + the undistributed pool

    @property
    def balanced(self) -> bool:
        return self.received_wei - self.paid_out_wei == self.balance_wei

    @property
    def solvent(self) -> bool:
        return self.balance_wei >= self.owed_wei


class TaskOutcome(_Model):
    task: str
    phase: str
    contract: str
    chain_id: int
    rounds_total: int
    rounds_accepted: int
    final_accuracy: float | None
    rounds: list[RoundOutcome]
    participants: list[ParticipantOutcome]
    escrow: EscrowAudit
    total_supply_wei: int


def transfers(chain: ChainClient, token: str, from_block: int = 0) -> list[tuple[str, str, int]]:
    """Every Transfer of the token as (from, to, value)."""
    out: list[tuple[str, str, int]] = []
    for log in chain.get_logs(token, from_block, chain.block_number()):
        topics = log["topics"]
        if len(topics) != 3 or "0x" + bytes(topics[0]).hex() != TRANSFER_TOPIC:
            continue
        src = to_checksum_address(bytes(topics[1])[-20:])
        dst = to_checksum_address(bytes(topics[2])[-20:])
        out.append((src, dst, int.from_bytes(bytes(log["data"]), "big")))
    return out


def read_outcome(
    chain: ChainClient,
    task_obj: Mapping[str, Any],
    participant_objs: Sequence[Mapping[str, Any]],
    baseline: Mapping[str, int] | None = None,
) -> TaskOutcome:
    """The outcome of the FLTask `task_obj` (as read from the API server) and its Participants."""
    status = task_obj.get("status") or {}
    address = status.get("contractAddress")
    if not address:
        raise ValueError(f"FLTask {task_obj['metadata']['name']} has no contract address in its status")
    task = TaskClient(chain, address)
    token = task.token()
    state = task.state()
    parts = []
    for p in participant_objs:
        addr = (p.get("status") or {}).get("address")
        if not addr:
            continue
        info = task.participant(addr)
        balance = token.balance_of(addr)
        parts.append(
            ParticipantOutcome(
                name=p["metadata"]["name"],
                address=addr,
                behaviour=_behaviour(p),
                stake_wei=info.joined_stake,
                remaining_stake_wei=info.stake,
                rewarded_wei=info.rewarded_total,
                slashed_wei=info.slashed_total,
                fees_wei=info.fees_earned,
                claimable_wei=info.claimable,
                withdrawn=info.withdrawn,
                unvested_wei=info.unvested,
                vested_wei=info.vested,
                forfeited_wei=info.forfeited,
                accepted_proposals=info.accepted_proposals,
                rejected_proposals=info.rejected_proposals,
                balance_wei=balance,
                balance_change_wei=None
                if baseline is None or addr not in baseline
                else balance - baseline[addr],
            )
        )
    flows = transfers(chain, token.address)
    contract = to_checksum_address(address)
    received = sum(v for _, dst, v in flows if dst == contract)
    paid = sum(v for src, _, v in flows if src == contract)
    owed = state.pool + sum(
        (0 if p.withdrawn else p.remaining_stake_wei) + p.claimable_wei + p.unvested_wei for p in parts
    )
    rounds = [
        RoundOutcome(
            round=int(r["round"]),
            accepted=r.get("accepted"),
            accuracy=r.get("accuracy"),
            accepted_proposals=int(r.get("acceptedProposals", 0)),
            rejected_proposals=int(r.get("rejectedProposals", 0)),
        )
        for r in status.get("rounds") or []
    ]
    # The global model is the last accepted round's aggregate: a rejected round's figure is not its accuracy.
    accuracies = [r.accuracy for r in rounds if r.accuracy is not None and r.accepted]
    return TaskOutcome(
        task=task_obj["metadata"]["name"],
        phase=status.get("phase", "?"),
        contract=contract,
        chain_id=chain.chain_id,
        rounds_total=int((task_obj.get("spec") or {}).get("rounds", len(rounds))),
        rounds_accepted=sum(1 for r in rounds if r.accepted),
        final_accuracy=accuracies[-1] if accuracies else status.get("accuracy"),
        rounds=rounds,
        participants=parts,
        escrow=EscrowAudit(
            received_wei=received, paid_out_wei=paid, balance_wei=token.balance_of(contract), owed_wei=owed
        ),
        total_supply_wei=token.total_supply(),
    )


def fml(wei: int) -> str:
    return f"{wei / WEI:,.4f}"


def summary_text(outcome: TaskOutcome, elapsed_seconds: float | None = None) -> str:
    """The end-of-demo summary, read from the chain."""
    pct = "n/a" if outcome.final_accuracy is None else f"{outcome.final_accuracy:.1%}"
    lines = [
        f"== {outcome.task}: {outcome.phase} (contract {outcome.contract}, chain {outcome.chain_id}) ==",
        f"rounds accepted: {outcome.rounds_accepted}/{outcome.rounds_total}; final accuracy "
        f"(voters' private test sets): {pct}"
        + ("" if elapsed_seconds is None else f"; time to completion {elapsed_seconds:.0f} s"),
        "round  accepted  proposals ok/rejected  accuracy",
    ]
    for r in outcome.rounds:
        acc = "n/a" if r.accuracy is None else f"{r.accuracy:.1%}"
        lines.append(
            f"{r.round:>5}  {r.accepted!s:>8}  {r.accepted_proposals:>11}/{r.rejected_proposals:<9}  {acc:>8}"
        )
    lines.append(
        f"{'participant':<12} {'behaviour':<11} {'stake':>9} {'proposals ok/rejected':>21} {'rewards':>10} "
        f"{'forfeited':>10} {'slashes':>9} {'net FML':>9}"
    )
    for p in outcome.participants:
        proposals = f"{p.accepted_proposals}/{p.rejected_proposals}"
        lines.append(
            f"{p.name:<12} {p.behaviour:<11} {fml(p.stake_wei):>9} {proposals:>21} "
            f"{fml(p.rewarded_wei + p.fees_wei):>10} {fml(p.forfeited_wei):>10} {fml(p.slashed_wei):>9} "
            f"{fml(p.net_wei):>9}"
        )
    pending = [p for p in outcome.participants if p.unvested_wei]
    if pending:
        lines.append(
            "not vested yet (vests on the first withdraw, claim or settle after the end; not in net): "
            + ", ".join(f"{p.name} {fml(p.unvested_wei)}" for p in pending)
        )
    e = outcome.escrow
    lines.append(
        f"escrow: received {fml(e.received_wei)}, paid out {fml(e.paid_out_wei)}, "
        f"holds {fml(e.balance_wei)}, owes {fml(e.owed_wei)} -> "
        f"{'balanced' if e.balanced else 'UNBALANCED'}, {'solvent' if e.solvent else 'INSOLVENT'}"
    )
    return "\n".join(lines)


def _behaviour(participant: Mapping[str, Any]) -> str:
    """The attack a test-mode operator ran for this participant (its test annotation), else honest."""
    annotations = (participant.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(ANNOTATION_BEHAVIOUR, "honest"))

"""The worker's commands. Each reads the chain first, so running it twice never submits twice.

A command returns a JSON-able result (what it did, hashes, scores, transaction hashes); "skipped" results
say why nothing was done (phase over, already submitted, not this participant's role).
"""

from __future__ import annotations

import logging
from typing import Any

from flalliance.chain.commitment import verdict_bitmap, vote_commitment
from flalliance.chain.models import ZERO_HASH, Action, Phase, Role, hash_bytes
from flalliance.sealed_vote import VoteOpening, derive_salt, seal
from flalliance.worker.context import PermanentError, WorkerContext
from flalliance.worker.reveal import reveal_sealed

log = logging.getLogger(__name__)
Result = dict[str, Any]


def _skip(command: str, round: int, why: str) -> Result:
    log.info("%s round %d: nothing to do (%s)", command, round, why)
    return {"command": command, "round": round, "status": "skipped", "reason": why}


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _tx(receipt: Any) -> str:
    value = receipt["transactionHash"]
    return value.hex() if isinstance(value, bytes | bytearray) else str(value)


def _open_round(ctx: WorkerContext, command: str, round: int, phase: Phase) -> Result | None:
    """None when `round` is current and in `phase`; otherwise the skip result to return."""
    state = ctx.task.state()
    if not state.round_started or state.round != round:
        return _skip(command, round, f"the task is at round {state.round}")
    if state.phase != phase:
        return _skip(command, round, f"phase is {state.phase.name}, not {phase.name}")
    return None


def pioneer(ctx: WorkerContext, round: int) -> Result:
    """Publish the deterministic initial model of the spec as the pioneering global model."""
    from flalliance.fl.pioneer import initial_model_bytes

    ctx.plugin  # noqa: B018 - refuse first when the image or plugin is not the one the spec pins
    if (skip := _open_round(ctx, "pioneer", round, Phase.PIONEERING)) is not None:
        return skip
    if ctx.task.pioneer_of(round).lower() != ctx.address.lower():
        raise PermanentError(f"{ctx.address} is not the pioneer of round {round}")
    data = initial_model_bytes(ctx.spec)
    digest = ctx.store.put(data)
    receipt = ctx.task.submit_pioneer(digest)
    model = "0x" + digest.hex()
    log.info("pioneer model %s published (%d bytes)", model, len(data))
    return {"command": "pioneer", "round": round, "status": "done", "model_hash": model, "tx": _tx(receipt)}


def train(ctx: WorkerContext, round: int) -> Result:
    """Train from the global model on the private train split, publish the weights, propose their hash."""
    from flalliance.fl.attacks import ADAPTIVE, malicious_proposal
    from flalliance.fl.weights import encode

    plugin = ctx.plugin  # refuse first when the image or plugin is not the one the spec pins
    if (skip := _open_round(ctx, "train", round, Phase.PROPOSING)) is not None:
        return skip
    if ctx.task.role_of(round, ctx.address) != Role.PROPOSER:
        raise PermanentError(f"{ctx.address} is not a proposer in round {round}")
    mine = [p for p in ctx.task.proposals(round) if p.proposer.lower() == ctx.address.lower()]
    if mine:
        return _skip("train", round, f"already proposed {mine[0].model_hash}")
    state = ctx.task.state()
    start = ctx.global_model(state.global_model)
    data = ctx.train_split
    seed = ctx.spec.seeds.train + round
    behaviour = ctx.settings.behaviour
    device = "cpu"
    if behaviour == "honest":
        trained = plugin.train(ctx.spec, start, data, seed=seed)
        tensors, device = trained.tensors, trained.device
    else:
        # an adaptive attacker reads the proposals already published this round (simulations only)
        peers = (
            ctx.published_models([p.model_hash for p in ctx.task.proposals(round)])
            if behaviour in ADAPTIVE
            else None
        )
        tensors = malicious_proposal(behaviour, ctx.spec, start, data, seed=seed, peers=peers)
    blob = encode(tensors)
    digest = ctx.store.put(blob)
    receipt = ctx.task.propose(digest, len(data))
    model = "0x" + digest.hex()
    log.info("proposed %s (%d samples, %d bytes, trained on %s)", model, len(data), len(blob), device)
    return {
        "command": "train",
        "round": round,
        "status": "done",
        "role": "proposer",
        "model_hash": model,
        "samples": len(data),
        "bytes": len(blob),
        "plugin": plugin.name,
        "device": device,
        "tx": _tx(receipt),
    }


def validate(ctx: WorkerContext, round: int) -> Result:
    """Judge every proposal on the private test split, aggregate, commit the vote, return it sealed."""
    from flalliance.fl.validation import ProposalFile, index_verdicts, on_probation, validate_round
    from flalliance.store.base import ObjectNotFound

    ctx.plugin  # noqa: B018 - refuse first when the image or plugin is not the one the spec pins
    if (skip := _open_round(ctx, "validate", round, Phase.COMMITTING)) is not None:
        return skip
    if ctx.task.role_of(round, ctx.address) != Role.VOTER:
        raise PermanentError(f"{ctx.address} is not a voter in round {round}")
    if ctx.task.participant(ctx.address).action_in(round) != Action.NONE:
        return _skip("validate", round, "vote already committed")
    state = ctx.task.state()
    global_tensors = ctx.global_model(state.global_model)
    proposals = ctx.task.proposals(round)
    files = []
    for p in proposals:
        digest = hash_bytes(p.model_hash)
        try:
            data: bytes | None = ctx.store.get(digest, max_bytes=ctx.spec.max_model_bytes)
        except ObjectNotFound:
            data = None
        except Exception as exc:  # an oversize or corrupt object is the proposer's fault, not ours
            log.warning("proposal %s unreadable: %s", p.model_hash, exc)
            data = b""
        files.append(ProposalFile(digest, data, p.samples))
    # The proposers' public records (settled when they proposed): a mostly-rejected one is on probation.
    records = {p.proposer: ctx.task.participant(p.proposer) for p in proposals}
    probation = {
        hash_bytes(p.model_hash)
        for p in proposals
        if on_probation(records[p.proposer].accepted_proposals, records[p.proposer].rejected_proposals)
    }
    rv = validate_round(
        ctx.spec,
        global_tensors,
        files,
        ctx.test_split,
        train=ctx.train_split,
        probation=probation,
        reference_seed=ctx.spec.seeds.train + round,
    )
    bits = index_verdicts(rv.verdicts, [hash_bytes(p.model_hash) for p in proposals])
    verdicts = verdict_bitmap(bits)
    if rv.aggregate_bytes is not None:
        ctx.store.put(rv.aggregate_bytes)
        aggregate = "0x" + (rv.aggregate_hash or b"").hex()
    else:
        aggregate = state.global_model if state.global_model != ZERO_HASH else "0x" + "00" * 31 + "01"
    score = rv.vote.score
    salt = derive_salt(bytes(ctx.account.key), ctx.settings.task, round, ctx.address)
    commitment = vote_commitment(ctx.settings.task, round, ctx.address, aggregate, score, verdicts, salt)
    receipt = ctx.task.commit_vote(commitment)
    opening = VoteOpening(
        task=ctx.settings.task,
        round=round,
        voter=ctx.address,
        aggregate_hash=aggregate,
        score=score,
        verdicts=verdicts,
        salt=salt,
        accuracy=rv.aggregate_metric,
        baseline=rv.baseline,
    )
    rejected = [{"hash": "0x" + v.hash.hex(), "reason": v.reason} for v in rv.verdicts if not v.accepted]
    for v in rv.verdicts:
        if not v.accepted:  # why, with the figures the rule compared (docs/fl.md, "The rule")
            log.info(
                "rejected 0x%s: %s (loss %s, own cosine %s, mirror gap %s, own norm ratio %s, "
                "offset balance %s at z %s, probation %s)",
                v.hash.hex(), v.reason, _num(v.loss), _num(v.own_cosine), _num(v.mirror_gap),
                _num(v.own_norm_ratio), _num(v.offset_balance), _num(v.offset_z), v.probation,
            )  # fmt: skip
    log.info(
        "committed vote: score %+d, %d/%d proposals accepted, aggregate %s",
        score,
        sum(bits),
        len(proposals),
        aggregate,
    )
    return {
        "command": "validate",
        "round": round,
        "status": "done",
        "role": "voter",
        "tx": _tx(receipt),
        "proposals": len(proposals),
        "rejected": rejected[:20],
        # this voter's measurements on its private test split, in the task's metric
        "metric": ctx.spec.metric.name,
        "baseline": rv.baseline,
        "aggregate_metric": rv.aggregate_metric,
        "sealed_vote": seal(opening, bytes(ctx.account.key)),
    }


def reveal(ctx: WorkerContext, round: int, sealed: str) -> Result:
    """Reveal a vote sealed by `validate` (the operator usually does this in-process)."""
    if (skip := _open_round(ctx, "reveal", round, Phase.REVEALING)) is not None:
        return skip
    return reveal_sealed(ctx.task, bytes(ctx.account.key), ctx.address, round, sealed)


def claim(ctx: WorkerContext) -> Result:
    """Once the task has ended, withdraw the remaining stake (which vests PerProposal rewards); then claim
    what is claimable (during the task: finalizer fees, and rewards under Collective)."""
    out: Result = {"command": "claim", "status": "done"}
    info = ctx.task.participant(ctx.address)
    if ctx.task.state().status.ended and info.joined and not info.withdrawn:
        out["withdraw_tx"] = _tx(ctx.task.withdraw())
        info = ctx.task.participant(ctx.address)
        out["withdrawn"] = info.stake  # what withdraw paid: the stake after settling the last rounds
        if info.vesting_done:
            out["vested"] = info.vested
            out["forfeited"] = info.forfeited
    if info.claimable > 0:
        out["claimed"] = info.claimable
        out["claim_tx"] = _tx(ctx.task.claim())
    if len(out) == 2:
        out["status"] = "skipped"
        out["reason"] = "nothing to claim or withdraw"
    return out

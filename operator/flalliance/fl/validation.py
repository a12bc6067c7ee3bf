"""The voter's round: check every proposal file, measure, judge, aggregate, measure the aggregate, vote.

:func:`validate_round` is pure (bytes and a dataset in, a :class:`RoundValidation` out): the worker fetches
the files from the store and sends the vote; nothing here touches the network, the chain or the disk.
A hostile or broken proposal becomes a rejected :class:`Verdict` carrying the reason — never an exception.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import numpy as np

from flalliance.fl.aggregation import AggregationError, Proposal, aggregate, fedavg
from flalliance.fl.aggregation.base import flatten
from flalliance.fl.plugin import Samples
from flalliance.fl.plugins import plugin_for
from flalliance.fl.scoring import (
    AGGREGATE_MIN_REFERENCE,
    AggregateVote,
    ScreenReason,
    aggregate_vote,
    aligned_losses,
    forgive_aligned,
    forgive_in_aggregate,
    gain_verdicts,
    improvement,
    loss_verdicts,
    reference_stats,
    reference_verdicts,
    regression_verdicts,
    round_verdicts,
    screen,
    update_stats,
)
from flalliance.fl.spec import Inclusion, TrainingLogicSpec
from flalliance.fl.weights import TensorMap, Tensors, WeightsError, content_hash, decode, encode

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProposalFile:
    """A proposal as the chain and the store give it: the on-chain hash, the fetched bytes (``None`` when the
    store had nothing under that hash) and the declared sample count."""

    hash: bytes
    data: bytes | None
    num_samples: int = 1


@dataclass(frozen=True)
class Verdict:
    hash: bytes
    accepted: bool
    reason: str | None = None  # why not accepted (a weights.Reason or scoring.ScreenReason value)
    screened: bool = False  # passed the data-independent checks (decides "screened" inclusion)
    metric: float | None = None
    loss: float | None = None  # cross-entropy on the voter's test split
    delta: float | None = None  # improvement over the baseline, positive = better
    update_norm: float | None = None
    norm_ratio: float | None = None
    cosine: float | None = None
    own_norm_ratio: float | None = None  # against the voter's own reference update
    own_cosine: float | None = None
    mirror_gap: float | None = None
    offset_balance: float | None = None
    offset_z: float | None = None
    probation: bool = False


@dataclass(frozen=True)
class RoundValidation:
    baseline: float
    n_test: int
    verdicts: list[Verdict]
    included: list[bytes]  # proposal hashes in the aggregate, canonical (ascending) order
    aggregate: Tensors | None
    aggregate_bytes: bytes | None
    aggregate_hash: bytes | None
    aggregate_metric: float | None
    vote: AggregateVote
    notes: list[str] = field(default_factory=list)


def on_probation(accepted: int, rejected: int) -> bool:
    """Whether a proposer's public record (decided proposals, from the chain) puts it on probation:
    at least two rejected proposals and more than twice as many rejected as accepted ones. One rejection
    is not enough: under label skew an honest proposer is sometimes rejected in the first rounds (a
    near-random global model), and the stricter limits then kept it rejected for the rest of the task
    (60-round digits runs: one honest participant 9 of 17 rejected, each rejection on probation); an
    attacker is rejected far more often than accepted and stays under the strict rule."""
    return rejected >= 2 and 2 * accepted < rejected


def index_verdicts(verdicts: Sequence[Verdict], hashes: Sequence[bytes]) -> list[bool]:
    """One accept/reject per proposal in on-chain index order. A hash proposed again by a later proposer
    is a copy (it carries no work of its own): only its first proposal can be accepted."""
    accepted = {v.hash: v.accepted for v in verdicts}
    seen: set[bytes] = set()
    out = []
    for h in hashes:
        out.append(accepted.get(h, False) and h not in seen)
        seen.add(h)
    return out


def _mirror(global_tensors: TensorMap, proposal: TensorMap) -> Tensors:
    """G - (P - G): the proposal's update reversed."""
    return {n: (2 * global_tensors[n] - proposal[n]).astype(np.float32) for n in global_tensors}


def _contributions(
    spec: TrainingLogicSpec,
    global_tensors: TensorMap,
    good: Sequence[Proposal],
    reasons: Sequence[ScreenReason | None],
    judge: Samples,
) -> list[float | None]:
    """Per proposal rejected as loss_regression, what it adds to the mean of the accepted ones A on
    ``judge``: ``L(G + (ΣΔ_A + Δ_i) / (k + 1)) - L(G + ΣΔ_A / (k + 1))``, k = |A|; None for the others,
    and for all when A holds fewer than AGGREGATE_MIN_REFERENCE proposals. The reference is A with a null
    update (the global model) in its place, not A alone: any extra proposal shortens A's step, and a long
    step of A would make even a flipped update look helpful. Plain means, whatever the aggregation rule
    and the sample counts declared: a proposer declaring a single sample would otherwise weigh its update
    down to nothing."""
    accepted = [p for p, r in zip(good, reasons, strict=True) if r is None]
    if len(accepted) < AGGREGATE_MIN_REFERENCE or ScreenReason.LOSS_REGRESSION not in reasons:
        return [None] * len(good)
    plugin = plugin_for(spec)
    null = Proposal(bytes(32), global_tensors, 1)
    base = plugin.loss(spec, fedavg([*accepted, null], weighted=False), judge)
    return [
        plugin.loss(spec, fedavg([*accepted, p], weighted=False), judge) - base
        if r is ScreenReason.LOSS_REGRESSION
        else None
        for p, r in zip(good, reasons, strict=True)
    ]


def _include(verdict: Verdict, mode: Inclusion) -> bool:
    if mode == "all":
        return verdict.metric is not None  # every well-formed proposal
    if mode == "screened":
        return verdict.screened
    return verdict.accepted


def validate_round(
    spec: TrainingLogicSpec,
    global_tensors: TensorMap,
    proposals: Sequence[ProposalFile],
    test: Samples,
    *,
    include: Inclusion | None = None,
    train: Samples | None = None,
    probation: Collection[bytes] = (),
    reference_seed: int = 0,
) -> RoundValidation:
    """Judge ``proposals`` against the current global model on this voter's private ``test`` split.

    With ``train`` (the voter's private train split) and ``validation.judge_on_train``, the per-proposal
    loss checks use both splits (more samples, less noise); the aggregate vote always uses ``test``. With
    ``train`` and ``validation.reference_update`` the voter also trains its own reference update (seeded by
    ``reference_seed``) and checks every proposal's update against it. ``probation`` holds the hashes of
    proposals whose proposers are on probation (their on-chain record; see ValidationSpec)."""
    plugin = plugin_for(spec)
    arch = plugin.architecture(spec)
    rule = spec.validation
    mode = include or spec.aggregation.include
    baseline = plugin.evaluate(spec, global_tensors, test)
    n_test = len(test)
    judge = test
    if train is not None and rule.judge_on_train and len(train):
        judge = plugin.join([test, train])  # the test split first (a plugin may share one pass)
    baseline_loss = plugin.loss(spec, global_tensors, judge)

    verdicts: dict[bytes, Verdict] = {}
    good: list[Proposal] = []
    for pf in sorted({p.hash: p for p in proposals}.values(), key=lambda p: p.hash):
        if pf.data is None:
            verdicts[pf.hash] = Verdict(pf.hash, False, "missing_from_store")
            continue
        try:
            tensors = decode(pf.data, arch, max_bytes=spec.max_model_bytes, expected_hash=pf.hash)
        except WeightsError as exc:
            log.warning("proposal %s refused: %s", pf.hash.hex(), exc)
            verdicts[pf.hash] = Verdict(pf.hash, False, exc.reason.value)
            continue
        good.append(Proposal(pf.hash, tensors, max(1, pf.num_samples)))

    metrics, losses = [], []
    for p in good:
        scored = plugin.score(spec, p.tensors, test, judge)
        metrics.append(scored.metric)
        losses.append(scored.loss)
    # The regression check needs the voter's train split as well: on a few dozen test samples alone the
    # loss of one skewed honest update is too noisy to compare with the global model's (docs/results.md).
    regressing = rule.regression_floor is not None and judge is not test
    regress = regression_verdicts(rule, losses, baseline_loss) if regressing else [None] * len(losses)
    against = round_verdicts(rule, losses, baseline_loss) if regressing else [None] * len(losses)
    refs: list[ScreenReason | None] = [None] * len(good)
    ref_stats = None
    if rule.reference_update and train is not None and len(train) and judge is not test and good:
        own = plugin.train(spec, global_tensors, train, seed=reference_seed).tensors
        gaps = [
            losses[i] - plugin.loss(spec, _mirror(global_tensors, p.tensors), judge)
            for i, p in enumerate(good)
        ]
        ref_stats = reference_stats(
            flatten(global_tensors), flatten(own), [flatten(p.tensors) for p in good], gaps
        )
        refs = reference_verdicts(
            ref_stats, rule, [p.hash in probation for p in good], [v - baseline_loss for v in losses]
        )
        gains = gain_verdicts(rule, losses, baseline_loss, plugin.loss(spec, own, judge))
        refs = [r or g for r, g in zip(refs, gains, strict=True)]
        regress = forgive_aligned(rule, regress, ref_stats.own_cosines)
    aligned = aligned_losses(rule, ref_stats.own_cosines) if ref_stats else [False] * len(good)
    against = [None if al else a for a, al in zip(against, aligned, strict=True)]
    regress = [r or a for r, a in zip(regress, against, strict=True)]
    # The round's medians are taken over the proposals this voter's own data does not already condemn, so
    # that attackers holding most of a round's few proposals set neither its scale nor its direction.
    trusted = [a is None and b is None for a, b in zip(regress, refs, strict=True)]
    stats = update_stats(
        flatten(global_tensors),
        [flatten(p.tensors) for p in good],
        rule,
        reference=trusted if regressing else None,
    )
    screening = screen(stats, rule)
    perf = loss_verdicts(rule, [v for v, s in zip(losses, screening, strict=True) if s is None])
    perf_iter = iter(perf)
    reasons: list[ScreenReason | None] = []
    for i in range(len(good)):
        reason = screening[i]
        if reason is None:
            outlier = next(perf_iter)
            reason = regress[i] or refs[i] or (None if aligned[i] else outlier)
        reasons.append(reason)
    if rule.judge_in_aggregate:
        reasons = forgive_in_aggregate(reasons, _contributions(spec, global_tensors, good, reasons, judge))
    for i, p in enumerate(good):
        reason = reasons[i]
        verdicts[p.hash] = Verdict(
            p.hash,
            accepted=reason is None,
            reason=None if reason is None else reason.value,
            screened=screening[i] is None,
            metric=metrics[i],
            loss=losses[i],
            delta=improvement(spec.metric, metrics[i], baseline),
            update_norm=stats.norms[i],
            norm_ratio=stats.norm_ratios[i],
            cosine=stats.cosines[i],
            own_norm_ratio=ref_stats.own_norm_ratios[i] if ref_stats else None,
            own_cosine=ref_stats.own_cosines[i] if ref_stats else None,
            mirror_gap=ref_stats.mirror_gaps[i] if ref_stats else None,
            offset_balance=ref_stats.offset_balances[i] if ref_stats else None,
            offset_z=ref_stats.offset_zs[i] if ref_stats else None,
            probation=p.hash in probation,
        )

    ordered = [verdicts[h] for h in sorted(verdicts)]
    chosen = [p for p in good if _include(verdicts[p.hash], mode)]
    notes: list[str] = []
    agg: Tensors | None = None
    agg_bytes = agg_hash = None
    agg_metric = None
    if chosen:
        try:
            agg = aggregate(spec.aggregation, chosen)
        except AggregationError as exc:  # pragma: no cover - checked proposals share the architecture
            notes.append(f"aggregation failed: {exc}")
        if agg is not None:
            agg_bytes = encode(agg)
            agg_hash = content_hash(agg_bytes)
            agg_metric = plugin.evaluate(spec, agg, test)
    else:
        notes.append(f"no proposal qualifies for the aggregate (include={mode})")
    vote = aggregate_vote(spec.metric, rule, baseline, agg_metric, n_test)
    no_evidence = all(v.accepted for v in verdicts.values())
    if vote.score < 0 and agg_metric is not None and rule.dissent_needs_evidence and no_evidence:
        notes.append("aggregate scored below the baseline, but no proposal was rejected: vote 0")
        vote = AggregateVote(0, vote.delta, vote.margin)
    return RoundValidation(
        baseline=baseline,
        n_test=n_test,
        verdicts=ordered,
        included=sorted(p.hash for p in chosen),
        aggregate=agg,
        aggregate_bytes=agg_bytes,
        aggregate_hash=agg_hash,
        aggregate_metric=agg_metric,
        vote=vote,
        notes=notes,
    )

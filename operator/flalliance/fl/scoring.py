"""The voter's scoring rule as plain functions over numbers and vectors (the reasons are in docs/fl.md).

A proposal is judged in two layers:

1. *Screening* — data-independent, so every honest voter reaches the same result from the same files:
   the update ``Δ_i = P_i - G`` is compared with the round's other updates. ``‖Δ_i‖ ≤ free_rider_ratio ·
   median ‖Δ‖`` is a free rider (resubmitted global model, or noise on it); ``‖Δ_i‖ > max_norm_ratio ·
   median ‖Δ‖`` is a scaled or noised update or random weights; ``cos(Δ_i, median Δ) < min_cosine`` points
   against the round's coordinate-wise median update (sign flips). Medians tolerate a minority of
   attackers.
2. *Performance* - on the voter's private test split, with the cross-entropy loss (continuous, so far
   less noisy than accuracy on a few dozen samples): a proposal is rejected when its loss is a robust high
   outlier among the round's proposals (median + z * MAD). It is compared with the *other proposals*, not
   with the global model: an honest proposal trained on skewed data may well score below the global model
   on this voter's differently skewed test set, and so do all its honest peers, while a label-flipped or
   broken model stands out from them.

The aggregate vote is +1 when the aggregate beats the baseline by more than the margin, -1 when it is worse
by more than the margin, 0 in between; the margin is ``max(vote_margin, margin_z · standard error)`` so that
test-set noise alone does not flip a vote.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from flalliance.fl.spec import ACCURACY_METRICS, MetricSpec, ValidationSpec

F64 = npt.NDArray[np.float64]


class ScreenReason(StrEnum):
    FREE_RIDER = "free_rider"
    UPDATE_NORM = "update_norm_outlier"
    UPDATE_DIRECTION = "update_direction"
    LOSS_OUTLIER = "loss_outlier"
    LOSS_REGRESSION = "loss_regression"
    LOSS_AGAINST_ROUND = "loss_against_round"  # raises the voter's loss while the round's others lower it
    REFERENCE_NORM = "reference_norm"  # far larger than the voter's own update
    REFERENCE_DIRECTION = "reference_direction"  # against the voter's own update
    REFERENCE_GAIN = "reference_gain"  # wins back far less of the voter's loss than its own update does
    PROBATION_GAIN = "probation_gain"  # on probation, and does not lower the voter's loss
    MIRRORED_BETTER = "mirrored_better"  # the reversed update fits the voter's data better
    OFFSET_BIAS = "offset_bias"  # offset from the voter's own update the same way in every coordinate


@dataclass(frozen=True)
class UpdateStats:
    """Per proposal (in the order given): update norm, its ratio to the median norm, cosine to the median
    update."""

    norms: list[float]
    norm_ratios: list[float]
    cosines: list[float]


def _norm(v: F64) -> float:
    return math.sqrt(float(np.add.reduce(v * v)))


def _median_columns(vectors: Sequence[F64]) -> F64:
    stacked = np.stack(vectors, axis=1)
    stacked.sort(axis=1)
    n = stacked.shape[1]
    middle = stacked[:, n // 2]
    return middle if n % 2 else (stacked[:, n // 2 - 1] + middle) / 2.0


def update_stats(
    global_vector: F64,
    proposal_vectors: Sequence[F64],
    rule: ValidationSpec,
    *,
    reference: Sequence[bool] | None = None,
) -> UpdateStats:
    """Norms and norm ratios against the median norm of the proposals; cosines against the coordinate-wise
    median of the updates whose norm is plausible (neither free rider nor outlier), so that a few huge
    malicious updates cannot bend the reference direction.

    ``reference`` (one flag per proposal) restricts the proposals the medians are taken over — the voter
    passes those that do not regress its data, so that when attackers hold most of a round's few
    proposals, their huge updates neither set the scale (honest updates would look like free riders) nor
    the direction. Without any flagged proposal all are used."""
    updates = [p - global_vector for p in proposal_vectors]
    norms = [_norm(u) for u in updates]
    keep = [i for i in range(len(updates)) if reference is None or reference[i]] or list(range(len(updates)))
    median_norm = float(np.median([norms[i] for i in keep])) if norms else 0.0
    ratios = [n / median_norm if median_norm > 0 else (0.0 if n == 0 else math.inf) for n in norms]
    plausible = [updates[i] for i in keep if rule.free_rider_ratio < ratios[i] <= rule.max_norm_ratio]
    median_update = _median_columns(plausible) if plausible else np.zeros_like(global_vector)
    median_update_norm = _norm(median_update)
    cosines = []
    for u, norm in zip(updates, norms, strict=True):
        if norm == 0 or median_update_norm == 0:
            cosines.append(0.0)
        else:
            cosines.append(float(np.add.reduce(u * median_update)) / (norm * median_update_norm))
    return UpdateStats(norms, ratios, cosines)


def screen(stats: UpdateStats, rule: ValidationSpec) -> list[ScreenReason | None]:
    """Data-independent verdicts: ``None`` = passes, otherwise the reason for rejection."""
    out: list[ScreenReason | None] = []
    for norm, ratio, cosine in zip(stats.norms, stats.norm_ratios, stats.cosines, strict=True):
        if norm == 0 or ratio <= rule.free_rider_ratio:
            out.append(ScreenReason.FREE_RIDER)
        elif ratio > rule.max_norm_ratio:
            out.append(ScreenReason.UPDATE_NORM)
        elif len(stats.norms) >= 3 and cosine < rule.min_cosine:
            # With fewer than 3 proposals the median update is no reference: the direction test is skipped.
            out.append(ScreenReason.UPDATE_DIRECTION)
        else:
            out.append(None)
    return out


@dataclass(frozen=True)
class ReferenceStats:
    """Per proposal (in the order given), against the voter's own update Δ_v: ‖Δ_i‖ / ‖Δ_v‖,
    cos(Δ_i, Δ_v), the mirror gap L(G + Δ_i) - L(G - Δ_i) on the voter's data (positive = the
    reversed update fits the voter's data better), the offset balance (see :func:`offset_balance`) and
    its significance (see :func:`offset_z`)."""

    own_norm_ratios: list[float]
    own_cosines: list[float]
    mirror_gaps: list[float]
    offset_balances: list[float]
    offset_zs: list[float]


# An offset balance counts only when it could not come from sign-symmetric noise: ``Σ d_j`` against its
# standard deviation under random signs, ``sqrt(Σ d_j²)``. A model of a few coordinates (the ridge
# example's 11) moves them together by nature: there every honest update leans one way (balance 0.79 at
# cosine 0.94) and ``z <= sqrt(11) = 3.3`` cannot reach this; on the grid every proposal beyond the
# balance limit has |z| >= 8 (digits, 650 weights) and >= 35 (Fashion-MNIST).
OFFSET_MIN_Z = 4.0


def offset_balance(update: F64, own: F64) -> float:
    """``Σ_j d_j / Σ_j |d_j|`` for ``d = Δ_i - Δ_v``: in [-1, 1], near 0 when the proposal differs from the
    voter's own update by sign-symmetric noise, as two honest updates on different data do, and near ±1
    when it is offset the same way in every coordinate. "A little is enough" proposes ``mean - z * std``: the
    benign mean shifted by ``z`` standard deviations, negative in every coordinate, so that it hides inside
    the honest spread by norm and direction and still drifts the model consistently; its balance against an
    honest voter's update is -0.36 to -0.80 on the digits grid where honest proposals stay within ±0.34
    (docs/fl.md)."""
    return _offset(update - own)[0]


def offset_z(update: F64, own: F64) -> float:
    """``Σ_j d_j / sqrt(Σ_j d_j²)`` for ``d = Δ_i - Δ_v``: the offset in standard deviations of a sum of
    the same magnitudes under random signs, ``balance · sqrt(n_eff)`` with ``n_eff = (Σ|d|)² / Σd²`` the
    number of coordinates that carry the difference. A balance of 0.8 over 11 coordinates is z 2.6, over
    650 it is z 20."""
    return _offset(update - own)[1]


def _offset(d: F64) -> tuple[float, float]:
    """(balance, z) of one difference vector, its sum taken once."""
    total = float(np.add.reduce(d))
    spread = float(np.add.reduce(np.abs(d)))
    q = math.sqrt(float(np.add.reduce(d * d)))
    return (total / spread if spread > 0 else 0.0), (total / q if q > 0 else 0.0)


def reference_stats(
    global_vector: F64, own_vector: F64, proposal_vectors: Sequence[F64], mirror_gaps: Sequence[float]
) -> ReferenceStats:
    own = own_vector - global_vector
    own_norm = _norm(own)
    ratios: list[float] = []
    cosines: list[float] = []
    balances: list[float] = []
    zs: list[float] = []
    for p in proposal_vectors:
        u = p - global_vector
        norm = _norm(u)
        ratios.append(norm / own_norm if own_norm > 0 else (0.0 if norm == 0 else math.inf))
        cosines.append(
            float(np.add.reduce(u * own)) / (norm * own_norm) if norm > 0 and own_norm > 0 else 0.0
        )
        balance, z = _offset(u - own)
        balances.append(balance)
        zs.append(z)
    return ReferenceStats(ratios, cosines, list(mirror_gaps), balances, zs)


def reference_verdicts(
    stats: ReferenceStats, rule: ValidationSpec, probation: Sequence[bool], loss_changes: Sequence[float]
) -> list[ScreenReason | None]:
    """Verdicts against the voter's own reference update (FLTrust's idea with each voter's private data as
    the root set); a proposer on probation is held to the stricter direction limits. ``loss_changes`` is
    L(P_i) - L(G) on the voter's data: a proposal that lowers the voter's loss is never rejected for its
    direction (under label skew an honest update learnt on other classes may point away from the voter's
    own and still help it; a sign flip or IPM raises it). The offset check holds whatever the loss does:
    an ALIE proposal sits near the benign mean, so it lowers the voter's loss too. On probation (with
    ``probation_min_gain`` set) a proposal must lower the voter's loss and meet the direction limit
    whatever its loss does: the proposer's record already weighs against it."""
    out: list[ScreenReason | None] = []
    max_balance = rule.max_offset_balance
    for ratio, cosine, gap, balance, z, strict, change in zip(
        stats.own_norm_ratios,
        stats.own_cosines,
        stats.mirror_gaps,
        stats.offset_balances,
        stats.offset_zs,
        probation,
        loss_changes,
        strict=True,
    ):
        min_cosine = rule.probation_min_own_cosine if strict else rule.min_own_cosine
        margin = rule.probation_mirror_margin if strict else rule.mirror_margin
        if ratio > rule.max_own_norm_ratio:
            out.append(ScreenReason.REFERENCE_NORM)
        elif max_balance is not None and abs(balance) > max_balance and abs(z) >= OFFSET_MIN_Z:
            out.append(ScreenReason.OFFSET_BIAS)
        elif strict and rule.probation_min_gain is not None and change > -rule.probation_min_gain:
            out.append(ScreenReason.PROBATION_GAIN)
        elif strict and rule.probation_min_gain is not None and cosine < min_cosine:
            out.append(ScreenReason.REFERENCE_DIRECTION)
        elif change <= 0:
            out.append(None)
        elif cosine < min_cosine:
            out.append(ScreenReason.REFERENCE_DIRECTION)
        elif gap > margin:
            out.append(ScreenReason.MIRRORED_BETTER)
        else:
            out.append(None)
    return out


# The rule acts only while the voter's own update wins at least this share of the global model's loss: far
# from convergence, where a poisoned model's small gain stands out. Measured on the LoRA task
# (bench/fl/lora.py): the voter's own gain is 24% of the loss against the pioneer and 0-5% after, where
# honest proposals' share of it swings from -4.5 to +5 (noise).
MIN_OWN_GAIN_SHARE = 0.05


def gain_verdicts(
    rule: ValidationSpec, losses: Sequence[float], baseline_loss: float, own_loss: float
) -> list[ScreenReason | None]:
    """``reference_gain`` for proposals with ``L_G - L_i < min_reference_gain * (L_G - L_own)`` (see
    ValidationSpec); nothing when the rule is off or the voter's own gain is below MIN_OWN_GAIN_SHARE of
    the global model's loss."""
    own_gain = baseline_loss - own_loss
    if rule.min_reference_gain is None or own_gain <= MIN_OWN_GAIN_SHARE * baseline_loss:
        return [None] * len(losses)
    limit = rule.min_reference_gain * own_gain
    return [ScreenReason.REFERENCE_GAIN if baseline_loss - v < limit else None for v in losses]


def improvement(metric: MetricSpec, value: float, baseline: float) -> float:
    """Signed change, positive = better, in metric units."""
    return value - baseline if metric.direction == "maximize" else baseline - value


def noise_margin(metric: MetricSpec, rule: ValidationSpec, baseline: float, n_test: int) -> float:
    """``max(vote_margin, margin_z · SE)``; SE = binomial standard error for accuracies, 0 for any other
    metric (a loss, a plugin's own)."""
    if metric.name not in ACCURACY_METRICS or n_test <= 0:
        return rule.vote_margin
    p = min(max(baseline, 1.0 / (n_test + 1)), 1.0 - 1.0 / (n_test + 1))
    return max(rule.vote_margin, rule.margin_z * math.sqrt(p * (1.0 - p) / n_test))


def loss_verdicts(rule: ValidationSpec, losses: Sequence[float]) -> list[ScreenReason | None]:
    """Reject proposals whose loss on the voter's private test split is a high outlier among the round's
    proposals: ``L_i - median(L) > max(z * 1.4826 * MAD(L), floor)``."""
    if len(losses) < 3:
        return [None] * len(losses)  # no robust reference among fewer than 3 proposals
    values = np.asarray(losses, dtype=np.float64)
    centre = float(np.median(values))
    mad = 1.4826 * float(np.median(np.abs(values - centre)))
    limit = max(rule.loss_outlier_z * mad, rule.loss_outlier_floor)
    return [ScreenReason.LOSS_OUTLIER if v - centre > limit else None for v in losses]


def regression_verdicts(
    rule: ValidationSpec, losses: Sequence[float], baseline_loss: float
) -> list[ScreenReason | None]:
    """Reject proposals that make the voter's data worse than the current global model by more than
    ``max(regression_floor, regression_ratio * L_G)`` nats. Needs no reference among the proposals, so it
    works with any number of them and any share of attackers; honest updates trained on other classes
    raise the voter's loss a little (forgetting), a label-flipped model raises it a lot."""
    if rule.regression_floor is None:
        return [None] * len(losses)
    limit = max(rule.regression_floor, rule.regression_ratio * baseline_loss)
    return [ScreenReason.LOSS_REGRESSION if v - baseline_loss > limit else None for v in losses]


def round_verdicts(
    rule: ValidationSpec, losses: Sequence[float], baseline_loss: float
) -> list[ScreenReason | None]:
    """``loss_against_round`` for a proposal with ``L_i > L_G`` while the median of the *other* proposals'
    ``L_j - L_G`` is below ``-round_gain_margin``: the round shows what an honest update does to this
    voter's data, and this one does the opposite. Needs one other proposal; the median keeps one
    attacker among the others from setting the reference. Not forgiven for its direction (see
    :func:`forgive_aligned`): against the untrained pioneer a label-flipped update still shares the
    honest ones' first features (cosine 0.1-0.2 with the voter's own, examples/digits' shape), while its
    loss rises where theirs falls by a nat."""
    margin = rule.round_gain_margin
    if margin is None or len(losses) < 2:
        return [None] * len(losses)
    changes = [v - baseline_loss for v in losses]
    out: list[ScreenReason | None] = []
    for i, change in enumerate(changes):
        others = float(np.median(changes[:i] + changes[i + 1 :]))
        out.append(ScreenReason.LOSS_AGAINST_ROUND if change > 0 and others < -margin else None)
    return out


def forgive_aligned(
    rule: ValidationSpec,
    regress: Sequence[ScreenReason | None],
    own_cosines: Sequence[float],
) -> list[ScreenReason | None]:
    """Drop the ``loss_regression`` verdicts of proposals whose update agrees with the voter's own,
    ``cos(Δ_i, Δ_v) >= aligned_regression_cosine`` (see ValidationSpec.aligned_regression_cosine). It holds
    on probation too: there the direction checks are already stricter, and an honest proposer rejected once
    early (a near-random global model) must be able to climb out of probation."""
    limit = rule.aligned_regression_cosine
    if limit is None:
        return list(regress)
    return [
        None if r is ScreenReason.LOSS_REGRESSION and cosine >= limit else r
        for r, cosine in zip(regress, own_cosines, strict=True)
    ]


def aligned_losses(rule: ValidationSpec, own_cosines: Sequence[float]) -> list[bool]:
    """Per proposal: whether its ``loss_against_round`` and ``loss_outlier`` verdicts are forgiven, its
    update agreeing with the voter's own, ``cos(Δ_i, Δ_v) >= aligned_loss_cosine``, and at least half as
    much as the median of the round's other proposals (see ValidationSpec.aligned_loss_cosine). All False
    when the field is None."""
    limit = rule.aligned_loss_cosine
    if limit is None:
        return [False] * len(own_cosines)
    out: list[bool] = []
    for i, cosine in enumerate(own_cosines):
        others = list(own_cosines[:i]) + list(own_cosines[i + 1 :])
        relative = 0.5 * float(np.median(others)) if others else limit
        out.append(cosine >= limit and cosine >= relative)
    return out


# The fewest accepted proposals the in-aggregate judgement takes as its reference: with one, half a
# label-flipped update beside it was sometimes a descent direction early in a task (docs/results.md).
AGGREGATE_MIN_REFERENCE = 2


def forgive_in_aggregate(
    reasons: Sequence[ScreenReason | None], contributions: Sequence[float | None]
) -> list[ScreenReason | None]:
    """Drop the loss_regression verdict of a proposal whose contribution to the mean of the voter's
    accepted proposals A, ``L(mean(A + i)) - L(mean(A + null))`` (None: not measured), is negative (see
    ValidationSpec.judge_in_aggregate). The other loss verdicts stand: they are already forgiven for
    updates pointing the voter's way (aligned_losses), and they catch the early label flips."""
    return [
        None if r is ScreenReason.LOSS_REGRESSION and c is not None and c < 0 else r
        for r, c in zip(reasons, contributions, strict=True)
    ]


@dataclass(frozen=True)
class AggregateVote:
    score: int  # +1 / 0 / -1: the signed vote
    delta: float | None  # improvement of the aggregate over the baseline (positive = better)
    margin: float


def aggregate_vote(
    metric: MetricSpec, rule: ValidationSpec, baseline: float, aggregate_value: float | None, n_test: int
) -> AggregateVote:
    """The signed vote; no aggregate (nothing acceptable this round) is a -1."""
    margin = noise_margin(metric, rule, baseline, n_test)
    if aggregate_value is None:
        return AggregateVote(-1, None, margin)
    delta = improvement(metric, aggregate_value, baseline)
    score = 1 if delta > margin else (-1 if delta < -margin else 0)
    return AggregateVote(score, delta, margin)

"""The regression check added by the simulation benchmarks (docs/results.md) and when it applies."""

from __future__ import annotations

import numpy as np
import pytest

from flalliance.fl.aggregation import Proposal
from flalliance.fl.attacks import malicious_proposal
from flalliance.fl.datasets import load_builtin
from flalliance.fl.partition import dirichlet
from flalliance.fl.pioneer import initial_tensors
from flalliance.fl.private_split import private_split
from flalliance.fl.scoring import (
    ScreenReason,
    aligned_losses,
    forgive_aligned,
    forgive_in_aggregate,
    regression_verdicts,
    round_verdicts,
    update_stats,
)
from flalliance.fl.spec import TrainingLogicSpec, ValidationSpec
from flalliance.fl.training import train
from flalliance.fl.validation import ProposalFile, _contributions, validate_round
from flalliance.fl.weights import content_hash, encode

pytestmark = pytest.mark.unit


def test_regression_limit_is_absolute_or_relative_to_the_global_loss() -> None:
    rule = ValidationSpec()
    # limit = max(0.3, 0.25 * L_G)
    assert regression_verdicts(rule, [1.29, 1.31], 1.0) == [None, ScreenReason.LOSS_REGRESSION]
    assert regression_verdicts(rule, [4.9, 5.3], 4.0) == [None, ScreenReason.LOSS_REGRESSION]
    off = rule.model_copy(update={"regression_floor": None})
    assert regression_verdicts(off, [9.0], 1.0) == [None]


def test_a_loss_rise_against_a_round_that_lowers_the_loss_is_rejected() -> None:
    rule = ValidationSpec()
    margin = rule.round_gain_margin
    assert margin is not None
    against = ScreenReason.LOSS_AGAINST_ROUND
    # against the pioneer (L_G 2.3): two honest proposals win, a label flip loses a little
    assert round_verdicts(rule, [1.6, 1.8, 2.35], 2.3) == [None, None, against]
    # the median of the others decides: one attacker among them does not make an honest loss rise suspect
    assert round_verdicts(rule, [2.31, 2.2, 3.0], 2.3) == [None, None, None]
    # later, when the round's proposals barely move the loss either way, a small rise is no evidence
    assert round_verdicts(rule, [0.51, 0.5 - margin / 2, 0.49], 0.5) == [None, None, None]
    # with two proposals, the other one is the round
    assert round_verdicts(rule, [2.0, 2.4], 2.3) == [None, against]
    assert round_verdicts(rule, [2.4], 2.3) == [None]  # alone, there is no round to compare with
    off = rule.model_copy(update={"round_gain_margin": None})
    assert round_verdicts(off, [1.6, 1.8, 2.35], 2.3) == [None] * 3
    # not forgiven for its direction, unlike a regression
    assert forgive_aligned(rule, [against], [0.9]) == [against]


def test_a_regression_that_points_the_voters_way_is_forgiven() -> None:
    rule = ValidationSpec()
    assert rule.aligned_regression_cosine == 0.1
    regress = [ScreenReason.LOSS_REGRESSION, ScreenReason.LOSS_REGRESSION, None, ScreenReason.LOSS_OUTLIER]
    # an overshooting honest step agrees with the voter's own update; a flipped one does not; other
    # reasons are not the regression check's to forgive
    assert forgive_aligned(rule, regress, [0.3, 0.05, -0.9, 0.9]) == [
        None,
        ScreenReason.LOSS_REGRESSION,
        None,
        ScreenReason.LOSS_OUTLIER,
    ]
    off = rule.model_copy(update={"aligned_regression_cosine": None})
    assert forgive_aligned(off, regress, [0.3, 0.05, -0.9, 0.9]) == regress


def test_reference_mask_keeps_attackers_from_setting_the_scale() -> None:
    g = np.zeros(3)
    honest = np.array([1.0, 0.0, 0.0])
    huge = [np.array([0.0, 50.0, 0.0]), np.array([0.0, 0.0, 50.0])]
    rule = ValidationSpec()
    plain = update_stats(g, [honest, *huge], rule)
    assert plain.norm_ratios[0] <= rule.free_rider_ratio  # the honest update looks like a free rider
    masked = update_stats(g, [honest, *huge], rule, reference=[True, False, False])
    assert masked.norm_ratios[0] == pytest.approx(1.0) and masked.norm_ratios[1] > rule.max_norm_ratio


def test_label_flip_is_caught_when_the_voter_judges_on_its_train_split_too(
    digits_spec: TrainingLogicSpec,
) -> None:
    # screening off, so that only the loss checks judge
    digits_spec = digits_spec.model_copy(
        update={
            "validation": digits_spec.validation.model_copy(
                update={"max_norm_ratio": 1e6, "min_cosine": -1.0}
            )
        }
    )
    data = load_builtin("digits").train
    parts, _ = dirichlet(data.y, 4, 0.5, seed=1, min_size=80)
    splits = [
        private_split(data.subset(p), secret=b"s" * 16 + bytes([i]), task=b"t", test_fraction=0.2)
        for i, p in enumerate(parts)
    ]
    g = initial_tensors(digits_spec)
    for _ in range(5):
        g = train(digits_spec, g, data).tensors
    voter_train, voter_test = splits[0]
    files = []
    for i in (1, 2):
        blob = encode(train(digits_spec, g, splits[i][0], seed=i).tensors)
        files.append(ProposalFile(content_hash(blob), blob, len(splits[i][0])))
    # the attacker holds the voter's own data distribution, flipped: its model unlearns the voter's classes
    flipped = encode(malicious_proposal("label_flip", digits_spec, g, voter_train, seed=3))
    files.append(ProposalFile(content_hash(flipped), flipped, len(voter_train)))
    result = validate_round(digits_spec, g, files, voter_test, train=voter_train)
    reasons = {v.hash: v.reason for v in result.verdicts}
    assert reasons[content_hash(flipped)] == "loss_regression"
    # (honest rejections by this check are measured over whole runs in bench/sim/robustness.py)
    # without the train split the regression check is off (too noisy on a few dozen samples)
    alone = validate_round(digits_spec, g, files, voter_test)
    assert all(v.reason != "loss_regression" for v in alone.verdicts)
    # judged by what it adds to the aggregate of the accepted ones: the flipped model still drags it down
    in_aggregate = digits_spec.model_copy(
        update={"validation": digits_spec.validation.model_copy(update={"judge_in_aggregate": True})}
    )
    again = validate_round(in_aggregate, g, files, voter_test, train=voter_train)
    assert {v.hash: v.reason for v in again.verdicts}[content_hash(flipped)] == "loss_regression"


def test_the_aggregate_judgement_needs_two_accepted_proposals(digits_spec: TrainingLogicSpec) -> None:
    """With one accepted proposal as the reference, half a flipped update beside it can look helpful early
    in a task; the judgement is then not made, and only loss_regression verdicts are measured."""
    data = load_builtin("digits").train
    g = initial_tensors(digits_spec)
    honest = [Proposal(bytes([i]) * 32, train(digits_spec, g, data, seed=i).tensors, 1) for i in (1, 2)]
    flipped = Proposal(b"f" * 32, malicious_proposal("label_flip", digits_spec, g, data, seed=3), 1)
    judge = data.subset(np.arange(200))
    regression, against = ScreenReason.LOSS_REGRESSION, ScreenReason.LOSS_AGAINST_ROUND
    one = _contributions(digits_spec, g, [honest[0], flipped], [None, regression], judge)
    assert one == [None, None]
    two = _contributions(digits_spec, g, [*honest, flipped], [None, None, regression], judge)
    assert two[:2] == [None, None] and two[2] is not None and two[2] > 0  # the flip drags the mean down
    others = _contributions(digits_spec, g, [*honest, flipped], [None, None, against], judge)
    assert others == [None, None, None]


def test_dissent_needs_evidence(digits_spec: TrainingLogicSpec) -> None:
    """An aggregate of honest skewed updates that forgets the voter's classes: -1 only without the rule."""
    lenient = digits_spec.model_copy(
        update={
            "validation": digits_spec.validation.model_copy(
                update={
                    "max_norm_ratio": 1e6,
                    "min_cosine": -1.0,
                    "regression_floor": None,
                    "loss_outlier_z": 1e6,
                }
            )
        }
    )
    data = load_builtin("digits").train
    voter = data.subset(np.flatnonzero(data.y < 3))  # the voter holds classes 0-2 only
    others = data.subset(np.flatnonzero(data.y >= 5))  # the proposers hold 5-9 only
    g = train(lenient, initial_tensors(lenient), data).tensors
    for _ in range(3):
        g = train(lenient, g, data).tensors
    files = []
    for seed in range(3):
        blob = encode(train(lenient, g, others, seed=seed).tensors)
        files.append(ProposalFile(content_hash(blob), blob, len(others)))
    test = voter.subset(np.arange(60))
    strict = lenient.model_copy(
        update={"validation": lenient.validation.model_copy(update={"dissent_needs_evidence": False})}
    )
    before = validate_round(strict, g, files, test)
    assert all(v.accepted for v in before.verdicts) and before.vote.score == -1
    after = validate_round(lenient, g, files, test)
    assert after.vote.score == 0 and after.aggregate_hash == before.aggregate_hash


def test_a_regression_verdict_is_dropped_when_the_proposal_helps_the_aggregate() -> None:
    regression, against, outlier, offset = (
        ScreenReason.LOSS_REGRESSION,
        ScreenReason.LOSS_AGAINST_ROUND,
        ScreenReason.LOSS_OUTLIER,
        ScreenReason.OFFSET_BIAS,
    )
    reasons = [regression, against, outlier, offset, regression, None]
    contributions = [-0.02, -0.5, -0.1, -0.3, 0.04, None]
    # a helping contribution forgives a loss_regression verdict only (the other loss verdicts catch the
    # early label flips); a hurting or unmeasured one forgives nothing
    assert forgive_in_aggregate(reasons, contributions) == [None, against, outlier, offset, regression, None]
    assert forgive_in_aggregate([regression], [None]) == [regression]
    assert ValidationSpec().judge_in_aggregate is False


def test_aligned_losses_need_the_limit_and_half_the_rounds_median_cosine() -> None:
    rule = ValidationSpec().model_copy(update={"aligned_loss_cosine": 0.1})
    # later rounds: the others point the voter's way a little (median 0.14): 0.15 is aligned, 0.05 is not
    assert aligned_losses(rule, [0.15, 0.05, 0.12, 0.16]) == [True, False, True, True]
    # against the untrained pioneer every honest update shares its first features (cosines ~0.6): a label
    # flip's 0.2 is above the limit but under half the others' median, so its loss verdicts stand
    assert aligned_losses(rule, [0.2, 0.6, 0.65, 0.7]) == [False, True, True, True]
    assert aligned_losses(rule, [0.3]) == [True]  # alone: the limit only
    assert ValidationSpec().aligned_loss_cosine == 0.1  # the default
    off = ValidationSpec().model_copy(update={"aligned_loss_cosine": None})
    assert aligned_losses(off, [0.9, 0.9]) == [False, False]

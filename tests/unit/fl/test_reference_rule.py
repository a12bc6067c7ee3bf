"""The voter's own reference update, probation, copies, and the adaptive attacks (issue 11)."""

from __future__ import annotations

import numpy as np
import pytest

from flalliance.fl.aggregation.base import flatten
from flalliance.fl.attacks import ADAPTIVE, ALIE_Z, IPM_EPSILON, malicious_proposal
from flalliance.fl.datasets import load_builtin
from flalliance.fl.partition import dirichlet
from flalliance.fl.pioneer import initial_tensors
from flalliance.fl.private_split import private_split
from flalliance.fl.scoring import (
    OFFSET_MIN_Z,
    ReferenceStats,
    ScreenReason,
    offset_balance,
    offset_z,
    reference_stats,
    reference_verdicts,
)
from flalliance.fl.spec import TrainingLogicSpec, ValidationSpec
from flalliance.fl.training import train
from flalliance.fl.validation import ProposalFile, Verdict, index_verdicts, on_probation, validate_round
from flalliance.fl.weights import content_hash, encode

pytestmark = pytest.mark.unit


def test_reference_stats_against_the_voters_own_update() -> None:
    g = np.zeros(2)
    own = np.array([1.0, 0.0])
    stats = reference_stats(
        g, own, [np.array([2.0, 0.0]), np.array([-1.0, 0.0]), np.zeros(2)], [0.0, 0.5, 0.0]
    )
    assert stats.own_norm_ratios == [2.0, 1.0, 0.0]
    assert stats.own_cosines == [1.0, -1.0, 0.0]
    assert stats.mirror_gaps == [0.0, 0.5, 0.0]
    assert stats.offset_balances == [1.0, -1.0, -1.0]  # every difference from Δ_v leans one way
    assert stats.offset_zs == [1.0, -1.0, -1.0]  # one coordinate: never more than one "deviation"


def test_offset_balance_separates_a_shift_from_symmetric_noise() -> None:
    rng = np.random.default_rng(0)
    own = rng.standard_normal(5000)
    honest = own + rng.standard_normal(5000)  # another participant's update: differs by symmetric noise
    assert abs(offset_balance(honest, own)) < 0.05
    spread = np.abs(rng.standard_normal(5000))
    assert offset_balance(own + 0.5 * rng.standard_normal(5000) - spread, own) < -0.5  # ALIE: mean - z * std
    assert offset_balance(own, own) == 0.0
    assert abs(offset_z(honest, own)) < 3 and offset_z(own, own) == 0.0
    assert offset_z(own + 0.5 * rng.standard_normal(5000) - spread, own) < -20


def test_a_small_model_moving_all_its_weights_together_is_not_an_offset() -> None:
    """The ridge example's 11 weights: an honest proposal that went further than the voter's own update
    leans one way in every coordinate (balance 1) and is still no evidence of a shift: z = sqrt(11)."""
    own = np.linspace(0.1, 1.0, 11)
    further = 1.3 * own
    assert offset_balance(further, own) == pytest.approx(1.0)
    assert offset_z(further, own) < OFFSET_MIN_Z
    stats = reference_stats(np.zeros(11), own, [further], [0.0])
    assert reference_verdicts(stats, ValidationSpec(), [False], [-0.1]) == [None]
    wide = np.linspace(0.1, 1.0, 650)  # the same lean over the digits model's 650 weights: z 22
    stats = reference_stats(np.zeros(650), wide, [1.3 * wide], [0.0])
    assert reference_verdicts(stats, ValidationSpec(), [False], [-0.1]) == [ScreenReason.OFFSET_BIAS]


def test_reference_verdicts_and_the_stricter_limits_on_probation() -> None:
    rule = ValidationSpec()
    stats = ReferenceStats(
        own_norm_ratios=[rule.max_own_norm_ratio + 1, 1.0, 1.0, 1.0, 1.0],
        own_cosines=[0.5, rule.min_own_cosine - 0.01, 0.5, -0.05, 0.5],
        mirror_gaps=[0.0, 0.0, rule.mirror_margin + 0.01, 0.0, rule.probation_mirror_margin + 0.01],
        offset_balances=[0.0] * 5,
        offset_zs=[0.0] * 5,
    )
    assert reference_verdicts(stats, rule, [False] * 5, [0.1] * 5) == [
        ScreenReason.REFERENCE_NORM,
        ScreenReason.REFERENCE_DIRECTION,
        ScreenReason.MIRRORED_BETTER,
        None,  # slightly against the voter's update: tolerated (non-IID honest updates often are)
        None,  # the mirror fits a little better: tolerated
    ]
    # on probation any evidence against counts
    assert reference_verdicts(stats, rule, [False] * 5, [-0.1] * 5)[1:] == [None] * 4  # it helps the voter
    limits_only = rule.model_copy(update={"probation_min_gain": None})
    assert reference_verdicts(stats, limits_only, [True] * 5, [0.1] * 5)[3:] == [
        ScreenReason.REFERENCE_DIRECTION,
        ScreenReason.MIRRORED_BETTER,
    ]
    # with the gain requirement (the default) a loss rise on probation is a rejection by itself
    assert reference_verdicts(stats, rule, [True] * 5, [0.1] * 5)[3:] == [ScreenReason.PROBATION_GAIN] * 2
    assert rule.max_offset_balance is not None
    balances = [-rule.max_offset_balance - 0.01, 0.2, 0.9, 0.9]
    shifted = ReferenceStats([1.0] * 4, [0.9] * 4, [0.0] * 4, balances, [-20.0, 5.0, 20.0, 3.9])
    # held even when the proposal helps the voter: ALIE sits near the benign mean; not when it is within
    # what random signs give (the last: z below OFFSET_MIN_Z)
    assert reference_verdicts(shifted, rule, [False] * 4, [-0.1] * 4) == [
        ScreenReason.OFFSET_BIAS,
        None,
        ScreenReason.OFFSET_BIAS,
        None,
    ]
    off = rule.model_copy(update={"max_offset_balance": None})
    assert reference_verdicts(shifted, off, [False] * 4, [-0.1] * 4) == [None] * 4


def test_on_probation_a_proposal_must_lower_the_voters_loss_and_point_its_way() -> None:
    """A sign flip of a small update barely moves a voter's loss: outside probation that passes (the
    direction limits need a loss rise); on probation it must show a gain and a direction."""
    rule = ValidationSpec()
    assert rule.probation_min_gain is not None
    stats = ReferenceStats([1.0] * 4, [0.5, 0.5, -0.05, 0.5], [0.0] * 4, [0.0] * 4, [0.0] * 4)
    changes = [0.001, -rule.probation_min_gain - 0.001, -0.05, -0.05]
    assert reference_verdicts(stats, rule, [False] * 4, changes) == [None] * 4
    assert reference_verdicts(stats, rule, [True] * 4, changes) == [
        ScreenReason.PROBATION_GAIN,  # no gain on the voter's data
        None,  # a gain, in the voter's direction
        ScreenReason.REFERENCE_DIRECTION,  # a gain, but against the voter's own update
        None,
    ]
    off = rule.model_copy(update={"probation_min_gain": None})
    assert reference_verdicts(stats, off, [True] * 4, changes) == [None] * 4


def test_probation_from_the_public_record() -> None:
    assert not on_probation(0, 0)
    assert not on_probation(3, 1)
    # one early rejection of an honest proposer is not enough, nor a record as often accepted as not
    assert not on_probation(0, 1) and not on_probation(1, 2) and not on_probation(4, 8)
    assert on_probation(0, 2) and on_probation(2, 5) and on_probation(1, 3)


def test_a_copied_proposal_is_rejected_after_its_first_occurrence() -> None:
    a, b = b"a" * 32, b"b" * 32
    verdicts = [Verdict(a, True), Verdict(b, False)]
    assert index_verdicts(verdicts, [a, b, a, b"c" * 32]) == [True, False, False, False]


@pytest.fixture
def federation(digits_spec: TrainingLogicSpec) -> tuple[list[tuple], object]:
    data = load_builtin("digits").train
    # near-IID: under strong label skew one voter may rightly doubt an honest update (the majority decides)
    parts, _ = dirichlet(data.y, 4, 100.0, seed=1, min_size=80)
    splits = [
        private_split(data.subset(p), secret=b"s" * 16 + bytes([i]), task=b"t", test_fraction=0.2)
        for i, p in enumerate(parts)
    ]
    g = initial_tensors(digits_spec)
    for _ in range(2):
        g = train(digits_spec, g, data).tensors
    return splits, g


def test_sign_flip_is_caught_by_the_reference_even_when_it_is_most_of_the_round(
    digits_spec: TrainingLogicSpec, federation: tuple[list[tuple], object]
) -> None:
    splits, g = federation
    voter_train, voter_test = splits[0]
    honest = encode(train(digits_spec, g, splits[1][0], seed=1).tensors)
    flips = [encode(malicious_proposal("sign_flip", digits_spec, g, splits[i][0], seed=i)) for i in (2, 3)]
    files = [ProposalFile(content_hash(b), b, 100) for b in (honest, *flips)]
    result = validate_round(digits_spec, g, files, voter_test, train=voter_train)
    by_hash = {v.hash: v for v in result.verdicts}
    assert by_hash[content_hash(honest)].accepted
    for blob in flips:
        v = by_hash[content_hash(blob)]
        assert not v.accepted and v.own_cosine is not None and v.own_cosine < 0
    off = digits_spec.model_copy(
        update={"validation": digits_spec.validation.model_copy(update={"reference_update": False})}
    )
    plain = validate_round(off, g, files, voter_test, train=voter_train)
    assert all(v.own_cosine is None for v in plain.verdicts)


def test_adaptive_attacks_stay_close_to_the_benign_updates(
    digits_spec: TrainingLogicSpec, federation: tuple[list[tuple], object]
) -> None:
    splits, g = federation
    data = splits[3][0]
    peers = [train(digits_spec, g, splits[i][0], seed=i).tensors for i in (1, 2)]
    own = train(digits_spec, g, data, seed=7).tensors
    gv = flatten(g)
    updates = np.stack([flatten(t) - gv for t in (*peers, own)])
    mean, std = updates.mean(axis=0), updates.std(axis=0)
    alie = flatten(malicious_proposal("alie", digits_spec, g, data, seed=7, peers=peers)) - gv
    np.testing.assert_allclose(alie, mean - ALIE_Z * std, rtol=1e-4, atol=1e-5)
    ipm = flatten(malicious_proposal("ipm", digits_spec, g, data, seed=7, peers=peers)) - gv
    np.testing.assert_allclose(ipm, -IPM_EPSILON * mean, rtol=1e-4, atol=1e-5)
    assert float(ipm @ mean) < 0 and np.linalg.norm(ipm) < np.linalg.norm(updates, axis=1).min()
    # a lone attacker estimates the spread from shards of its own data: still finite and near its update
    for attack in sorted(ADAPTIVE):
        alone = malicious_proposal(attack, digits_spec, g, data, seed=7)
        assert all(np.isfinite(t).all() and t.shape == g[n].shape for n, t in alone.items())


def test_reference_gain_rejects_a_proposal_that_wins_back_little_of_the_voters_own_gain() -> None:
    from flalliance.fl.scoring import ScreenReason, gain_verdicts
    from flalliance.fl.spec import ValidationSpec

    rule = ValidationSpec(min_reference_gain=0.25)
    # round 0 of the LoRA task: the global model at 7.0 nats, the voter's own update reaches 5.3
    out = gain_verdicts(rule, [5.36, 6.83, 6.40], baseline_loss=7.0, own_loss=5.3)
    assert out == [None, ScreenReason.REFERENCE_GAIN, None]  # 0.17 of 1.7 regained; 0.6 is over 0.425
    assert gain_verdicts(ValidationSpec(), [6.99], 7.0, 5.3) == [None]  # off by default
    assert gain_verdicts(rule, [7.5], 7.0, 6.7) == [None]  # own gain 4% of the loss: noise, no verdict


def test_reference_gain_is_left_out_of_the_hash_while_off() -> None:
    import json

    from flalliance.fl.spec import canonical_json, parse_spec

    doc = {
        "dataset": {"source": "digits", "feature_shape": [64], "num_classes": 10},
        "model": {"kind": "logreg"},
        "training": {"epochs": 1, "batch_size": 8, "optimizer": {"learning_rate": 0.1}},
    }
    assert b"min_reference_gain" not in canonical_json(parse_spec(json.dumps(doc)))
    on = parse_spec(json.dumps({**doc, "validation": {"min_reference_gain": 0.25}}))
    assert b'"min_reference_gain":0.25' in canonical_json(on)

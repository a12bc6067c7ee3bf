from __future__ import annotations

import numpy as np
import pytest

from flalliance.fl.attacks import malicious_proposal
from flalliance.fl.dataset import Dataset
from flalliance.fl.datasets import load_builtin
from flalliance.fl.partition import dirichlet
from flalliance.fl.pioneer import initial_tensors
from flalliance.fl.private_split import private_split
from flalliance.fl.scoring import aggregate_vote, loss_verdicts, noise_margin, screen, update_stats
from flalliance.fl.spec import MetricSpec, TrainingLogicSpec, ValidationSpec
from flalliance.fl.training import evaluate, train
from flalliance.fl.validation import ProposalFile, validate_round
from flalliance.fl.weights import content_hash, encode

pytestmark = pytest.mark.unit

ACC = MetricSpec()
RULE = ValidationSpec()


def test_screen_free_riders_outliers_and_direction() -> None:
    g = np.zeros(4)
    honest = [np.array([1.0, 1.0, 0.1 * i, 0.0]) for i in range(5)]
    props = [*honest, g.copy(), np.array([30.0, 30.0, 0.0, 0.0]), np.array([-1.0, -1.0, 0.0, 0.0])]
    stats = update_stats(g, props, RULE)
    reasons = screen(stats, RULE)
    assert reasons[:5] == [None] * 5
    assert [r.value for r in reasons[5:] if r] == ["free_rider", "update_norm_outlier", "update_direction"]


def test_loss_outliers_are_relative_to_the_round() -> None:
    assert loss_verdicts(RULE, [1.0, 1.1, 0.9, 1.05, 5.0])[-1] is not None
    assert loss_verdicts(RULE, [1.0, 1.1, 0.9, 1.05, 1.15]) == [None] * 5
    assert loss_verdicts(RULE, [1.0, 9.0]) == [None, None]  # too few for a reference


def test_vote_margin_and_sign() -> None:
    margin = noise_margin(ACC, RULE, 0.5, 100)
    assert margin == pytest.approx(2 * 0.05)  # 2 standard errors of 50% on 100 samples
    assert aggregate_vote(ACC, RULE, 0.5, 0.65, 100).score == 1
    assert aggregate_vote(ACC, RULE, 0.5, 0.55, 100).score == 0  # inside the noise margin
    assert aggregate_vote(ACC, RULE, 0.5, 0.35, 100).score == -1
    assert aggregate_vote(ACC, RULE, 0.5, None, 100).score == -1
    loss = MetricSpec(name="cross_entropy", direction="minimize")
    assert aggregate_vote(loss, RULE, 1.0, 0.5, 100).score == 1


@pytest.fixture(scope="module")
def round_inputs() -> tuple[list[Dataset], Dataset]:
    data = load_builtin("digits").train
    parts, _ = dirichlet(data.y, 6, 0.5, seed=0, min_size=60)
    splits = [
        private_split(data.subset(p), secret=b"s" * 16 + bytes([i]), task=b"t", test_fraction=0.2)
        for i, p in enumerate(parts)
    ]
    return [tr for tr, _ in splits], splits[0][1]


def test_validate_round_rejects_attacks_and_never_crashes(
    digits_spec: TrainingLogicSpec, round_inputs: tuple[list[Dataset], Dataset]
) -> None:
    trains, test = round_inputs
    g = initial_tensors(digits_spec)
    for _ in range(3):  # a few warm-up rounds so the global model is not random
        g = train(
            digits_spec,
            g,
            Dataset(np.concatenate([t.x for t in trains]), np.concatenate([t.y for t in trains])),
        ).tensors
    files, kinds = [], {}

    def add(tensors: dict[str, np.ndarray] | bytes, kind: str, n: int = 50) -> None:
        data = tensors if isinstance(tensors, bytes) else encode(tensors)
        h = content_hash(data)
        kinds[h] = kind
        files.append(ProposalFile(h, data, n))

    for i, tr in enumerate(trains[1:]):
        add(train(digits_spec, g, tr, seed=i).tensors, "honest", len(tr))
    for attack in ("gaussian", "scaled", "free_rider", "random"):
        add(malicious_proposal(attack, digits_spec, g, trains[1], seed=9), attack)  # type: ignore[arg-type]
    add(b"\x80\x04garbage", "pickle")
    add(encode(g)[:-3], "truncated")
    files.append(ProposalFile(b"\x11" * 32, None))
    kinds[b"\x11" * 32] = "missing"
    bad_hash = encode(g)
    files.append(ProposalFile(b"\x22" * 32, bad_hash))
    kinds[b"\x22" * 32] = "hash"

    result = validate_round(digits_spec, g, files, test)
    by_kind = {kinds[v.hash]: v for v in result.verdicts}
    assert all(v.accepted for v in result.verdicts if kinds[v.hash] == "honest")
    assert by_kind["gaussian"].reason == "update_norm_outlier"
    assert by_kind["scaled"].reason == "update_norm_outlier"
    assert by_kind["random"].reason == "update_norm_outlier"
    assert by_kind["free_rider"].reason == "free_rider"
    assert by_kind["pickle"].reason == "pickle_refused"
    assert by_kind["truncated"].reason == "bad_header"
    assert by_kind["missing"].reason == "missing_from_store"
    assert by_kind["hash"].reason == "hash_mismatch"
    honest = sorted(h for h, k in kinds.items() if k == "honest")
    assert result.included == honest
    assert (
        result.aggregate_bytes is not None and content_hash(result.aggregate_bytes) == result.aggregate_hash
    )
    assert result.aggregate_metric == evaluate(digits_spec, result.aggregate or {}, test)
    assert result.vote.score in (-1, 0, 1)

    everything = validate_round(digits_spec, g, files, test, include="all")
    assert len(everything.included) == len(honest) + 4  # every well-formed file, FLock-style
    assert everything.aggregate_hash != result.aggregate_hash


def test_validate_round_with_nothing_acceptable(
    digits_spec: TrainingLogicSpec, round_inputs: tuple[list[Dataset], Dataset]
) -> None:
    _, test = round_inputs
    g = initial_tensors(digits_spec)
    result = validate_round(digits_spec, g, [ProposalFile(content_hash(b"junk"), b"junk")], test)
    assert result.aggregate is None and result.vote.score == -1 and result.included == []
    assert result.verdicts[0].reason == "truncated"

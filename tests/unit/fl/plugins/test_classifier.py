"""The classifier plugin's balanced cross-entropy (logit adjustment for label-skewed participants)."""

from __future__ import annotations

import numpy as np
import pytest

from flalliance.fl.dataset import Dataset
from flalliance.fl.datasets import load_builtin
from flalliance.fl.pioneer import initial_tensors
from flalliance.fl.plugins.classifier import label_prior_log
from flalliance.fl.spec import TrainingLogicSpec
from flalliance.fl.training import loss, train

pytestmark = pytest.mark.unit


def test_label_prior_is_the_smoothed_local_label_mix() -> None:
    prior = label_prior_log(np.array([0, 0, 0, 1]), 3).numpy()
    assert np.exp(prior) == pytest.approx([4 / 7, 2 / 7, 1 / 7])  # (count + 1) / (n + C)
    assert np.exp(prior).sum() == pytest.approx(1.0)


def test_a_skewed_participant_damages_the_classes_it_lacks_less(digits_spec: TrainingLogicSpec) -> None:
    """Trained on three digits only, the plain loss pushes every other digit's logit down and the model
    forgets them (what made honest skewed proposals look like attacks to voters holding other digits);
    the balanced loss learns those three digits as well and leaves the others far less damaged."""
    data = load_builtin("digits")
    x, y = data.train.x, data.train.y
    own = np.isin(y, [0, 1, 2])
    local, others = Dataset(x[own], y[own]), Dataset(x[~own], y[~own])
    start = train(digits_spec, initial_tensors(digits_spec, seed=0), Dataset(x, y), seed=0).tensors
    assert digits_spec.training is not None
    balanced = digits_spec.training.model_copy(update={"loss": "balanced_cross_entropy"})
    balanced_spec = digits_spec.model_copy(update={"training": balanced})
    plain = train(digits_spec, start, local, seed=1).tensors
    adjusted = train(balanced_spec, start, local, seed=1).tensors
    base = loss(digits_spec, start, others)
    assert loss(digits_spec, plain, others) - base > 2 * (loss(digits_spec, adjusted, others) - base)
    assert loss(digits_spec, adjusted, local) < loss(digits_spec, start, local)  # it still learns its own

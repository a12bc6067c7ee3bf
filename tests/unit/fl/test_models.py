from __future__ import annotations

import numpy as np
import pytest
import torch

from flalliance.fl.models import architecture, build_model, model_bytes
from flalliance.fl.pioneer import initial_model_bytes, initial_tensors
from flalliance.fl.spec import (
    DatasetSpec,
    LogRegSpec,
    McMahan2NNSpec,
    McMahanCNNSpec,
    MLPSpec,
    ModelSpec,
    TrainingLogicSpec,
)
from flalliance.fl.weights import content_hash

pytestmark = pytest.mark.unit

MNIST = DatasetSpec(source="fashion_mnist", feature_shape=(1, 28, 28), num_classes=10)


def _spec(model: ModelSpec, dataset: DatasetSpec = MNIST) -> TrainingLogicSpec:
    return TrainingLogicSpec.model_validate(
        {
            "dataset": dataset,
            "model": model,
            "training": {"epochs": 1, "batch_size": 8, "optimizer": {"learning_rate": 0.1}},
        }
    )


@pytest.mark.parametrize(
    ("model", "params"),
    [
        (LogRegSpec(), 7_850),
        (MLPSpec(hidden=(64,)), 50_890),
        (McMahan2NNSpec(), 199_210),
        (McMahanCNNSpec(), 1_663_370),  # McMahan et al. 2017's CNN on MNIST
    ],
)
def test_architectures(model: ModelSpec, params: int) -> None:
    arch = architecture(_spec(model))
    assert model_bytes(arch) == 4 * params
    net = build_model(model, MNIST)
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_cnn_accepts_flat_square_images() -> None:
    digits = DatasetSpec(source="digits", feature_shape=(64,), num_classes=10)
    net = build_model(McMahanCNNSpec(conv1=4, conv2=8, hidden=16), digits)
    assert net(torch.zeros(3, 64)).shape == (3, 10)
    with pytest.raises(ValueError, match="not an image"):
        build_model(McMahanCNNSpec(), DatasetSpec(source="wine", feature_shape=(13,), num_classes=3))


def test_pioneer_is_deterministic_and_seeded() -> None:
    spec = _spec(MLPSpec(hidden=(32,)))
    torch.manual_seed(123)  # the global RNG must not matter
    first = initial_model_bytes(spec)
    torch.rand(10)
    assert initial_model_bytes(spec) == first
    assert initial_model_bytes(spec, seed=1) != first
    assert content_hash(first) == content_hash(initial_model_bytes(spec))
    tensors = initial_tensors(spec)
    assert set(tensors) == set(architecture(spec)) and all(t.dtype == np.float32 for t in tensors.values())

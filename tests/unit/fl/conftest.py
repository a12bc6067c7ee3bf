from __future__ import annotations

import pytest
import torch

from flalliance.fl.spec import DatasetSpec, MLPSpec, OptimizerSpec, TrainingLogicSpec, TrainingSpec

torch.set_num_threads(1)


@pytest.fixture
def digits_spec() -> TrainingLogicSpec:
    return TrainingLogicSpec(
        dataset=DatasetSpec(source="digits", feature_shape=(64,), num_classes=10),
        model=MLPSpec(hidden=(16,)),
        training=TrainingSpec(epochs=1, batch_size=16, optimizer=OptimizerSpec(learning_rate=0.1)),
    )

"""Small generated degradation data and one quickly trained model, shared by the tests."""

from __future__ import annotations

import pytest

from werk.maintenance import (
    GbmParams,
    ModelConfig,
    TrainedModel,
    simulate_subset,
    train,
)
from werk.maintenance.cmapss import Subset

# Few rounds and one seed: the tests check behaviour, not the last cycle of accuracy.
FAST = ModelConfig(gbm=GbmParams(rounds=60, seeds=1), validation_fraction=0.25)


@pytest.fixture(scope="session")
def subset() -> Subset:
    return simulate_subset(18, 16, seed=3)


@pytest.fixture(scope="session")
def trained(subset: Subset) -> TrainedModel:
    return train(subset.train, FAST, source={"format": "synthetic"})

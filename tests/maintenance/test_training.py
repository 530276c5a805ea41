import json

import numpy as np
import pytest

from werk.maintenance import ModelNotFound, ModelRegistry, load_model, simulate_subset, train
from werk.maintenance.cmapss import rmse
from werk.maintenance.training import evaluate_last_cycle, split_runs

from .conftest import FAST


def test_beats_a_naive_baseline_by_a_clear_margin(trained, subset):
    truth = np.minimum(subset.test_rul, 125.0)
    # naive: every engine gets the mean remaining life of the training cycles
    naive = rmse(np.full(len(truth), subset.train.remaining_life(125.0).mean()), truth)
    result = evaluate_last_cycle(trained, subset.test, subset.test_rul, cap=125.0)
    assert result["rmse"] < 0.5 * naive
    assert result["count"] == len(truth)
    assert 0.0 <= result["coverage"] <= 1.0


def test_several_operating_conditions_with_the_same_defaults():
    subset = simulate_subset(24, 20, conditions=6, seed=5)
    model = train(subset.train, FAST)
    assert model.metadata["features"]["operating_conditions"] == 6
    naive = rmse(
        np.full(len(subset.test_rul), subset.train.remaining_life(125.0).mean()),
        np.minimum(subset.test_rul, 125.0),
    )
    result = evaluate_last_cycle(model, subset.test, subset.test_rul, cap=125.0)
    assert result["rmse"] < 0.5 * naive


def test_validation_split_is_by_run(subset):
    fit, held = split_runs(subset.train, 0.25, seed=0)
    assert not set(fit.runs) & set(held.runs)
    assert len(fit) + len(held) == len(subset.train)


def test_prediction_interval_holds_the_point(trained, subset):
    prediction = trained.predict_last(subset.test)
    assert np.all(prediction.lower <= prediction.rul)
    assert np.all(prediction.rul <= prediction.upper)
    assert np.all(prediction.lower >= 0) and np.all(prediction.rul <= 125.0)
    health = trained.health_index(prediction.rul)
    assert np.all((health >= 0) & (health <= 1))


def test_save_and_load_round_trip_with_metadata(trained, subset, tmp_path):
    registry = ModelRegistry(tmp_path / "turbofan")
    first = registry.save(trained)
    second = registry.save(trained)
    assert (first.name, second.name) == ("v1", "v2")
    assert registry.versions() == ["v1", "v2"]
    metadata = json.loads((second / "metadata.json").read_text())
    assert metadata["version"] == "turbofan/v2"
    assert metadata["werk_version"]
    assert metadata["created"].endswith("Z")
    assert metadata["data"]["runs"] == len(subset.train.runs)
    assert metadata["data"]["cycle_range"][0] == 1.0
    assert metadata["features"]["count"] == len(trained.pipeline.names)
    assert {"every_cycle", "one_cut_per_run"} <= set(metadata["metrics"]["validation"])
    assert not any(name.endswith((".pkl", ".joblib")) for name in metadata["files"])

    loaded = registry.load()  # the newest
    assert loaded.version == "turbofan/v2"
    before = trained.predict_last(subset.test)
    after = load_model(tmp_path / "turbofan" / "v1").predict_last(subset.test)
    np.testing.assert_allclose(after.rul, before.rul)
    np.testing.assert_allclose(after.lower, before.lower)
    np.testing.assert_allclose(after.upper, before.upper)
    assert loaded.reference is not None


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFound):
        load_model(tmp_path)
    with pytest.raises(ModelNotFound, match="no saved model"):
        ModelRegistry(tmp_path / "nothing").load("v7")

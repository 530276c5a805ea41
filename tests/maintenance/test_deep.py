"""The 1D-CNN (extra ``deep``): windows, training with progress, interval, files, serving.

Tiny generated data and two epochs: these check behaviour, not accuracy (docs/benchmarks.md has
FD001's figures).
"""

import json
import sys

import numpy as np
import pytest

from werk.core import NS_PER_S, MemoryBus, MissingExtraError, SampleBatch, SimulatedClock
from werk.maintenance import (
    AssetBinding,
    MaintenanceService,
    ModelConfig,
    ModelRegistry,
    load_model,
    simulate_subset,
    train,
)
from werk.maintenance.cmapss import SENSOR_NAMES
from werk.maintenance.deep import CnnParams, windows
from werk.maintenance.errors import DatasetError
from werk.maintenance.features import fit_features
from werk.maintenance.histories import Histories

TINY = ModelConfig(
    kind="cnn",
    validation_fraction=0.25,
    cnn=CnnParams(epochs=2, filters=4, dense=16, mc_samples=8, batch_size=128),
)


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch", reason="the 1D-CNN needs werk[deep] (torch==2.13.0)")


@pytest.fixture(scope="module")
def small():
    return simulate_subset(8, 6, seed=11)


@pytest.fixture(scope="module")
def steps():
    return []


@pytest.fixture(scope="module")
def cnn(torch, small, steps):
    return train(small.train, TINY, progress=lambda step, done: steps.append((step, done)))


def test_windows_end_at_their_row_and_never_cross_runs(small):
    histories = small.train.select(small.train.runs[:2])
    pipeline = fit_features(histories, histories.remaining_life(125.0))
    z = pipeline.normalise(histories)
    w = windows(pipeline, histories, 5)
    assert w.shape == (len(histories), len(pipeline.kept), 5)
    (start, end), (second, _) = histories.bounds()
    np.testing.assert_allclose(w[start + 10], z[start + 6 : start + 11].T)  # the last 5 rows
    np.testing.assert_allclose(w[start], np.repeat(z[start][:, None], 5, axis=1))  # padded
    np.testing.assert_allclose(w[second + 1, :, :3], np.repeat(z[second][:, None], 3, axis=1))
    np.testing.assert_allclose(w[second + 1, :, 4], z[second + 1])
    rows = np.asarray([end - 1, second + 3])
    np.testing.assert_array_equal(windows(pipeline, histories, 5, rows), w[rows])


def test_trains_with_epoch_progress_and_a_validation_curve(cnn, steps):
    epochs = [s for s, _ in steps if "epoch" in s]
    assert epochs[0].startswith("validation: epoch 1/2, validation RMSE")
    assert epochs[-1] == "final: epoch 2/2"
    done = [d for _, d in steps]
    assert done == sorted(done) and done[-1] == 1.0
    validation = cnn.metadata["metrics"]["validation"]
    assert len(validation["rmse_per_epoch"]) == 2
    described = cnn.metadata["model"]
    assert described["kind"] == "cnn"
    assert described["device"] in {"cpu", "cuda"}
    assert described["inputs"] == {"sensors": len(cnn.pipeline.kept), "window": 30}
    assert "gbm" not in described["config"] and "cnn" not in described["config"]


def test_interval_holds_the_point_and_is_conformalised(cnn, small):
    prediction = cnn.predict_last(small.test)
    assert len(prediction) == len(small.test_rul)
    assert np.all(prediction.lower <= prediction.rul)
    assert np.all(prediction.rul <= prediction.upper)
    assert np.all(prediction.lower >= 0) and np.all(prediction.rul <= 125.0)
    assert len(cnn.model.margin) == 3
    # the last row of each run, and the same rows out of a prediction at every row
    every = cnn.predict(small.test)
    np.testing.assert_allclose(every.rul[small.test.last_rows()], prediction.rul, rtol=1e-5)


def test_saved_with_its_state_dict_and_loaded_back(cnn, small, tmp_path):
    directory = ModelRegistry(tmp_path / "engine").save(cnn)
    metadata = json.loads((directory / "metadata.json").read_text())
    assert metadata["version"] == "engine/v1"
    assert {"cnn.pt", "cnn.json"} <= set(metadata["files"])
    assert not any(name.endswith((".pkl", ".joblib")) for name in metadata["files"])
    loaded = load_model(tmp_path / "engine")
    before, after = cnn.predict_last(small.test), loaded.predict_last(small.test)
    np.testing.assert_allclose(after.rul, before.rul, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(after.lower, before.lower, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(after.upper, before.upper, rtol=1e-5, atol=1e-4)


def test_same_seed_same_model(cnn, small):
    again = train(small.train, TINY)
    np.testing.assert_allclose(
        again.predict_last(small.test).rul, cnn.predict_last(small.test).rul, rtol=1e-5
    )


async def test_serving_predicts_from_the_window(cnn, small):
    first = small.test.select(small.test.runs[:1])
    signals = [f"e1.{n}" for n in SENSOR_NAMES]
    binding = AssetBinding("engine1", dict(zip(SENSOR_NAMES, signals, strict=True)), cycle_s=1.0)
    clock = SimulatedClock(0)
    published = []

    async def emit(event):
        published.append(event)

    service = MaintenanceService(MemoryBus(), emit, clock, cnn, [binding])
    for row in range(len(first)):
        stamps = [row * NS_PER_S] * len(signals)
        service.ingest(SampleBatch.from_columns(signals, stamps, first.sensors[row]))
    clock.advance(len(first))
    await service.predict_all()

    # settings not bound read as 0: the same run, so, predicted offline
    unbound = Histories(
        first.run, first.cycle, np.zeros_like(first.settings), first.sensors,
        first.setting_names, first.sensor_names,
    )  # fmt: skip
    expected = cnn.predict_last(unbound)
    assert published[0].kind == "maintenance.rul"
    assert published[0].data["cycle"] == len(first)
    assert published[0].data["rul"] == pytest.approx(float(expected.rul[0]), abs=1e-3)
    assert published[0].data["rul_lower"] == pytest.approx(float(expected.lower[0]), abs=1e-3)


def test_config_names_the_kind_and_its_settings():
    from werk.maintenance.config import job_from_dict

    job = job_from_dict(
        {"data": {"path": "."}, "model": {"kind": "cnn", "cnn": {"epochs": 7, "window": 20}}}
    )
    assert job.model.kind == "cnn"
    assert (job.model.cnn.epochs, job.model.cnn.window) == (7, 20)
    with pytest.raises(DatasetError, match=r"unknown model\.cnn option"):
        job_from_dict({"data": {}, "model": {"cnn": {"epoch": 7}}})
    with pytest.raises(DatasetError, match="odd"):
        CnnParams(kernel=10)


def test_without_torch_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    histories: Histories = simulate_subset(4, 1, seed=1).train
    with pytest.raises(MissingExtraError, match="deep"):
        train(histories, TINY)

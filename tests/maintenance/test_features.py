import numpy as np
import pytest

from werk.maintenance import DatasetError, FeatureConfig, Histories, fit_features, simulate
from werk.maintenance.conditions import find_conditions


def _one_run(values: list[float], second: list[float] | None = None) -> Histories:
    n = len(values)
    columns = [values, second if second is not None else [5.0] * n]
    return Histories(
        run=np.ones(n, np.int64),
        cycle=np.arange(1, n + 1, dtype=np.float64),
        settings=np.zeros((n, 0)),
        sensors=np.asarray(columns, np.float64).T,
        setting_names=(),
        sensor_names=("a", "flat"),
    )


def test_window_features_by_hand():
    # a = 0, 2, 4, 6, 8: mean 4 and std sqrt(8) overall, so z = (x - 4) / sqrt(8).
    histories = _one_run([0.0, 2.0, 4.0, 6.0, 8.0])
    config = FeatureConfig(
        mean_windows=(2,),
        std_windows=(3,),
        slope_windows=(3,),
        ewm_spans=(3,),
        baseline_cycles=2,
        fused=False,
    )
    pipeline = fit_features(histories, np.zeros(5), config)
    assert pipeline.kept_names == ("a",)  # a constant sensor carries no trend
    assert pipeline.names == (
        "a_mean2",
        "a_std3",
        "a_slope3",
        "a_ewm3",
        "a_drift",
        "cycle",
    )
    features = pipeline.transform(histories)
    z = (np.array([0.0, 2.0, 4.0, 6.0, 8.0]) - 4.0) / np.sqrt(8.0)
    step = 2.0 / np.sqrt(8.0)
    # rolling mean over 2 (the first row has only itself)
    np.testing.assert_allclose(features[:, 0], [z[0], *((z[:-1] + z[1:]) / 2)])
    # rolling std over 3 (population): 0, then one step apart, then three in a row
    np.testing.assert_allclose(features[:, 1], [0.0, step / 2, *[step * np.sqrt(2 / 3)] * 3])
    # slope per cycle: 0 with one point, then exactly one step
    np.testing.assert_allclose(features[:, 2], [0.0, step, step, step, step])
    # exponential average with alpha = 2 / (3 + 1) = 0.5
    ewm = [z[0]]
    for value in z[1:]:
        ewm.append(ewm[-1] + 0.5 * (value - ewm[-1]))
    np.testing.assert_allclose(features[:, 3], ewm)
    # drift: the slow average minus the mean of the run's first 2 cycles
    baseline = np.array([z[0], (z[0] + z[1]) / 2, *[(z[0] + z[1]) / 2] * 3])
    np.testing.assert_allclose(features[:, 4], np.asarray(ewm) - baseline)
    np.testing.assert_allclose(features[:, 5], [1, 2, 3, 4, 5])


def test_features_are_causal():
    full = _one_run([1.0, 3.0, 2.0, 5.0, 4.0, 7.0, 6.0], [1.0, 2.0, 1.5, 3.0, 2.0, 4.0, 3.5])
    pipeline = fit_features(full, np.arange(7.0)[::-1])
    head = full.take(slice(0, 4))
    np.testing.assert_allclose(pipeline.transform(head), pipeline.transform(full)[:4])


def test_missing_readings_are_carried_forward():
    clean = _one_run([1.0, 2.0, 3.0, 3.0, 5.0], [1.0, 2.0, 1.0, 2.0, 1.0])
    pipeline = fit_features(clean, np.arange(5.0))
    gappy = _one_run([1.0, 2.0, 3.0, np.nan, 5.0], [1.0, 2.0, 1.0, 2.0, 1.0])
    np.testing.assert_allclose(pipeline.transform(gappy), pipeline.transform(clean))


def test_operating_conditions_are_found_and_normalised():
    histories = simulate(12, conditions=6, seed=1)
    assert find_conditions(histories.settings).count == 6
    single = simulate(12, conditions=1, seed=1)
    assert find_conditions(single.settings).count == 1  # noise around one point is one condition
    pipeline = fit_features(histories, histories.remaining_life(125.0))
    z = pipeline.normalise(histories)
    labels = pipeline.conditions.assign(histories.settings)
    for condition in range(6):  # every condition centred and scaled on its own
        block = z[labels == condition]
        np.testing.assert_allclose(block.mean(axis=0), 0.0, atol=1e-9)
        np.testing.assert_allclose(block.std(axis=0), 1.0, atol=1e-9)
    # the sensors that move with wear are kept, the constant ones dropped
    assert len(pipeline.kept) == 10


def test_pipeline_round_trips_through_json():
    histories = simulate(6, conditions=3, seed=2)
    pipeline = fit_features(histories, histories.remaining_life(125.0))
    again = type(pipeline).from_dict(pipeline.to_dict())
    np.testing.assert_allclose(again.transform(histories), pipeline.transform(histories))


def test_other_sensors_than_trained_on_are_refused():
    histories = simulate(4, seed=2)
    pipeline = fit_features(histories, histories.remaining_life(125.0))
    other = _one_run([1.0, 2.0, 3.0])
    with pytest.raises(DatasetError) as raised:
        pipeline.transform(other)
    assert raised.value.rule == "same-sensors-as-training"

"""The analytics service over batches: anomalies, limits with a deadband, SPC and a machine-wide
detector naming the signal that broke the pattern; and the plant file's ``analytics`` tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from werk.analytics.service import AnalyticsService
from werk.analytics.watchlist import (
    Defaults,
    Watched,
    build_watchlist,
    machine_detectors,
    quality_rules,
    watched_signals,
)
from werk.core import NS_PER_S, ConfigError, SampleBatch, Signal
from werk.twin.plant import PlantFileError, load_plant

T0 = 1_800_000_000 * NS_PER_S

PLANT = """
[plant]
id = "p"
name = "test plant"

[assets.site]
level = "site"

[assets.area]
level = "area"
parent = "site"

[assets.line]
level = "line"
parent = "area"

[assets.m1]
level = "machine"
parent = "line"

[assets.m1.analytics]
multivariate = "pca"
signals = ["a", "b", "c"]
ideal_cycle_s = 4.0
count_signal = "count"
state_signal = "mode"

[assets.m1.signals.a]
expected_interval_s = 1.0
analytics = { limits = { high = 80, deadband = 5, priority = "urgent" } }

[assets.m1.signals.b]
expected_interval_s = 1.0
analytics = { detector = "off", spc = { subgroup = 1, baseline = 50 } }

[assets.m1.signals.c]
expected_interval_s = 1.0
analytics = { detector = "off", flatline_s = 30 }

[assets.m1.signals.count]
data_type = "long"

[assets.m1.signals.mode]
id = "m1.machine-state"
data_type = "int"
"""


def plant(tmp_path: Path, text: str = PLANT):  # type: ignore[no-untyped-def]
    path = tmp_path / "plant.toml"
    path.write_text(text)
    return load_plant(path)


def service_for(tmp_path: Path, defaults: Defaults | None = None) -> AnalyticsService:
    p = plant(tmp_path)
    defaults = defaults or Defaults()
    signals = watched_signals(p.catalog().values(), p)
    return AnalyticsService(build_watchlist(signals, defaults, machine_detectors(p, defaults)))


def rows_batch(names: list[str], start: int, values: np.ndarray) -> SampleBatch:
    """``values``: one row per second, one column per signal of ``names``."""
    n, k = values.shape
    ts = np.repeat(T0 + (start + np.arange(n)) * NS_PER_S, k)
    index = np.tile(np.arange(k, dtype=np.int32), n)
    return SampleBatch(
        tuple(names), index, ts, values.reshape(-1).astype(np.float64), np.zeros(n * k, np.uint8)
    )


def correlated(n: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = rng.normal(50, 5, n)
    return np.column_stack(
        [z + rng.normal(0, 0.5, n), 2 * z + rng.normal(0, 1, n), rng.normal(20, 1, n)]
    )


def test_the_plant_file_decides_what_watches_each_signal(tmp_path: Path) -> None:
    service = service_for(tmp_path)
    watches = service.watchlist.signals
    assert watches["m1.a"].detector_name == "robust-z"  # the default detector
    assert watches["m1.a"].limits is not None
    assert watches["m1.b"].detector is None and watches["m1.b"].spc is not None
    assert "m1.c" not in watches  # detector off, no limits, no SPC
    assert (
        "m1.count" not in watches and "m1.machine-state" not in watches
    )  # counters get no default detector
    [machine] = service.watchlist.machines
    assert (machine.asset, machine.signals) == ("m1", ("m1.a", "m1.b", "m1.c"))


def test_quality_rules_come_from_the_plant_file_and_the_defaults(tmp_path: Path) -> None:
    p = plant(tmp_path)
    rules = quality_rules(watched_signals(p.catalog().values(), p), Defaults())
    assert rules["m1.c"].flatline_s == 30  # its own
    assert rules["m1.a"].flatline_s == 120  # 120 expected intervals of 1 s
    assert rules["m1.a"].spike_k == 8.0
    assert rules["m1.count"].spike_k is None and rules["m1.count"].flatline_s is None


def test_univariate_anomaly_is_one_episode_raised_and_cleared(tmp_path: Path) -> None:
    service = service_for(tmp_path)
    rng = np.random.default_rng(1)
    values = rng.normal(50, 1, 1000)
    values[600:640] += 15  # 15 σ for 40 s
    found = []
    for start in range(0, 1000, 50):  # batches of 50 s
        found += service.process(
            SampleBatch.of(
                "m1.a", T0 + (start + np.arange(50)) * NS_PER_S, values[start : start + 50]
            )
        )
    anomalies = [(c.raised, c.at) for c in found if c.family == "anomaly"]
    assert len(anomalies) == 2
    (raised, at_raise), (cleared, at_clear) = anomalies
    assert raised and not cleared
    assert T0 + 600 * NS_PER_S <= at_raise <= T0 + 610 * NS_PER_S
    assert at_clear > T0 + 640 * NS_PER_S
    assert service.watchlist.signals["m1.a"].anomalous >= 30


def test_a_noisy_value_near_its_limit_raises_once_thanks_to_the_deadband(tmp_path: Path) -> None:
    service = service_for(tmp_path)
    values = np.r_[np.full(300, 60.0), 81, 79, 82, 78, 81, 77, np.full(20, 70.0)]
    ts = T0 + np.arange(len(values)) * NS_PER_S
    found = [c for c in service.process(SampleBatch.of("m1.a", ts, values)) if c.family == "limit"]
    assert [(c.condition, c.raised, c.value) for c in found] == [
        ("high", True, 81.0),
        ("high", False, 70.0),
    ]
    assert found[0].priority == "urgent"
    assert "above its high limit 80" in found[0].message


def test_spc_raises_a_nelson_rule_after_its_baseline(tmp_path: Path) -> None:
    service = service_for(tmp_path)
    rng = np.random.default_rng(2)
    values = np.r_[rng.normal(10, 1, 100), np.full(5, 20.0)]  # far beyond 3 σ after the baseline
    ts = T0 + np.arange(len(values)) * NS_PER_S
    found = [c for c in service.process(SampleBatch.of("m1.b", ts, values)) if c.family == "spc"]
    assert found and found[0].raised
    assert found[0].at >= T0 + 100 * NS_PER_S


def test_machine_detector_names_the_signal_that_broke_the_pattern(tmp_path: Path) -> None:
    service = service_for(tmp_path)
    names = ["m1.a", "m1.b", "m1.c"]
    normal = correlated(1000)
    found = []
    for start in range(0, 800, 100):
        found += service.process(rows_batch(names, start, normal[start : start + 100]))
    assert not [c for c in found if c.source == "m1"]
    broken = normal[800:].copy()
    broken[:, 1] = 100 + np.random.default_rng(9).normal(0, 1, len(broken))  # b loses its link
    found = service.process(rows_batch(names, 800, broken))
    machine = [c for c in found if c.source == "m1" and c.raised]
    assert machine, "the machine-wide detector saw nothing"
    assert machine[0].contributors[0]["signal"] == "m1.b"
    assert "m1.b" in machine[0].message


def test_bad_samples_are_not_scored(tmp_path: Path) -> None:
    service = service_for(tmp_path)
    ts = T0 + np.arange(400) * NS_PER_S
    batch = SampleBatch.of("m1.a", ts, np.full(400, 50.0), quality=2)
    assert service.process(batch) == []
    assert service.watchlist.signals["m1.a"].scored == 0


def test_unknown_detector_names_the_signal(tmp_path: Path) -> None:
    signal = Watched(
        Signal("m.x"),
        analytics=__import__("werk").twin.analytics_spec.SignalAnalytics(detector="magic"),
    )
    with pytest.raises(ConfigError, match=r"m\.x.*magic"):
        build_watchlist([signal], Defaults())


def test_plant_file_analytics_mistakes_are_reported_with_their_line(tmp_path: Path) -> None:
    text = PLANT.replace("deadband = 5", "deadband = -1").replace("subgroup = 1", "subgroup = 40")
    text = text.replace('multivariate = "pca"', 'multivariate = "pca"\nsignal = ["a"]')
    with pytest.raises(PlantFileError) as caught:
        plant(tmp_path, text)
    message = str(caught.value)
    assert "deadband" in message and "must not be negative" in message
    assert "subgroup" in message and "1 to 10" in message
    assert "did you mean 'signals'" in message


def test_input_drift_compares_the_newest_inputs_with_the_first() -> None:
    from werk.analytics.drift import InputDrift

    rng = np.random.default_rng(4)
    same, shifted = InputDrift(("x",), rows=200), InputDrift(("x",), rows=200)
    for drift, late_mean in ((same, 0.0), (shifted, 3.0)):
        drift.add(rng.normal(0, 1, 200))
        assert drift.report() is None  # nothing recent to compare yet
        drift.add(rng.normal(late_mean, 1, 300))
    assert same.report().worst < 0.1  # type: ignore[union-attr]
    assert shifted.report().drifted == ["x"]  # type: ignore[union-attr]

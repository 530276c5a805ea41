"""Calibration from history: a recorded history with known parameters is fitted and validated."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest
from typer.testing import CliRunner

from werk.cli import app
from werk.core import SampleBatch
from werk.sim.calibrate import CalibrationError, calibrate, fit
from werk.sim.scenario import scenario_from_dict
from werk.store.memory import MemoryStore

NS = 1_000_000_000
T0 = 1_700_000_000 * NS
CYCLE_S, CYCLE_CV = 40.0, 0.1
MTTF_S, MTTR_S = 2 * 3600.0, 600.0
HOURS = 48.0


def record(store: MemoryStore, machine: str, seed: int = 7) -> None:
    """A saturated machine: lognormal cycles, exponential failures (in running time) and
    repairs; a state sample at each change and a counter sample at each finished part."""
    rng = np.random.default_rng(seed)
    sigma = np.sqrt(np.log1p(CYCLE_CV**2))
    mu = np.log(CYCLE_S) - sigma**2 / 2
    t, ttf, parts = 0.0, rng.exponential(MTTF_S), 0
    state_t, state_v = [0.0], [0.0]
    parts_t, parts_v = [0.0], [0.0]
    end = HOURS * 3600
    while t < end:
        p = float(rng.lognormal(mu, sigma))
        while p >= ttf:  # fails during this cycle, resumes it after the repair
            t += ttf
            p -= ttf
            state_t.append(t)
            state_v.append(4.0)
            t += rng.exponential(MTTR_S)
            state_t.append(t)
            state_v.append(0.0)
            ttf = rng.exponential(MTTF_S)
        ttf -= p
        t += p
        parts += 1
        parts_t.append(t)
        parts_v.append(float(parts))
    for name, times, values in (("state", state_t, state_v), ("parts", parts_t, parts_v)):
        stamps = T0 + np.round(np.asarray(times) * NS).astype(np.int64)
        inside = stamps < T0 + int(end * NS)
        store.write(SampleBatch.of(f"{machine}.{name}", stamps[inside], np.asarray(values)[inside]))


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore()
    record(store, "press1")
    return store


def test_fitted_means_match_the_truth_and_the_record_is_reproduced(store):
    end = T0 + int(HOURS * 3600 * NS)
    calibration = calibrate(store, ["press1"], T0, end, replications=8)
    (machine,) = calibration.fits
    history = machine.history
    assert machine.cycle.mean_s == pytest.approx(CYCLE_S, rel=0.02)
    assert machine.cycle.cv == pytest.approx(CYCLE_CV, rel=0.15)
    assert machine.cycle.family in ("lognormal", "gamma", "weibull")
    assert machine.ttf is not None and machine.ttr is not None
    assert history.mttf_s == pytest.approx(MTTF_S, rel=0.25)
    assert machine.ttr.mean_s == pytest.approx(MTTR_S, rel=0.3)
    assert machine.ttf.family == "exponential"
    assert history.shares["running"] + history.shares["down"] == pytest.approx(1.0)
    # the scenario the loader accepts
    station = calibration.scenario["stations"]["press1"]
    assert station["cycle_time"]["dist"] == machine.cycle.family
    assert scenario_from_dict(tomllib.loads(calibration.toml())).station("press1")
    assert calibration.validation is not None
    check = calibration.validation.line
    assert abs(check.relative_error) < 0.05
    assert check.inside or abs(check.recorded_per_h - check.simulated.mean) < 3 * (
        check.simulated.half_width
    )


def test_no_recorded_states_is_a_clear_error(store):
    with pytest.raises(CalibrationError, match="no recorded states for 'welder1'"):
        calibrate(store, ["press1", "welder1"], T0, T0 + 3600 * NS, run_validation=False)


def test_exponential_fit_of_exponential_data():
    data = np.random.default_rng(3).exponential(600.0, 400)
    fitted = fit(data, "min", failures=True)
    assert fitted.family == "exponential"
    assert fitted.spec["mean_min"] == pytest.approx(10.0, rel=0.1)
    assert fitted.ks < 0.1


def test_cli_prints_the_table_and_writes_the_scenario(tmp_path, monkeypatch):
    import werk.store.base

    store = MemoryStore()
    record(store, "press1")
    monkeypatch.setattr(werk.store.base, "open_store", lambda url: store)
    out = tmp_path / "calibrated.toml"
    result = CliRunner().invoke(
        app,
        [
            "sim", "calibrate", "--store", "memory://", "--start", str(T0),
            "--end", str(T0 + int(HOURS * 3600 * NS)), "--machines", "press1",
            "-n", "4", "--out", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "press1" in result.output and "KS" in result.output
    assert "recorded" in result.output
    data = tomllib.loads(out.read_text())
    assert data["stations"]["press1"]["cycle_time"]["dist"]

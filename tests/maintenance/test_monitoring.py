import numpy as np
import pytest

from werk.core import NS_PER_S
from werk.maintenance import DriftReference, PredictionMonitor
from werk.maintenance.monitoring import PredictionRecord

HOUR = 3600 * NS_PER_S


def _said(asset: str, at_hours: float, rul: float, lower: float, upper: float) -> PredictionRecord:
    # one cycle is one hour
    return PredictionRecord(asset, round(at_hours * HOUR), rul, lower, upper, cycle_s=3600.0)


def test_failure_earlier_than_predicted_is_late():
    monitor = PredictionMonitor(tolerance=2.0)
    monitor.observe(_said("m1", 0, rul=50, lower=30, upper=70))
    monitor.observe(_said("m1", 10, rul=40, lower=25, upper=60))  # the last word counts
    outcome = monitor.record("m1", "failure", 30 * HOUR)
    assert outcome.actual_rul == pytest.approx(20.0)
    assert outcome.error == pytest.approx(20.0)  # promised 40, had 20
    assert outcome.verdict == "late"
    assert outcome.inside_interval is False


def test_failure_later_than_predicted_is_early_and_close_is_on_time():
    monitor = PredictionMonitor(tolerance=2.0)
    monitor.observe(_said("m1", 0, rul=10, lower=5, upper=20))
    early = monitor.record("m1", "failure", 25 * HOUR)
    assert (early.error, early.verdict) == (pytest.approx(-15.0), "early")
    monitor.observe(_said("m2", 0, rul=10, lower=5, upper=20))
    on_time = monitor.record("m2", "failure", 11 * HOUR)
    assert on_time.verdict == "on-time" and on_time.inside_interval is True
    summary = monitor.summary()
    assert summary["failures_judged"] == 2
    assert summary["verdicts"] == {"early": 1, "on-time": 1}
    assert summary["rmse"] == pytest.approx(np.sqrt((15.0**2 + 1.0**2) / 2), abs=1e-3)
    assert summary["interval_coverage"] == 0.5


def test_maintenance_is_a_censored_outcome():
    monitor = PredictionMonitor(tolerance=1.0)
    monitor.observe(_said("m1", 0, rul=50, lower=30, upper=70))
    censored = monitor.record("m1", "maintenance", 20 * HOUR)  # maintained before the due date
    assert (censored.verdict, censored.error) == ("censored", None)
    monitor.observe(_said("m1", 0, rul=5, lower=2, upper=9))
    outlived = monitor.record("m1", "maintenance", 20 * HOUR)  # lived past the prediction
    assert outlived.verdict == "early" and outlived.error == pytest.approx(-15.0)
    nothing = monitor.record("m9", "failure", HOUR)
    assert nothing.verdict == "no-prediction"


def test_psi_flags_a_shifted_feature_and_not_a_stable_one():
    rng = np.random.default_rng(0)
    training = rng.normal(0.0, 1.0, (5_000, 2))
    reference = DriftReference.fit(training, ["stable", "shifted"])
    live = np.column_stack([rng.normal(0.0, 1.0, 1_000), rng.normal(1.0, 1.0, 1_000)])
    report = reference.report(live)
    assert report.psi["stable"] < 0.1
    assert report.psi["shifted"] > 0.25
    assert report.drifted == ["shifted"]
    assert report.flag("stable") == "stable" and report.flag("shifted") == "drift"
    again = DriftReference.from_dict(reference.to_dict())
    assert again.psi(live) == pytest.approx(report.psi)


def test_training_data_does_not_drift_from_itself(trained, subset):
    features = trained.pipeline.transform(subset.train)
    report = trained.reference.report(features)
    assert report.drifted == [] and report.worst < 0.01

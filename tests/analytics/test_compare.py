"""Before/after KPI comparison: a hand-computed Welch interval, a real shift found, no shift not
found (at about the promised rate), and the bootstrap alternative."""

from __future__ import annotations

import numpy as np
import pytest

from werk.analytics.compare import compare
from werk.core import ValidationError


def test_welch_interval_by_hand() -> None:
    # before 1 2 3, after 4 5 6: means 2 and 5, variances 1; se = sqrt(1/3 + 1/3) = 0.816497;
    # Welch-Satterthwaite df = (2/3)² / ((1/3)²/2 + (1/3)²/2) = 4; t(0.975, 4) = 2.776445;
    # half-width 2.266958: the interval is 0.733042 .. 5.266958.
    result = compare([1, 2, 3], [4, 5, 6])
    assert (result.n_before, result.n_after) == (3, 3)
    assert (result.mean_before, result.mean_after, result.difference) == (2, 5, 3)
    assert result.low == pytest.approx(0.733042, abs=1e-6)
    assert result.high == pytest.approx(5.266958, abs=1e-6)
    assert result.p_value is not None and result.p_value < 0.05
    assert result.verdict == "better"
    assert result.relative == pytest.approx(1.5)


def test_which_way_is_better_depends_on_the_kpi() -> None:
    assert compare([1, 2, 3], [4, 5, 6], higher_is_better=False).verdict == "worse"
    assert compare([4, 5, 6], [1, 2, 3], higher_is_better=False).verdict == "better"


def _days(rng: np.random.Generator, mean: float, n: int = 14) -> np.ndarray:
    return rng.normal(mean, 0.05, n)  # daily OEE: mean, day-to-day spread 5 points


@pytest.mark.parametrize("method", ["welch", "bootstrap"])
def test_a_real_shift_is_found(method: str) -> None:
    rng = np.random.default_rng(11)
    result = compare(_days(rng, 0.60), _days(rng, 0.68), method=method)
    assert result.verdict == "better"
    assert result.low > 0 and result.low < 0.08 < result.high


@pytest.mark.parametrize("method", ["welch", "bootstrap"])
def test_no_shift_is_rarely_called_one(method: str) -> None:
    """At 95 % confidence about 5 % of no-change comparisons say better or worse (the bootstrap
    a little more with 14 days a side: its interval is slightly narrow for small samples)."""
    rng = np.random.default_rng(12)
    calls = [
        compare(_days(rng, 0.6), _days(rng, 0.6), method=method, seed=i, resamples=2_000).verdict
        for i in range(300)
    ]
    false_alarms = sum(v != "no significant change" for v in calls) / len(calls)
    assert false_alarms < 0.1


def test_the_p_value_and_the_interval_agree() -> None:
    rng = np.random.default_rng(13)
    for _ in range(50):
        result = compare(rng.normal(0, 1, 8), rng.normal(0.8, 2, 12), confidence=0.9)
        assert result.p_value is not None
        assert (result.p_value < 0.1) == (result.verdict != "no significant change")


def test_bootstrap_handles_skewed_downtime() -> None:
    rng = np.random.default_rng(14)
    before = rng.lognormal(np.log(60), 0.8, 30)  # minutes down a day: a few very bad days
    after = rng.lognormal(np.log(30), 0.8, 30)
    result = compare(before, after, higher_is_better=False, method="bootstrap", seed=1)
    assert result.verdict == "better" and result.p_value is None
    again = compare(before, after, higher_is_better=False, method="bootstrap", seed=1)
    assert (again.low, again.high) == (result.low, result.high)  # a seed makes it repeatable


def test_constant_samples_give_an_exact_difference() -> None:
    result = compare([2.0, 2.0], [3.0, 3.0])
    assert (result.low, result.high, result.verdict) == (1.0, 1.0, "better")
    assert compare([2.0, 2.0], [2.0, 2.0]).verdict == "no significant change"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"before": [1.0], "after": [1.0, 2.0]}, "before"),
        ({"before": [1.0, 2.0], "after": [float("nan"), 3.0]}, "after"),
        ({"before": [1.0, 2.0], "after": [1.0, 2.0], "confidence": 95}, "confidence"),
        ({"before": [1.0, 2.0], "after": [1.0, 2.0], "method": "mann-whitney"}, "method"),
    ],
)
def test_bad_input_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        compare(**kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_to_dict() -> None:
    body = compare([1, 2, 3], [4, 5, 6]).to_dict()
    assert body["before"] == {"n": 3, "mean": 2.0}
    assert body["verdict"] == "better" and len(body["interval"]) == 2


# -- detector drift: the other "is it helping?" figure next to before/after ---------------------


def test_detector_drift_flags_the_input_that_moved() -> None:
    from werk.analytics.drift import InputDrift

    rng = np.random.default_rng(15)
    names = ("press1.temperature", "press1.vibration")

    def first_rows() -> np.ndarray:
        return np.column_stack([rng.normal(60, 2, 500), rng.normal(3, 0.5, 500)])

    same, hotter = InputDrift(names), InputDrift(names)
    same.add(first_rows())
    same.add(np.column_stack([rng.normal(60, 2, 1_000), rng.normal(3, 0.5, 1_000)]))
    assert same.report().drifted == []  # type: ignore[union-attr]
    hotter.add(first_rows())
    hotter.add(np.column_stack([rng.normal(64, 2, 1_000), rng.normal(3, 0.5, 1_000)]))
    report = hotter.report()
    assert report is not None and report.drifted == ["press1.temperature"]
    assert report.flag("press1.vibration") == "stable"

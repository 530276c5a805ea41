"""The SKAB and NAB scorers on hand-made labels, and ``werk eval anomaly`` on generated files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from werk.analytics.evaluation import nab, skab
from werk.cli import app

runner = CliRunner()


def _sigmoid_score(position: float) -> float:
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


MAX_TP = _sigmoid_score(-1.0)
WINDOWS = [(300, 399), (600, 699)]  # 1000 rows: probation 150, two windows of 100 rows


def _hits(*rows: int, n: int = 1000) -> np.ndarray:
    hits = np.zeros(n, dtype=bool)
    hits[list(rows)] = True
    return hits


def test_probationary_length_follows_nab() -> None:
    assert nab.probationary_length(1000) == 150
    assert nab.probationary_length(22695) == 750  # capped at 15 % of 5000


def test_perfect_detector_scores_100_and_null_0() -> None:
    perfect = nab.score(_hits(300, 600), WINDOWS)
    assert perfect.raw == pytest.approx(2.0)  # left edge: the full true-positive weight
    assert perfect.normalised == pytest.approx(100.0)
    null = nab.score(_hits(), WINDOWS)
    assert null.raw == pytest.approx(-2.0)
    assert null.normalised == pytest.approx(0.0)


def test_only_the_first_detection_in_a_window_counts() -> None:
    middle = nab.score(_hits(350, 600), WINDOWS)  # position -(399 - 350 + 1)/100 = -0.5
    expected = _sigmoid_score(-0.5) / MAX_TP + 1.0
    assert middle.raw == pytest.approx(expected)
    assert nab.score(_hits(350, 351, 398, 600), WINDOWS).raw == pytest.approx(expected)
    assert middle.tp == 2 and middle.windows_found == 2


def test_false_positives_cost_by_profile_and_distance() -> None:
    early = nab.score(_hits(200, 300, 600), WINDOWS)  # before the first window: full cost
    assert early.raw == pytest.approx(2.0 - 0.11)
    assert early.fp == 1
    low_fp = nab.score(_hits(200, 300, 600), WINDOWS, "reward_low_FP_rate")
    assert low_fp.raw == pytest.approx(2.0 - 0.22)
    just_after = nab.score(_hits(300, 400, 600), WINDOWS)  # 1 row after: |400-399|/99
    assert just_after.raw == pytest.approx(2.0 + 0.11 * _sigmoid_score(1 / 99))
    between = nab.score(_hits(300, 598, 600), WINDOWS)  # 199/99 widths after the first window
    assert between.raw == pytest.approx(2.0 + 0.11 * _sigmoid_score(199 / 99))
    far_after = nab.score(_hits(300, 600, 999), WINDOWS)  # >= 3 widths after: the full cost
    assert far_after.raw == pytest.approx(2.0 - 0.11)
    missed = nab.score(_hits(300), WINDOWS, "reward_low_FN_rate")
    assert missed.raw == pytest.approx(1.0 - 2.0)
    assert missed.normalised == pytest.approx(100 * (1.0 - 2.0 + 4.0) / (2.0 + 4.0))


def test_probationary_detections_are_not_scored() -> None:
    assert nab.score(_hits(10, 149, 300, 600), WINDOWS).raw == pytest.approx(2.0)
    assert nab.score(_hits(150, 300, 600), WINDOWS).fp == 1
    inside = nab.score(_hits(120), [(100, 160)], probation=150)  # window partly in probation
    assert inside.windows == 1 and inside.raw == pytest.approx(-1.0)


def test_skab_binary_scores_by_hand() -> None:
    truth = np.array([0, 0, 0, 0, 1, 1, 1, 1, 0, 0], bool)
    alarm = np.array([0, 1, 0, 0, 0, 1, 1, 1, 1, 0], bool)
    scores = skab.binary_scores(truth, alarm)
    assert (scores.tp, scores.fp, scores.tn, scores.fn) == (3, 2, 4, 1)
    assert scores.f1 == pytest.approx(6 / 9)
    assert scores.far == pytest.approx(100 * 2 / 6)
    assert scores.mar == pytest.approx(100 * 1 / 4)
    with pytest.raises(ValueError):
        skab.binary_scores(truth, alarm[:3])


def _write_skab(folder: Path, files: int = 3) -> None:
    """SKAB-shaped experiments: 8 correlated signals, one valve fault in the second half."""
    rng = np.random.default_rng(1)
    folder.mkdir()
    columns = [
        "Accelerometer1RMS",
        "Accelerometer2RMS",
        "Current",
        "Pressure",
        "Temperature",
        "Thermocouple",
        "Voltage",
        "Volume Flow RateRMS",
    ]
    for number in range(files):
        n = 800
        load = rng.normal(0, 1, n)
        values = np.column_stack(
            [1 + 0.1 * load + rng.normal(0, 0.02, n) for _ in range(7)]
            + [32 + 2 * load + rng.normal(0, 0.2, n)]
        )
        anomaly = np.zeros(n)
        anomaly[500:700] = 1
        values[500:700, 7] -= 8.0  # the valve closes: flow drops against the load
        stamps = np.datetime64("2020-03-09T10:00:00") + np.arange(n).astype("timedelta64[s]")
        lines = ["datetime;" + ";".join(columns) + ";anomaly;changepoint"]
        for stamp, row, label in zip(stamps, values, anomaly, strict=True):
            cells = ";".join(f"{v:.5f}" for v in row)
            lines.append(f"{str(stamp).replace('T', ' ')};{cells};{label:.1f};0.0")
        (folder / f"{number}.csv").write_text("\n".join(lines) + "\n")


def test_cli_evaluates_generated_skab(tmp_path: Path) -> None:
    _write_skab(tmp_path / "valve1")
    result = runner.invoke(
        app, ["eval", "anomaly", "--dataset", "skab", "--data", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["detector"] == "pca" and figures["files"] == 3 and figures["rows"] == 2400
    assert figures["f1"] > 0.8 and figures["mar"] < 5  # the off-delay costs the tail
    table = runner.invoke(
        app, ["eval", "anomaly", "--dataset", "skab", "--data", str(tmp_path / "valve1")]
    )
    assert table.exit_code == 0, table.output
    assert "Conv-AE" in table.output and "werk pca" in table.output


def test_cli_evaluates_generated_nab(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    n = 3000
    values = 80 + rng.normal(0, 1, n)
    values[2000:2100] -= 30.0  # the machine cools down: a failure
    stamps = np.datetime64("2014-01-01T00:00") + (np.arange(n) * 5).astype("timedelta64[m]")
    csv = ["timestamp,value"] + [
        f"{str(s).replace('T', ' ')}:00,{v:.4f}" for s, v in zip(stamps, values, strict=True)
    ]
    (tmp_path / "machine_temperature_system_failure.csv").write_text("\n".join(csv) + "\n")
    window = [str(stamps[1900]).replace("T", " ") + ":00", str(stamps[2100]).replace("T", " ")]
    labels = {"realKnownCause/machine_temperature_system_failure.csv": [window]}
    (tmp_path / "label_windows.json").write_text(json.dumps(labels))
    result = runner.invoke(
        app, ["eval", "anomaly", "--dataset", "nab", "--data", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    standard = json.loads(result.output)["profiles"]["standard"]
    assert standard["windows_found"] == 1 and standard["normalised"] > 50
    table = runner.invoke(app, ["eval", "anomaly", "--dataset", "nab", "--data", str(tmp_path)])
    assert table.exit_code == 0 and "Numenta HTM" in table.output


def test_cli_says_where_to_download_when_the_data_is_missing(tmp_path: Path) -> None:
    missing = runner.invoke(
        app, ["eval", "anomaly", "--dataset", "skab", "--data", str(tmp_path / "nope")]
    )
    assert missing.exit_code == 1 and "github.com/waico/SKAB" in missing.output
    empty = runner.invoke(app, ["eval", "anomaly", "--dataset", "nab", "--data", str(tmp_path)])
    assert empty.exit_code == 1 and "github.com/numenta/NAB" in empty.output
    wrong = runner.invoke(
        app, ["eval", "anomaly", "--dataset", "nab", "--data", str(tmp_path), "--detector", "pca"]
    )
    assert wrong.exit_code == 1


def test_the_evaluation_measures_what_the_service_does() -> None:
    """The benchmarks stream data through the same step as the live service: the same alarms at
    the same samples for a signal with spikes and a lasting shift (which, never learned, keeps its
    alarm), batch by batch."""
    from werk.analytics.detectors import alarm_rule, univariate
    from werk.analytics.evaluation import stream
    from werk.analytics.service import AnalyticsService, SignalWatch, Watchlist
    from werk.core import NS_PER_S, SampleBatch

    rng = np.random.default_rng(4)
    values = rng.normal(20.0, 1.0, 1500)
    values[[700, 701, 702, 703, 704, 705, 900]] += 25.0
    values[1200:] += 40.0
    watch = SignalWatch("m.t", "m", detector=univariate("robust-z"), detector_name="robust-z")
    service = AnalyticsService(Watchlist(signals={"m.t": watch}))
    changes = []
    for start in range(0, len(values), 50):
        at = (start + np.arange(50)) * NS_PER_S
        batch = SampleBatch.of("m.t", at, values[start : start + 50])
        changes += [(c.raised, c.at // NS_PER_S) for c in service.process(batch)]
    _, active = stream(univariate(), alarm_rule(), values, batch=50)
    moved = np.flatnonzero(active != np.r_[False, active[:-1]])
    assert changes == [(bool(active[i]), int(i)) for i in moved]
    assert [raised for raised, _ in changes] == [True, False, True]  # 700s burst; 1200 holds

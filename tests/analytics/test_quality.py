"""The data-quality screen: each rule on a series built to break it, and on one that does not."""

from __future__ import annotations

import numpy as np
import pytest

from werk.analytics.quality import QualityRules, QualityScreen
from werk.core import NS_PER_S, Quality, SampleBatch

T0 = 1_700_000_000 * NS_PER_S
SECOND = NS_PER_S
LATER = T0 + 3600 * SECOND  # "now" for tests that are not about clock skew


def series(
    values: list[float] | np.ndarray, *, start: int = T0, step_s: float = 1.0
) -> SampleBatch:
    ts = start + (np.arange(len(values)) * step_s * SECOND).astype(np.int64)
    return SampleBatch.of("m.x", ts, values)


def noise(n: int, seed: int = 1) -> np.ndarray:
    return 50 + np.random.default_rng(seed).normal(0, 1, n)


def test_out_of_range_is_bad_and_raised_then_cleared_after_hold() -> None:
    screen = QualityScreen({"m.x": QualityRules(minimum=0, maximum=100, hold_s=5)})
    values = [50.0] * 10 + [150.0] + [50.0] * 10
    out = screen.screen(series(values), now_ns=LATER)
    assert out.batch.quality[10] == Quality.BAD
    assert (np.delete(out.batch.quality, 10) == Quality.GOOD).all()
    assert out.flagged == 1
    raised = [t for t in out.transitions if t.raised]
    assert [(t.rule, t.value, t.at) for t in raised] == [("out-of-range", 150.0, T0 + 10 * SECOND)]
    # ten samples (10 s) after the bad one the hold of 5 s has passed: cleared in the same batch
    cleared = [t for t in out.transitions if not t.raised]
    assert [t.rule for t in cleared] == ["out-of-range"]
    assert screen.summary()["m.x"]["flagged"] == {"out-of-range": 1}


def test_condition_stays_raised_across_batches_until_hold_passes() -> None:
    screen = QualityScreen({"m.x": QualityRules(maximum=100, hold_s=30)})
    first = screen.screen(series([50, 150, 50]), now_ns=LATER)
    assert [(t.rule, t.raised) for t in first.transitions] == [("out-of-range", True)]
    second = screen.screen(series([50] * 10, start=T0 + 3 * SECOND), now_ns=LATER)
    assert second.transitions == []  # 12 s after: still held
    assert screen.raised("m.x") == ["out-of-range"]
    third = screen.screen(series([50] * 30, start=T0 + 13 * SECOND), now_ns=LATER)
    assert [(t.rule, t.raised) for t in third.transitions] == [("out-of-range", False)]
    assert screen.raised("m.x") == []


def test_spike_flags_the_spike_not_the_step_back_and_not_noise() -> None:
    screen = QualityScreen()
    values = noise(200)
    values[150] += 40  # one spike, ~35 usual steps high
    out = screen.screen(series(values), now_ns=LATER)
    flagged = np.flatnonzero(out.batch.quality == Quality.UNCERTAIN)
    assert flagged.tolist() == [150]
    assert [(t.rule, t.raised) for t in out.transitions][:1] == [("spike", True)]


def test_a_level_shift_is_one_jump_and_the_screen_learns_across_batches() -> None:
    screen = QualityScreen()
    values = noise(300)
    screen.screen(series(values[:100]), now_ns=LATER)  # learns the usual step
    shifted = values[100:].copy()
    shifted[50:] += 30
    out = screen.screen(series(shifted, start=T0 + 100 * SECOND), now_ns=LATER)
    assert np.flatnonzero(out.batch.quality == Quality.UNCERTAIN).tolist() == [50]


def test_flatline_after_the_configured_time_even_across_batches() -> None:
    screen = QualityScreen({"m.x": QualityRules(flatline_s=30, spike_k=None)})
    values = np.r_[noise(20), np.full(50, 42.0)]  # frozen from sample 20 on
    out1 = screen.screen(series(values[:40]), now_ns=LATER)
    assert not (out1.batch.quality != Quality.GOOD).any()  # frozen 20 s: not yet
    out2 = screen.screen(series(values[40:], start=T0 + 40 * SECOND), now_ns=LATER)
    flagged = np.flatnonzero(out2.batch.quality == Quality.UNCERTAIN) + 40
    assert flagged[0] == 50 and flagged[-1] == 69  # from 30 s after the freeze
    assert screen.raised("m.x") == ["flatline"]


def test_clock_skew_flags_future_timestamps() -> None:
    screen = QualityScreen(clock_skew_s=5)
    out = screen.screen(series([1.0, 2.0, 3.0]), now_ns=T0)  # samples at T0, +1 s, +2 s
    assert not (out.batch.quality != Quality.GOOD).any()
    out = screen.screen(series([1.0, 2.0], start=T0 + 60 * SECOND), now_ns=T0)
    assert (out.batch.quality == Quality.UNCERTAIN).all()
    assert [t.rule for t in out.transitions] == ["clock-skew"]


def test_gaps_count_missing_intervals_and_keep_quality() -> None:
    screen = QualityScreen({"m.x": QualityRules(expected_interval_s=1.0, spike_k=None)})
    ts = T0 + np.array([0, 1, 2, 12, 13], np.int64) * SECOND  # 9 samples missing
    out = screen.screen(SampleBatch.of("m.x", ts, [1.0] * 5), now_ns=LATER)
    assert (out.batch.quality == Quality.GOOD).all()
    assert [t.rule for t in out.transitions if t.raised] == ["gap"]
    assert screen.summary()["m.x"]["missing_intervals"] == 3  # 10 s gap / (3 × 1 s) allowed


def test_out_of_order_samples_are_counted_not_flagged() -> None:
    screen = QualityScreen()
    ts = T0 + np.array([0, 1, 2, 1, 3], np.int64) * SECOND
    out = screen.screen(SampleBatch.of("m.x", ts, [1.0, 2.0, 3.0, 2.0, 4.0]), now_ns=LATER)
    assert (out.batch.quality == Quality.GOOD).all()
    assert screen.summary()["m.x"]["out_of_order"] == 1


def test_many_signals_in_one_batch_keep_their_own_state_and_order() -> None:
    rules = {"a": QualityRules(maximum=10), "b": QualityRules(maximum=100)}
    screen = QualityScreen(rules)
    batch = SampleBatch.from_columns(
        ["a", "b", "a", "b"], [T0, T0, T0 + SECOND, T0 + SECOND], [5.0, 50.0, 20.0, 60.0]
    )
    out = screen.screen(batch, now_ns=LATER)
    got = {(name, ts): q for name, ts, _, q in out.batch.rows()}
    assert got[("a", T0 + SECOND)] == Quality.BAD
    assert sum(q != Quality.GOOD for q in got.values()) == 1
    assert screen.raised("a") == ["out-of-range"] and screen.raised("b") == []


def test_a_worse_quality_already_given_is_kept() -> None:
    screen = QualityScreen({"m.x": QualityRules(maximum=10)})
    batch = SampleBatch.of("m.x", [T0], [50.0], Quality.STALE)
    assert screen.screen(batch, now_ns=LATER).batch.quality[0] == Quality.STALE


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_values_do_not_break_the_statistics(value: float) -> None:
    screen = QualityScreen()
    values = noise(100)
    values[50] = value
    out = screen.screen(series(values), now_ns=LATER)
    assert not (np.delete(out.batch.quality, 50) != Quality.GOOD).any()

"""Detectors on generated data: anomalies scored >= 1, normal data mostly < 1, NaN while warming
up, batch and one-at-a-time identical, contributions naming the signal that moved."""

from __future__ import annotations

import math

import numpy as np
import pytest

from werk.analytics.base import Detector, Explains
from werk.analytics.detectors import (
    PCAT2Q,
    AlarmRule,
    EWMAChart,
    HalfSpaceTrees,
    IsolationForest,
    RobustZ,
    Seasonal,
    alarm_rule,
    judge,
    multivariate,
    univariate,
)
from werk.core import ConfigError, ValidationError


def _noise(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(10.0, 1.0, n)


def _one_at_a_time(detector: Detector, values: np.ndarray) -> np.ndarray:
    scores = []
    for value in values:
        scores.append(detector.score_one(value))
        detector.learn_one(value)
    return np.array(scores)


UNIVARIATE_CASES = [
    pytest.param(lambda: RobustZ(window=64, threshold=6.0), id="robust-z"),
    pytest.param(
        lambda: RobustZ(window=64, threshold=6.0, warmup=30, refresh=7), id="robust-z-refresh-7"
    ),
    pytest.param(lambda: EWMAChart(lam=0.2, L=3.5, warmup=50), id="ewma"),
    pytest.param(lambda: Seasonal(period=24, threshold=6.0), id="seasonal"),
]


@pytest.mark.parametrize("make", UNIVARIATE_CASES)
def test_batch_equals_one_at_a_time(make) -> None:
    values = _noise(600)
    values[[100, 333, 334]] = np.nan  # missing values keep their place and are not learned
    values[400] += 15.0
    batched = make()
    split = np.concatenate(
        [batched.score_learn_many(part) for part in np.array_split(values, [7, 130, 131, 500])]
    )
    np.testing.assert_allclose(split, _one_at_a_time(make(), values), rtol=1e-9, equal_nan=True)


@pytest.mark.parametrize("make", UNIVARIATE_CASES)
def test_learn_many_then_score_many_equals_the_loop(make) -> None:
    values, fresh = _noise(300), _noise(40, seed=1)
    many, one = make(), make()
    many.learn_many(values)
    for value in values:
        one.learn_one(value)
    expected = [one.score_one(v) for v in fresh]
    if isinstance(many, Seasonal):  # a batch is the next values in time: phases move on
        expected = [one.score_one(fresh[0])]
        fresh = fresh[:1]
    np.testing.assert_allclose(many.score_many(fresh), expected, rtol=1e-9, equal_nan=True)


@pytest.mark.parametrize("make", UNIVARIATE_CASES)
def test_spike_is_anomalous_and_normal_data_is_not(make) -> None:
    values = _noise(1000)
    values[800] += 20.0
    scores = make().score_learn_many(values)
    assert np.isnan(scores[0])
    assert scores[800] >= 1.0
    judged = np.delete(scores, np.arange(800, 812))
    assert np.nanmean(judged >= 1.0) < 0.02


def test_robust_z_is_nan_until_warm_and_ignores_a_short_burst() -> None:
    detector = RobustZ(window=100, threshold=5.0, warmup=30, refresh=10)
    scores = detector.score_learn_many(_noise(200))
    assert np.isnan(scores[:30]).all() and np.isfinite(scores[30:]).all()
    detector.learn_many(np.full(10, 1000.0))  # a burst shorter than half the window
    assert detector.score_one(10.0) < 1.0  # the median did not move
    assert detector.score_one(30.0) >= 1.0


def test_robust_z_refreshes_its_reference_every_refresh_values() -> None:
    detector = RobustZ(window=50, threshold=5.0, warmup=20, refresh=8)
    detector.learn_many(_noise(23))
    assert math.isnan(detector.score_one(10.0))  # the first refresh at or after 20 is at 24
    detector.learn_one(10.0)
    assert detector.score_one(10.0) < 1.0
    detector.learn_many(np.full(7, 1000.0))  # 31 learned: still the reference taken at 24
    assert detector.score_one(1000.0) >= 1.0
    detector.learn_many(np.full(60, 1000.0))  # 91 learned: the reference taken at 88
    assert detector.score_one(1000.0) < 1.0
    default = RobustZ(window=2048)
    assert default.refresh == 256 and default.warmup == 256


def test_robust_z_accepts_a_lasting_change_after_half_a_window() -> None:
    detector = RobustZ(window=100, threshold=5.0)
    scores = detector.score_learn_many(np.concatenate([_noise(300), _noise(300) + 50.0]))
    assert scores[300] >= 1.0
    assert (scores[420:] < 1.0).mean() > 0.95


def test_ewma_chart_finds_a_small_sustained_shift() -> None:
    values = _noise(800)
    values[500:] += 1.5  # 1.5 σ: a per-value 3σ test misses most of it
    scores = EWMAChart(lam=0.1, L=3.0, warmup=200).score_learn_many(values)
    assert np.isnan(scores[:200]).all()
    assert (scores[520:] >= 1.0).mean() > 0.8
    assert (scores[200:500] >= 1.0).mean() < 0.05


def test_seasonal_tracks_the_profile_and_flags_a_value_off_it() -> None:
    period = 48
    phase = np.arange(period * 20) % period
    values = 10.0 * np.sin(2 * np.pi * phase / period) + _noise(len(phase)) * 0.3
    values[-10] += 5.0  # within the daily range, but off the profile for its time
    scores = Seasonal(period=period).score_learn_many(values)
    assert np.isnan(scores[: 2 * period]).all()
    assert scores[-10] >= 1.0
    assert np.nanmean(np.delete(scores, len(scores) - 10) >= 1.0) < 0.01


def test_univariate_factory() -> None:
    default = univariate()
    assert isinstance(default, RobustZ) and isinstance(default, Detector)
    assert isinstance(univariate("ewma", warmup=10), EWMAChart)
    assert isinstance(univariate("seasonal", period=10), Seasonal)
    with pytest.raises(ConfigError, match="unknown univariate detector 'median'"):
        univariate("median")
    with pytest.raises(ConfigError, match="bad options"):
        univariate("robust-z", span=3)
    with pytest.raises(ValidationError):
        univariate("robust-z", threshold=0)
    with pytest.raises(ValidationError, match="1-D"):
        RobustZ().score_many(np.zeros((2, 2)))


def _machine(n: int, seed: int = 0) -> np.ndarray:
    """Four signals of one machine: two driven by a common load, a third by the second."""
    rng = np.random.default_rng(seed)
    load = rng.normal(0.0, 1.0, n)
    return np.column_stack(
        [
            50 + 5 * load + rng.normal(0, 0.3, n),
            20 + 2 * load + rng.normal(0, 0.2, n),
            5 + 0.5 * load + rng.normal(0, 0.1, n),
            rng.normal(100, 1.0, n),
        ]
    )


MULTIVARIATE_CASES = [
    pytest.param(lambda: PCAT2Q(warmup=300), id="pca"),
    pytest.param(lambda: IsolationForest(warmup=300), id="iforest"),
    pytest.param(lambda: HalfSpaceTrees(warmup=300, trees=10, height=8, window=100), id="hst"),
]


@pytest.mark.parametrize("make", MULTIVARIATE_CASES)
def test_multivariate_warm_up_then_shifted_signal_is_named(make) -> None:
    detector = make()
    assert isinstance(detector, Detector) and isinstance(detector, Explains)
    rows = _machine(400)
    assert np.isnan(detector.score_many(rows[:2])).all()
    for part in np.array_split(rows[:300], 7):  # warm-up in uneven batches
        detector.learn_many(part)
    normal = detector.score_many(rows[300:])
    assert np.mean(normal >= 1.0) < 0.05
    odd = rows[350].copy()
    # signal 1 leaves its relation to the load and its range by far, two others a little
    # (an isolation forest's score saturates at the training range of a single input)
    odd += [0.0, 30.0, 2.5, 5.0]
    assert detector.score_one(odd) >= 1.0
    shares = detector.contributions(odd)
    assert shares.shape == (4,) and np.all(shares >= 0)
    assert shares.sum() == pytest.approx(1.0)
    assert int(np.argmax(shares)) == 1


def test_pca_uses_its_limits_and_both_statistics() -> None:
    detector = PCAT2Q(warmup=300, variance=0.85, confidence=0.999)
    detector.fit(_machine(300))
    assert 1 <= detector.components < 4
    assert np.isfinite(detector.t2_limit) and np.isfinite(detector.q_limit)
    row = _machine(1, seed=5)[0]
    broken = row.copy()
    broken[2] -= 3.0  # breaks the correlation: Q, not T², goes up
    _, q = detector.statistics(np.vstack([row, broken]))
    assert q[1] / detector.q_limit > 1.0 > q[0] / detector.q_limit
    assert int(np.argmax(detector.contributions(broken))) == 2
    with pytest.raises(ValidationError, match="inputs"):
        detector.score_many(np.zeros((1, 3)))


def test_pca_leaves_out_an_input_that_never_varied() -> None:
    rows = _machine(300)
    rows[:, 3] = 7.0
    detector = PCAT2Q(warmup=300)
    detector.learn_many(rows)
    assert detector.contributions(rows[0])[3] == 0.0
    assert np.isfinite(detector.score_many(rows)).all()


def test_pca_smoothing_continues_between_calls_and_damps_noise() -> None:
    rows = _machine(700)
    whole, split = PCAT2Q(warmup=300, smooth=3), PCAT2Q(warmup=300, smooth=3)
    whole.learn_many(rows[:300])
    for part in np.array_split(rows[:300], 5):
        split.learn_many(part)
    expected = whole.score_many(rows[300:])
    pieces = [split.score_many(part) for part in np.array_split(rows[300:], [1, 2, 50, 51])]
    np.testing.assert_allclose(np.concatenate(pieces), expected, rtol=1e-9)
    raw = PCAT2Q(warmup=300, smooth=1)
    raw.learn_many(rows[:300])
    noisy = rows[300:].copy()
    noisy[::50, 1] += 2.5  # single-row glitches: a third of their size after the mean of three
    glitches = raw.score_many(noisy)[::50], whole.score_many(noisy)[::50]
    assert (glitches[0] >= 1.0).all() and glitches[1].mean() < 0.5 * glitches[0].mean()
    held = noisy.copy()
    held[200:260, 1] += 30.0  # a lasting fault still shows, from its third row at the latest
    scores = PCAT2Q(warmup=300, smooth=3)
    scores.learn_many(rows[:300])
    assert (scores.score_many(held)[202:260] >= 1.0).all()
    with pytest.raises(ValidationError):
        PCAT2Q(smooth=0)


def test_judge_scores_then_learns_only_what_was_not_anomalous() -> None:
    detector = RobustZ(window=100, threshold=5.0, warmup=50, refresh=1)
    rule = AlarmRule(on_delay=2, off_delay=3)
    scores, active = judge(detector, rule, _noise(60))
    assert np.isnan(scores).all() and not active.any() and detector.count == 60
    batch = _noise(10, seed=3)
    batch[4:7] = 100.0
    scores, active = judge(detector, rule, batch)
    assert (scores[4:7] >= 1.0).all() and detector.count == 60 + 7  # the three were not learned
    assert active.tolist() == [False] * 5 + [True] * 4 + [False]  # raised at the 2nd, cleared
    assert not rule.active  # at the 3rd normal value after


def test_multivariate_factory() -> None:
    assert isinstance(multivariate(), PCAT2Q)
    assert isinstance(multivariate("iforest", warmup=10), IsolationForest)
    with pytest.raises(ConfigError, match="unknown multivariate detector"):
        multivariate("lof")


def test_alarm_rule_delays_and_batch_independence() -> None:
    scores = np.zeros(40)
    scores[5] = 2.0  # isolated: no alarm with an on-delay of 3
    scores[10:20] = 2.0
    scores[22] = 2.0  # a gap shorter than the off-delay keeps the alarm
    scores[30] = np.nan  # warming up counts as normal
    rule = AlarmRule(on_delay=3, off_delay=5)
    active = rule.apply(scores)
    assert not active[:12].any() and active[12:27].all() and not active[27:].any()
    chunked = AlarmRule(on_delay=3, off_delay=5)
    pieces = [chunked.apply(part) for part in np.array_split(scores, [1, 11, 12, 25])]
    np.testing.assert_array_equal(np.concatenate(pieces), active)
    raised = AlarmRule(on_delay=3, off_delay=5).raised(scores)
    assert np.flatnonzero(raised).tolist() == [12]
    assert alarm_rule().on_delay >= 1
    with pytest.raises(ValidationError):
        AlarmRule(on_delay=0)


def test_a_lasting_change_becomes_the_new_normal_and_its_alarm_clears() -> None:
    from werk.analytics.detectors import ADAPT_AFTER, alarm_rule, judge, univariate

    rng = np.random.default_rng(11)
    values = np.r_[rng.normal(10, 1, 3000), rng.normal(30, 1, 6000)]  # a new operating point
    detector, rule = univariate(), alarm_rule()
    active = np.concatenate(
        [judge(detector, rule, values[i : i + 100])[1] for i in range(0, 9000, 100)]
    )
    changes = np.flatnonzero(np.diff(active.astype(int)))
    assert len(changes) == 2, "raised once, cleared once"
    raised, cleared = changes + 1
    assert 3000 <= raised < 3010
    # held ADAPT_AFTER rows, learnt until the median moved (half the window), then the off-delay
    assert raised + ADAPT_AFTER < cleared < 9000


def test_the_bank_is_robust_z_for_many_signals_at_once() -> None:
    from werk.analytics.detectors.bank import RobustZBank
    from werk.analytics.detectors.univariate import RobustZ

    rng = np.random.default_rng(5)
    options = {"window": 64, "refresh": 8, "warmup": 16}
    bank = RobustZBank(**options)
    singles = [RobustZ(**options) for _ in range(4)]
    slots = [bank.slot(f"s{i}") for i in range(4)]
    assert bank.slot("s2") == slots[2]  # a name keeps its slot
    for call in range(40):
        sizes = rng.integers(0, 30, 4)
        if call == 20:
            sizes[1] = 200  # more than the buffer holds in one call
        chunks = [rng.normal(i * 10, 1 + i, n) for i, n in enumerate(sizes)]
        chunks[3][::7] = np.nan  # non-finite values are skipped
        s = np.concatenate([np.full(n, slot) for slot, n in zip(slots, sizes, strict=True)])
        x = np.concatenate(chunks)
        got = bank.score(s.astype(np.int64), x)
        want = np.concatenate([d.score_many(c) for d, c in zip(singles, chunks, strict=True)])
        np.testing.assert_allclose(got, want, equal_nan=True)
        learn = ~(np.nan_to_num(got) >= 1.0)  # what the service learns: the normal ones
        bank.learn(s[learn].astype(np.int64), x[learn])
        offset = 0
        for d, c in zip(singles, chunks, strict=True):
            d.learn_many(c[learn[offset : offset + len(c)]])
            offset += len(c)

"""Univariate streaming detectors: one per signal, vectorised over each batch.

Three ways to say "this value is unusual for this signal", each scaled so that a score of 1.0 or
more is anomalous (:mod:`werk.analytics.base`) and NaN while warming up:

* :class:`RobustZ` (``"robust-z"``) — distance from the **median of the last ``window`` values**
  in units of their robust spread (1.4826 · MAD; where more than half the window is one value, as
  on a quantised or flat signal, the mean absolute deviation instead, so nothing divides by zero),
  divided by ``threshold``. The median and MAD ignore up to half the window being odd, so one
  spike or a short burst does not move the reference; a lasting change becomes the new normal
  once ``window / 2`` of its values are *learned* (the service learns only values not judged
  anomalous, :func:`werk.analytics.detectors.judge`, so there a change far outside the
  reference keeps its alarm). The default (:data:`werk.analytics.detectors.DEFAULT_UNIVARIATE`).
* :class:`EWMAChart` (``"ewma"``) — the control chart of Roberts (1959): ``z = λ·x + (1-λ)·z``
  against limits ``μ0 ± L·σ·√(λ/(2-λ))``, with ``μ0`` and ``σ`` (from the mean moving range)
  estimated on the first ``warmup`` values and then held, as in SPC's phase II. Sensitive to small
  sustained shifts that a per-value test misses.
* :class:`Seasonal` (``"seasonal"``) — residual against a **profile by phase of a known period**
  (e.g. 1440 one-minute samples a day): an exponentially weighted mean per phase slot, the spread
  an exponentially weighted mean absolute residual over all slots.

Protocol (river's, with batch variants): ``score_many(X)`` scores each value of ``X`` against what
was learned *before* the call (it learns nothing); ``learn_many(X)`` learns the values in order and
leaves exactly the state that ``learn_one`` value by value would. ``score_learn_many(X)`` does both
value by value — each value scored, then learned — exactly as a ``score_one``/``learn_one`` loop,
but vectorised (the live service and the benchmarks use :func:`werk.analytics.detectors.judge`
instead, which learns only what was not anomalous).

Speed (``benchmarks/anomaly_eval.py --speed``: score_many + learn_many, batches of 1000 values,
one core of the 2-core development machine): robust-z (window 2048) 0.07 µs a value (its medians
are recomputed every ``refresh`` learned values, O(window)), ewma 0.02 µs, seasonal 0.06 µs.
No per-value Python; a call
costs ~10-30 µs of fixed numpy overhead, so batches of a few values per signal cost more a value.
"""

from __future__ import annotations

import math

import numpy as np

from werk.analytics.base import FloatArray
from werk.core import MissingExtraError, ValidationError

_MAD_TO_SIGMA = 1.4826  # σ = 1.4826 · MAD for normal data
_MEAN_AD_TO_SIGMA = 1.2533  # σ = 1.2533 · mean |x - centre| for normal data
_TINY = 1e-12
_CHUNK = 4096  # values per vectorised step of score_learn_many (bounds its memory)


def _as_values(X: float | FloatArray) -> FloatArray:
    values = np.asarray(X, dtype=np.float64)
    if values.ndim == 0:
        return values.reshape(1)
    if values.ndim != 1:
        raise ValidationError(
            f"a univariate detector takes a 1-D array, got shape {values.shape}",
            field="X",
            rule="1-D",
        )
    return values


def _lfilter(b: list[float], a: list[float], x: FloatArray, zi: FloatArray) -> FloatArray:
    """``scipy.signal.lfilter`` with an initial state: a recursive filter run in C."""
    try:
        from scipy.signal import lfilter
    except ImportError as error:  # pragma: no cover - scipy comes with werk[analytics]
        raise MissingExtraError("scipy", "analytics") from error
    out, _ = lfilter(b, a, x, zi=zi)
    return np.asarray(out, dtype=np.float64)


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValidationError(f"{name} must be > 0, got {value}", field=name, rule="> 0")


def _middle(values: FloatArray) -> float:
    """The median by ``np.partition`` (a quarter of ``np.median``'s cost on 256 values)."""
    half = len(values) // 2
    if len(values) % 2:
        return float(np.partition(values, half)[half])
    low, high = np.partition(values, [half - 1, half])[half - 1 : half + 1]
    return 0.5 * float(low + high)


def _robust(values: FloatArray, min_scale: float) -> tuple[float, float]:
    """Median and robust σ (1.4826·MAD, or 1.2533·mean absolute deviation where the MAD is 0)."""
    centre = _middle(values)
    deviation = np.abs(values - centre)
    mad = _middle(deviation)
    spread = _MAD_TO_SIGMA * mad if mad > 0 else _MEAN_AD_TO_SIGMA * float(deviation.mean())
    return centre, max(spread, min_scale)


class RobustZ:
    """Robust z-score against the median and MAD of the last ``window`` learned values.

    ``score = |x - median| / (threshold · σ̂)``, ``σ̂ = 1.4826·MAD`` (``1.2533·mean|x - median|``
    where the MAD is 0), at least ``min_scale``. Judging starts after ``warmup`` learned values
    (default: ``window`` or 256, whichever is smaller — 256 values already give a steady median
    and MAD) while the window goes on filling up to ``window``.

    The median and MAD are **refreshed every ``refresh`` learned values** (default
    ``window // 8``, at least 1): after the n-th learned value they are those of the window ending
    at the last multiple of ``refresh`` <= n. Scores are NaN until the first refresh at or after
    ``warmup`` learned values. Why: the service learns each signal's batch (often a few dozen
    values) at once, and the two medians of the window were the main cost of the analytics; a
    reference that lags by under 1/8 of its window changes what it calls normal very little.
    The medians use ``np.partition`` (about a third of ``np.median``'s cost).

    Micro-benchmark (2-core development machine, before and after in the same run;
    score_many + learn_many per call, batches of 50 values as the throughput benchmark sends):
    window 256 with both medians on every call (before) 37 µs a call, 20 µs now (refresh 32);
    window 2048: 80 µs before, 16.5 µs with ``refresh`` 256 and ``np.partition`` (the default).
    """

    def __init__(
        self,
        window: int = 2048,
        threshold: float = 6.0,
        warmup: int | None = None,
        min_scale: float = 1e-9,
        refresh: int | None = None,
    ) -> None:
        if window < 3:
            raise ValidationError("window must be >= 3", field="window", rule=">= 3")
        _positive("threshold", threshold)
        self.window = int(window)
        self.threshold = float(threshold)
        self.warmup = max(3, int(min(self.window, 256) if warmup is None else warmup))
        self.min_scale = float(min_scale)
        self.refresh = max(1, int(self.window // 8 if refresh is None else refresh))
        self._capacity = self.window + self.refresh  # the window at the last refresh, and since
        self._buffer = np.empty(self._capacity)
        self._count = 0  # values learned in all
        self._checkpoint = 0  # the count at which the statistics were last computed
        self._centre = math.nan
        self._scale = math.nan

    @property
    def count(self) -> int:
        """How many values were learned."""
        return self._count

    def _recent(self) -> FloatArray:
        """The learned values still in the buffer, oldest first."""
        if self._count < self._capacity:
            return self._buffer[: self._count]
        start = self._count % self._capacity
        return np.concatenate((self._buffer[start:], self._buffer[:start]))

    def _checkpoint_of(self, count: int) -> int:
        """The count at which the statistics used after ``count`` learned values were taken."""
        checkpoint = count // self.refresh * self.refresh
        return checkpoint if checkpoint >= self.warmup else 0

    def learn_many(self, X: FloatArray) -> None:
        values = _as_values(X)
        finite = values[np.isfinite(values)]
        total = len(finite)
        if total == 0:
            return
        keep = min(total, self._capacity)
        slots = (self._count + np.arange(total - keep, total)) % self._capacity
        self._buffer[slots] = finite[total - keep :]
        self._count += total
        checkpoint = self._checkpoint_of(self._count)
        if checkpoint != self._checkpoint:
            self._checkpoint = checkpoint
            recent = self._recent()
            first = len(recent) - (self._count - checkpoint)  # index of value #checkpoint
            self._centre, self._scale = _robust(
                recent[max(0, first - self.window) : first], self.min_scale
            )

    def score_many(self, X: FloatArray) -> FloatArray:
        values = _as_values(X)
        return np.abs(values - self._centre) / (self.threshold * self._scale)

    def score_learn_many(self, X: FloatArray) -> FloatArray:
        """Score each value against the statistics in force before it, then learn it
        (prequential): exactly a ``score_one``/``learn_one`` loop, vectorised."""
        values = _as_values(X)
        if len(values) > _CHUNK:
            return np.concatenate(
                [
                    self.score_learn_many(values[i : i + _CHUNK])
                    for i in range(0, len(values), _CHUNK)
                ]
            )
        finite = np.isfinite(values)
        before = self._count + np.cumsum(finite) - finite  # values learned before each value
        checkpoint = before // self.refresh * self.refresh
        ready = checkpoint >= self.warmup
        scores = np.full(len(values), np.nan)
        if ready.any():
            recent = self._recent()
            start = self._count - len(recent)  # the count of recent[0]
            history = np.concatenate((np.full(self.window, np.nan), recent, values[finite]))
            views = np.lib.stride_tricks.sliding_window_view(history, self.window)
            # views[r] holds history[r : r + window]; the window ending before value #c (counted
            # from the first value learned) starts at history index window + c - start - window
            points, which = np.unique(checkpoint[ready], return_inverse=True)
            rows = views[points - start]
            complete = points >= self.window
            centre = np.full(len(points), np.nan)
            scale = np.full(len(points), np.nan)
            for subset, median, mean in (
                (complete, np.median, np.mean),
                (~complete, np.nanmedian, np.nanmean),
            ):
                if subset.any():
                    part = rows[subset]
                    middle = median(part, axis=1)
                    deviation = np.abs(part - middle[:, None])
                    mad = median(deviation, axis=1)
                    spread = np.where(
                        mad > 0, _MAD_TO_SIGMA * mad, _MEAN_AD_TO_SIGMA * mean(deviation, axis=1)
                    )
                    centre[subset] = middle
                    scale[subset] = np.maximum(spread, self.min_scale)
            judged = values[ready]
            scores[ready] = np.abs(judged - centre[which]) / (self.threshold * scale[which])
        self.learn_many(values)
        return scores

    def learn_one(self, x: float | FloatArray) -> None:
        self.learn_many(_as_values(x))

    def score_one(self, x: float | FloatArray) -> float:
        return float(self.score_many(_as_values(x))[0])


class EWMAChart:
    """EWMA control chart with limits from the first ``warmup`` values.

    ``score = |z - μ0| / (L · σ · √(λ/(2-λ)))`` where ``z`` includes the scored value; ``σ`` is
    the mean moving range / 1.128 (robust to a slow drift in the warm-up data).
    """

    def __init__(self, lam: float = 0.2, L: float = 3.0, warmup: int = 100) -> None:
        if not 0 < lam <= 1:
            raise ValidationError("lam must be in (0, 1]", field="lam", rule="0 < lam <= 1")
        _positive("L", L)
        if warmup < 3:
            raise ValidationError("warmup must be >= 3", field="warmup", rule=">= 3")
        self.lam = float(lam)
        self.L = float(L)
        self.warmup = int(warmup)
        self._phase1: list[FloatArray] = []
        self._count = 0
        self._z = math.nan
        self._mu = math.nan
        self._limit = math.nan

    @property
    def count(self) -> int:
        return self._count

    def _chain(self, values: FloatArray) -> FloatArray:
        """The chart statistic after each value, starting from the current ``z``."""
        return _lfilter(
            [self.lam], [1.0, self.lam - 1.0], values, np.array([(1.0 - self.lam) * self._z])
        )

    def learn_many(self, X: FloatArray) -> None:
        values = _as_values(X)
        values = values[np.isfinite(values)]
        if len(values) == 0:
            return
        if self._count < self.warmup:
            need = self.warmup - self._count
            self._phase1.append(values[:need])
            self._count += min(need, len(values))
            if self._count < self.warmup:
                return
            base = np.concatenate(self._phase1)
            self._phase1 = []
            self._mu = float(base.mean())
            sigma = float(np.abs(np.diff(base)).mean()) / 1.128
            sigma = max(sigma, _TINY * max(1.0, abs(self._mu)))
            self._limit = self.L * sigma * math.sqrt(self.lam / (2.0 - self.lam))
            self._z = self._mu
            values = values[need:]
            if len(values) == 0:
                return
        self._z = float(self._chain(values)[-1])
        self._count += len(values)

    def score_many(self, X: FloatArray) -> FloatArray:
        values = _as_values(X)
        z = self.lam * values + (1.0 - self.lam) * self._z
        return np.abs(z - self._mu) / self._limit

    def score_learn_many(self, X: FloatArray) -> FloatArray:
        """Score each value, then learn it (prequential), vectorised."""
        values = _as_values(X)
        scores = np.full(len(values), np.nan)
        finite = np.isfinite(values)
        if self._count < self.warmup:
            seen = self._count + np.cumsum(finite)
            cold = int(np.searchsorted(seen, self.warmup, side="left")) + 1  # incl. last warm-up
            cold = min(cold, len(values))
            self.learn_many(values[:cold])
            values, finite, offset = values[cold:], finite[cold:], cold
        else:
            offset = 0
        if len(values):
            chained = np.full(len(values), np.nan)
            chained[finite] = self._chain(values[finite])
            scores[offset:] = np.abs(chained - self._mu) / self._limit
            if finite.any():
                self._z = float(chained[finite][-1])
                self._count += int(finite.sum())
        return scores

    def learn_one(self, x: float | FloatArray) -> None:
        self.learn_many(_as_values(x))

    def score_one(self, x: float | FloatArray) -> float:
        return float(self.score_many(_as_values(x))[0])


class Seasonal:
    """Residual against a profile by phase of a known ``period`` (in samples).

    Each phase slot keeps an exponentially weighted mean (weight ``alpha``); the spread is an
    exponentially weighted mean absolute residual over all slots (weight ``1 / period``, at least
    0.001: a memory of about one period). NaN until ``warmup_cycles`` periods are learned. Values
    are assumed evenly sampled: the n-th learned value has phase ``n mod period``; a NaN value
    keeps its place in the cycle and is not learned.
    """

    def __init__(
        self,
        period: int,
        alpha: float = 0.1,
        threshold: float = 6.0,
        warmup_cycles: int = 2,
    ) -> None:
        if period < 2:
            raise ValidationError("period must be >= 2", field="period", rule=">= 2")
        if not 0 < alpha <= 1:
            raise ValidationError("alpha must be in (0, 1]", field="alpha", rule="0 < a <= 1")
        _positive("threshold", threshold)
        self.period = int(period)
        self.alpha = float(alpha)
        self.threshold = float(threshold)
        self.warmup = max(1, int(warmup_cycles)) * self.period
        self._spread_alpha = max(1.0 / self.period, 0.001)
        self._profile = np.full(self.period, np.nan)
        self._spread = math.nan
        self._count = 0

    @property
    def count(self) -> int:
        return self._count

    def _residuals(self, values: FloatArray, start: int) -> FloatArray:
        phase = (start + np.arange(len(values))) % self.period
        residuals: FloatArray = values - self._profile[phase]
        return residuals

    def score_many(self, X: FloatArray) -> FloatArray:
        values = _as_values(X)
        if self._count < self.warmup:
            return np.full(len(values), np.nan)
        scale = self.threshold * max(_MEAN_AD_TO_SIGMA * self._spread, _TINY)
        return np.abs(self._residuals(values, self._count)) / scale

    def learn_many(self, X: FloatArray) -> None:
        self.score_learn_many(X)

    def score_learn_many(self, X: FloatArray) -> FloatArray:
        """Score each value against the profile learned before it, then learn it."""
        values = _as_values(X)
        scores = np.full(len(values), np.nan)
        # within one period each slot is visited at most once, so per chunk of <= period values
        # every value sees its slot's profile as it was before the chunk: exact and vectorised
        for begin in range(0, len(values), self.period):
            chunk = values[begin : begin + self.period]
            counts = self._count + np.arange(len(chunk))
            phase = counts % self.period
            profile = self._profile[phase]
            residual = chunk - profile
            known = ~np.isnan(residual)  # fresh slots (first cycle) and NaN values are not
            spread_before, self._spread = self._spread_chain(np.abs(residual[known]))
            before = np.full(len(chunk), np.nan)
            before[known] = spread_before
            ready = known & (counts >= self.warmup)
            scale = self.threshold * np.maximum(_MEAN_AD_TO_SIGMA * before[ready], _TINY)
            scores[begin + np.flatnonzero(ready)] = np.abs(residual[ready]) / scale
            fresh = np.isnan(profile) & np.isfinite(chunk)
            self._profile[phase[fresh]] = chunk[fresh]
            self._profile[phase[known]] = profile[known] + self.alpha * residual[known]
            self._count += len(chunk)
        return scores

    def _spread_chain(self, magnitudes: FloatArray) -> tuple[FloatArray, float]:
        """The spread before each magnitude is learned, and the spread after the last."""
        if len(magnitudes) == 0:
            return magnitudes, self._spread
        start = self._spread
        head = np.array([start])
        if math.isnan(start):  # the first known residual starts the average
            start, magnitudes, head = float(magnitudes[0]), magnitudes[1:], np.array([np.nan])
            if len(magnitudes) == 0:
                return head, start
        a = self._spread_alpha
        after = _lfilter([a], [1.0, a - 1.0], magnitudes, np.array([(1.0 - a) * start]))
        if math.isnan(self._spread):
            return np.concatenate((head, [start], after[:-1])), float(after[-1])
        return np.concatenate((head, after[:-1])), float(after[-1])

    def learn_one(self, x: float | FloatArray) -> None:
        self.learn_many(_as_values(x))

    def score_one(self, x: float | FloatArray) -> float:
        return float(self.score_many(_as_values(x))[0])

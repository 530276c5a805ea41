"""Before and after a change: did a KPI move, by how much, and how sure can we be?

A plant marks a change ("new detector thresholds on 2026-12-01") and later asks whether daily
OEE, scrap rate or downtime got better. :func:`compare` takes the KPI's samples before and after
(one per day, typically) and answers with both means, the difference *after − before*, a
confidence interval for it and a plain verdict.

Two intervals:

* **Welch's t** (unequal variances; ``scipy.stats.ttest_ind(equal_var=False)``) — the default,
  right for roughly normal daily figures, and honest with unequal spreads or sample sizes.
* **bootstrap** (percentile interval of the difference of means over resamples of each side) —
  for skewed figures such as downtime minutes, where a few bad days dominate. With very few
  days it is too narrow (it cannot see variation it has not sampled); prefer Welch there.

The verdict is "better" or "worse" when the interval excludes zero (which way is better depends
on the KPI: OEE up, scrap down), else "no significant change". Days are treated as independent;
a strong weekly rhythm or a trend that began before the change breaks that and the verdict
should be read with it in mind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from werk.core import MissingExtraError, ValidationError

Method = Literal["welch", "bootstrap"]
Verdict = Literal["better", "worse", "no significant change"]
METHODS: tuple[str, ...] = ("welch", "bootstrap")
BOOTSTRAP_RESAMPLES = 10_000


@dataclass(frozen=True, slots=True)
class Comparison:
    method: str
    confidence: float
    higher_is_better: bool
    n_before: int
    n_after: int
    mean_before: float
    mean_after: float
    difference: float  # after − before
    low: float  # the interval for the difference
    high: float
    p_value: float | None  # Welch's two-sided p (None for the bootstrap)
    verdict: Verdict

    @property
    def relative(self) -> float | None:
        """The difference as a share of the mean before (None when that is 0)."""
        return self.difference / abs(self.mean_before) if self.mean_before else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "confidence": self.confidence,
            "higher_is_better": self.higher_is_better,
            "before": {"n": self.n_before, "mean": self.mean_before},
            "after": {"n": self.n_after, "mean": self.mean_after},
            "difference": self.difference,
            "relative": self.relative,
            "interval": [self.low, self.high],
            "p_value": self.p_value,
            "verdict": self.verdict,
        }


def _sample(values: npt.ArrayLike, field: str) -> npt.NDArray[np.float64]:
    x = np.asarray(values, np.float64).ravel()
    x = x[np.isfinite(x)]
    if len(x) < 2:
        raise ValidationError(
            f"{field}: at least 2 values are needed to compare, got {len(x)}",
            field=field,
            rule="too-short",
        )
    return x


def compare(
    before: npt.ArrayLike,
    after: npt.ArrayLike,
    *,
    higher_is_better: bool = True,
    confidence: float = 0.95,
    method: str = "welch",
    seed: int = 0,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> Comparison:
    """Compare two samples of a KPI (NaN left out); the difference is *after − before*."""
    if not 0.5 <= confidence < 1:
        raise ValidationError(
            f"confidence {confidence}: between 0.5 and 1 (e.g. 0.95)",
            field="confidence",
            rule="range",
        )
    if method not in METHODS:
        raise ValidationError(
            f"unknown method {method!r}: welch or bootstrap", field="method", rule="method"
        )
    x0, x1 = _sample(before, "before"), _sample(after, "after")
    difference = float(x1.mean() - x0.mean())
    p_value: float | None = None
    if method == "welch":
        low, high, p_value = _welch(x0, x1, confidence)
    else:
        low, high = _bootstrap(x0, x1, confidence, seed, resamples)
    if low > 0 or high < 0:
        verdict: Verdict = "better" if (difference > 0) == higher_is_better else "worse"
    else:
        verdict = "no significant change"
    return Comparison(
        method,
        confidence,
        higher_is_better,
        len(x0),
        len(x1),
        float(x0.mean()),
        float(x1.mean()),
        difference,
        low,
        high,
        p_value,
        verdict,
    )


def _welch(
    x0: npt.NDArray[np.float64], x1: npt.NDArray[np.float64], confidence: float
) -> tuple[float, float, float]:
    try:
        from scipy import stats
    except ImportError as error:  # pragma: no cover - scipy ships with the analytics extra
        raise MissingExtraError("scipy", "analytics") from error
    difference = float(x1.mean() - x0.mean())
    v0, v1 = x0.var(ddof=1) / len(x0), x1.var(ddof=1) / len(x1)
    se = math.sqrt(v0 + v1)
    if se == 0:  # both sides constant: the difference is exact
        return difference, difference, 0.0 if difference else 1.0
    # Welch–Satterthwaite degrees of freedom
    df = (v0 + v1) ** 2 / (v0**2 / (len(x0) - 1) + v1**2 / (len(x1) - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
    p = float(stats.ttest_ind(x1, x0, equal_var=False).pvalue)
    return difference - half, difference + half, p


def _bootstrap(
    x0: npt.NDArray[np.float64],
    x1: npt.NDArray[np.float64],
    confidence: float,
    seed: int,
    resamples: int,
) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    means0 = x0[rng.integers(0, len(x0), (resamples, len(x0)))].mean(axis=1)
    means1 = x1[rng.integers(0, len(x1), (resamples, len(x1)))].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means1 - means0, [tail, 1 - tail])
    return float(low), float(high)

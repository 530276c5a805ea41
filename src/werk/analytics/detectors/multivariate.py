"""Multivariate detectors: one per machine, over a row of its signals at each time step.

A machine's signals move together (a pump's current, pressure and flow); an anomaly often shows as
a broken relation rather than one signal out of range. Each detector here learns normal rows during
a **warm-up** (the first ``warmup`` rows given to ``learn_many``/``learn_one``, or ``fit``), then
holds that model and scores rows; a score of 1.0 or more is anomalous, NaN before the model is
fitted. Every one also says which inputs made a row odd (``contributions``: shares summing to 1),
so the anomaly event can name its top contributing signals.

* :class:`PCAT2Q` (``"pca"``) — principal component analysis of the standardised warm-up rows;
  Hotelling's **T²** in the retained components (``variance`` of the variance) and the **Q**
  statistic (squared prediction error) in the rest, each against its control limit at
  ``confidence`` from the warm-up data alone: T² by the F distribution for a new observation,
  Q by Jackson and Mudholkar (1979). ``score = max(T²/T²_lim, Q/Q_lim)``. Contributions: of the
  statistic that is further over its limit — Q: each input's squared residual; T²: each input's
  term of ``zᵀ P Λ⁻¹ Pᵀ z`` (negative terms count 0).
* :class:`IsolationForest` (``"iforest"``) — scikit-learn's isolation forest on the standardised
  warm-up rows; the limit is the ``quantile`` (99 %) of the warm-up rows' own anomaly scores.
  Its score saturates at the edge of the training range of a single input (splits are drawn
  inside that range), so a row far out on one input only is scored about like the most extreme
  warm-up row: use it for anomalies that show on several inputs. Contributions: each input's
  standardised deviation from its warm-up median.
* :class:`HalfSpaceTrees` (``"hst"``) — river's streaming half-space trees on inputs scaled to
  [0, 1] by the warm-up range; keeps learning after warm-up (it forgets with its window); limit as
  for the isolation forest. Contributions as for the isolation forest. One row at a time in
  Python (river's design): ~50 µs a row, for slow machines, not the hot path.

Inputs that do not vary during warm-up carry no information about normal spread and are left out
of the model (their share is 0), as SKAB's reference T²+Q does.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from werk.analytics.base import FloatArray
from werk.core import MissingExtraError, ValidationError


def _rows(X: FloatArray) -> FloatArray:
    rows = np.asarray(X, dtype=np.float64)
    if rows.ndim == 1:
        rows = rows.reshape(1, -1)
    if rows.ndim != 2:
        raise ValidationError(
            f"a multivariate detector takes rows (2-D), got shape {rows.shape}",
            field="X",
            rule="2-D",
        )
    return rows


def _rolling_mean(rows: FloatArray, tail: FloatArray, span: int) -> tuple[FloatArray, FloatArray]:
    """Each row replaced by the mean of it and the complete rows before it, ``span`` in all
    (fewer at the start of the stream); ``tail`` holds the last ``span - 1`` complete rows of the
    previous call and the new tail is returned. Rows with a missing value stay as they are (they
    are not judged) and are not averaged into later rows."""
    if span <= 1 or not len(rows):
        return rows, tail
    complete = np.isfinite(rows).all(axis=1)
    if tail.shape[1:] != rows.shape[1:]:
        tail = np.zeros((0, rows.shape[1]))
    history = np.concatenate((tail, rows[complete]))
    totals = np.concatenate((np.zeros((1, rows.shape[1])), np.cumsum(history, axis=0)))
    end = np.arange(len(tail) + 1, len(history) + 1)
    start = np.maximum(end - span, 0)
    out = rows.copy()
    out[complete] = (totals[end] - totals[start]) / (end - start)[:, None]
    return out, history[max(0, len(history) - (span - 1)) :]


class _WarmUp:
    """Collects the first ``warmup`` complete rows, then fits once."""

    def __init__(self, warmup: int) -> None:
        if warmup < 3:
            raise ValidationError("warmup must be >= 3", field="warmup", rule=">= 3")
        self.warmup = int(warmup)
        self._pending: list[FloatArray] = []
        self._pending_rows = 0
        self.fitted = False
        self.columns = 0
        self._used = np.zeros(0, dtype=bool)
        self._mean = np.zeros(0)
        self._std = np.ones(0)

    def learn_many(self, X: FloatArray) -> None:
        rows = _rows(X)
        if self.fitted:
            self._learn_fitted(rows)
            return
        rows = rows[np.isfinite(rows).all(axis=1)]
        need = self.warmup - self._pending_rows
        self._pending.append(rows[:need])
        self._pending_rows += min(need, len(rows))
        if self._pending_rows >= self.warmup:
            self.fit(np.concatenate(self._pending))
            self._pending = []
            if len(rows) > need:
                self._learn_fitted(rows[need:])

    def learn_one(self, x: float | FloatArray) -> None:
        self.learn_many(_rows(np.asarray(x, dtype=np.float64)))

    def score_one(self, x: float | FloatArray) -> float:
        return float(self.score_many(_rows(np.asarray(x, dtype=np.float64)))[0])

    def _learn_fitted(self, rows: FloatArray) -> None:
        """What learning means once fitted: nothing, unless the detector keeps learning."""

    def score_many(self, X: FloatArray) -> FloatArray:
        raise NotImplementedError

    def fit(self, X: FloatArray) -> None:
        """Fit on normal rows (the warm-up) at once."""
        rows = _rows(X)
        rows = rows[np.isfinite(rows).all(axis=1)]
        if len(rows) < 3:
            raise ValidationError("fit needs >= 3 complete rows", field="X", rule=">= 3 rows")
        self.columns = rows.shape[1]
        spread = rows.std(axis=0, ddof=1)
        scale = np.maximum(np.abs(rows).max(axis=0), 1.0)
        self._used = spread > 1e-9 * scale
        if not self._used.any():
            raise ValidationError(
                "no input varies in the fitting rows", field="X", rule="some input varies"
            )
        self._mean = rows.mean(axis=0)
        self._std = np.where(self._used, spread, 1.0)
        self._fit(self._standardise(rows))
        self.fitted = True

    def _fit(self, Z: FloatArray) -> None:
        raise NotImplementedError

    def _standardise(self, rows: FloatArray) -> FloatArray:
        return ((rows - self._mean) / self._std)[:, self._used]

    def _check(self, rows: FloatArray) -> None:
        if rows.shape[1] != self.columns:
            raise ValidationError(
                f"rows have {rows.shape[1]} inputs, the model {self.columns}",
                field="X",
                rule="same inputs as the fitting rows",
            )

    def _spread(self, used_shares: FloatArray) -> FloatArray:
        """Shares over the used inputs -> shares over all inputs (0 for unused), summing to 1."""
        shares = np.zeros((used_shares.shape[0], self.columns))
        shares[:, self._used] = used_shares
        total = shares.sum(axis=1, keepdims=True)
        uniform = np.where(self._used, 1.0 / self._used.sum(), 0.0)
        return np.where(total > 0, shares / np.where(total > 0, total, 1.0), uniform)

    def contributions(self, x: FloatArray) -> FloatArray:
        """One share per input (non-negative, summing to 1): how much each made ``x`` odd."""
        shares: FloatArray = self.contributions_many(_rows(x))[0]
        return shares

    def contributions_many(self, X: FloatArray) -> FloatArray:
        rows = _rows(X)
        if not self.fitted:
            return np.full(rows.shape, 1.0 / max(rows.shape[1], 1))
        self._check(rows)
        return self._spread(self._contributions(self._standardise(rows)))

    def _contributions(self, Z: FloatArray) -> FloatArray:
        """Default: each input's deviation from normal, |z|."""
        return np.abs(np.nan_to_num(Z))


class PCAT2Q(_WarmUp):
    """Hotelling's T² and Q (SPE) on a PCA of the warm-up rows, with control limits."""

    def __init__(
        self,
        warmup: int = 400,
        variance: float = 0.85,
        confidence: float = 0.999,
        smooth: int = 3,
    ) -> None:
        super().__init__(warmup)
        if not 0 < variance <= 1:
            raise ValidationError("variance must be in (0, 1]", field="variance", rule="(0, 1]")
        if not 0.5 < confidence < 1:
            raise ValidationError("confidence in (0.5, 1)", field="confidence", rule="(0.5, 1)")
        if smooth < 1:
            raise ValidationError("smooth must be >= 1", field="smooth", rule=">= 1")
        self.variance = float(variance)
        self.confidence = float(confidence)
        self.smooth = int(smooth)
        self._learned_tail = np.zeros((0, 0))
        self._scored_tail = np.zeros((0, 0))
        self.components = 0
        self.t2_limit = math.nan
        self.q_limit = math.inf
        self._loadings = np.zeros((0, 0))
        self._eigen = np.zeros(0)

    def _fit(self, Z: FloatArray) -> None:
        try:
            from scipy import stats
        except ImportError as error:  # pragma: no cover - scipy comes with werk[analytics]
            raise MissingExtraError("scipy", "analytics") from error
        n, m = Z.shape
        _, singular, vt = np.linalg.svd(Z - Z.mean(axis=0), full_matrices=False)
        eigen = singular**2 / (n - 1)
        ratio = np.cumsum(eigen) / eigen.sum()
        k = int(min(np.searchsorted(ratio, self.variance, side="left") + 1, m, n - 1))
        self.components = k
        self._loadings = vt[:k].T  # m × k
        self._eigen = np.maximum(eigen[:k], 1e-12)
        f = float(stats.f.ppf(self.confidence, k, n - k))
        self.t2_limit = k * (n - 1) * (n + 1) / (n * (n - k)) * f
        rest = eigen[k:]
        theta = [float((rest**i).sum()) for i in (1, 2, 3)]
        if k >= m or theta[0] <= 1e-12:
            self.q_limit = math.inf
            return
        h0 = 1.0 - 2.0 * theta[0] * theta[2] / (3.0 * theta[1] ** 2)
        c = float(stats.norm.ppf(self.confidence))
        if h0 <= 0:  # degenerate spectrum: fall back to the chi-square approximation
            g = theta[1] / theta[0]
            self.q_limit = g * float(stats.chi2.ppf(self.confidence, theta[0] ** 2 / theta[1]))
            return
        self.q_limit = theta[0] * (
            c * h0 * math.sqrt(2.0 * theta[1]) / theta[0]
            + 1.0
            + theta[1] * h0 * (h0 - 1.0) / theta[0] ** 2
        ) ** (1.0 / h0)

    def statistics(self, X: FloatArray) -> tuple[FloatArray, FloatArray]:
        """T² and Q of each row (NaN before the fit)."""
        rows = _rows(X)
        if not self.fitted:
            nan = np.full(len(rows), np.nan)
            return nan, nan
        self._check(rows)
        Z = self._standardise(rows)
        scores = Z @ self._loadings
        t2 = (scores**2 / self._eigen).sum(axis=1)
        residual = Z - scores @ self._loadings.T
        return t2, (residual**2).sum(axis=1)

    def learn_many(self, X: FloatArray) -> None:
        rows, self._learned_tail = _rolling_mean(_rows(X), self._learned_tail, self.smooth)
        super().learn_many(rows)

    def score_many(self, X: FloatArray) -> FloatArray:
        """T²/T²lim or Q/Qlim, whichever is larger, of each row (of its rolling mean over the
        ``smooth`` rows scored up to it: with ``smooth`` > 1, each call continues the rows of
        the call before)."""
        rows, self._scored_tail = _rolling_mean(_rows(X), self._scored_tail, self.smooth)
        t2, q = self.statistics(rows)
        return np.maximum(t2 / self.t2_limit, q / self.q_limit)

    def _contributions(self, Z: FloatArray) -> FloatArray:
        scores = Z @ self._loadings
        residual = Z - scores @ self._loadings.T
        q = residual**2
        t2 = np.maximum(Z * ((scores / self._eigen) @ self._loadings.T), 0.0)
        q_ratio = q.sum(axis=1) / self.q_limit
        t2_ratio = t2.sum(axis=1) / self.t2_limit
        return np.where((q_ratio >= t2_ratio)[:, None], q, t2)


class IsolationForest(_WarmUp):
    """scikit-learn's isolation forest, fitted on the warm-up rows."""

    def __init__(
        self,
        warmup: int = 400,
        quantile: float = 0.99,
        trees: int = 200,
        seed: int = 0,
    ) -> None:
        super().__init__(warmup)
        if not 0 < quantile <= 1:
            raise ValidationError("quantile must be in (0, 1]", field="quantile", rule="(0, 1]")
        self.quantile = float(quantile)
        self.trees = int(trees)
        self.seed = int(seed)
        self.limit = math.nan
        self._forest: Any = None
        self._median = np.zeros(0)
        self._spread_scale = np.ones(0)

    def _fit(self, Z: FloatArray) -> None:
        try:
            from sklearn.ensemble import IsolationForest as Forest
        except ImportError as error:
            raise MissingExtraError("scikit-learn", "analytics") from error
        self._forest = Forest(n_estimators=self.trees, random_state=self.seed).fit(Z)
        self.limit = float(np.quantile(-self._forest.score_samples(Z), self.quantile))
        self._median = np.median(Z, axis=0)
        mad = np.median(np.abs(Z - self._median), axis=0) * 1.4826
        self._spread_scale = np.where(mad > 1e-9, mad, 1.0)

    def score_many(self, X: FloatArray) -> FloatArray:
        rows = _rows(X)
        if not self.fitted:
            return np.full(len(rows), np.nan)
        self._check(rows)
        Z = self._standardise(rows)
        ok = np.isfinite(Z).all(axis=1)
        scores = np.full(len(rows), np.nan)
        if ok.any():
            scores[ok] = -self._forest.score_samples(Z[ok]) / self.limit
        return scores

    def _contributions(self, Z: FloatArray) -> FloatArray:
        return np.abs(np.nan_to_num((Z - self._median) / self._spread_scale))


class HalfSpaceTrees(_WarmUp):
    """river's half-space trees: streaming, keeps learning after the warm-up."""

    def __init__(
        self,
        warmup: int = 400,
        quantile: float = 0.995,
        trees: int = 25,
        height: int = 15,
        window: int = 250,
        seed: int = 0,
    ) -> None:
        super().__init__(warmup)
        self.quantile = float(quantile)
        self.trees, self.height, self.window, self.seed = trees, height, window, seed
        self.limit = math.nan
        self._model: Any = None
        self._low = np.zeros(0)
        self._span = np.ones(0)

    def _fit(self, Z: FloatArray) -> None:
        try:
            from river.anomaly import HalfSpaceTrees as Trees
        except ImportError as error:
            raise MissingExtraError("river", "analytics") from error
        self._low = Z.min(axis=0)
        self._span = np.maximum(Z.max(axis=0) - self._low, 1e-9)
        self._model = Trees(
            n_trees=self.trees, height=self.height, window_size=self.window, seed=self.seed
        )
        scaled = self._scale(Z)
        for row in scaled:
            self._model.learn_one(row)
        training = np.array([self._model.score_one(row) for row in scaled])
        self.limit = max(float(np.quantile(training, self.quantile)), 1e-9)

    def _scale(self, Z: FloatArray) -> list[dict[int, float]]:
        # a quarter of the warm-up range of margin each side, clipped into [0, 1]
        unit = np.clip((Z - self._low) / self._span * 0.5 + 0.25, 0.0, 1.0)
        return [dict(enumerate(row.tolist())) for row in unit]

    def _learn_fitted(self, rows: FloatArray) -> None:
        self._check(rows)
        Z = self._standardise(rows[np.isfinite(rows).all(axis=1)])
        for row in self._scale(Z):
            self._model.learn_one(row)

    def score_many(self, X: FloatArray) -> FloatArray:
        rows = _rows(X)
        if not self.fitted:
            return np.full(len(rows), np.nan)
        self._check(rows)
        Z = self._standardise(rows)
        scores = np.full(len(rows), np.nan)
        ok = np.flatnonzero(np.isfinite(Z).all(axis=1))
        for index, row in zip(ok, self._scale(Z[ok]), strict=True):
            scores[index] = self._model.score_one(row) / self.limit
        return scores

"""Features over sliding windows: what the models see of a run at each cycle.

Fitted on training runs, then applied unchanged to test runs and to live data:

1. operating conditions are found (:mod:`werk.maintenance.conditions`) and each sensor is
   normalised per condition (z-score against that condition's mean and spread in training);
2. sensors that carry no trend are dropped (at most two distinct values in every condition);
3. a *fused* indicator is added: the least-squares combination of the normalised sensors that
   best follows the (capped) remaining life. One noisy sensor says little; the fusion averages the
   noise away, and trees split on one good variable better than on fourteen weak ones;
4. per run, for every kept sensor and the fusion, causally (row ``t`` sees rows ``<= t`` only):
   rolling means, standard deviations and least-squares slopes over several windows, exponential
   moving averages, and the drift of the slow average from the run's own start (each engine is
   built a little differently; its first cycles are its own baseline);
5. the cycle count since the run began.

Windows shorter than the run so far use the rows there are (a new run has features from its
first cycle). Missing readings are carried forward within a run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from werk.maintenance.conditions import Conditions, find_conditions
from werk.maintenance.errors import DatasetError
from werk.maintenance.histories import FloatArray, Histories, IntArray


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    """Which features to compute; the defaults are the ones validated on C-MAPSS (by engine)."""

    mean_windows: tuple[int, ...] = (5, 10, 20, 30)
    std_windows: tuple[int, ...] = (10, 30)
    slope_windows: tuple[int, ...] = (10, 20, 30)
    ewm_spans: tuple[int, ...] = (10, 30)
    baseline_cycles: int = 20
    conditions: int | None = None
    """Number of operating conditions; ``None`` finds it from the settings."""
    fused: bool = True
    cycle: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> FeatureConfig:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(raw) - known
        if unknown:
            raise DatasetError(
                f"unknown feature option(s): {', '.join(sorted(unknown))}",
                field="features",
                rule="known-keys",
            )
        values = dict(raw)
        for key in ("mean_windows", "std_windows", "slope_windows", "ewm_spans"):
            if key in values:
                values[key] = tuple(int(v) for v in values[key])
        return cls(**values)


@dataclass(frozen=True, slots=True, eq=False)
class FeaturePipeline:
    """The fitted transformation from histories to a feature matrix."""

    config: FeatureConfig
    conditions: Conditions
    sensor_names: tuple[str, ...]
    """All sensors of the input, in input order (the columns a caller must give)."""
    kept: tuple[int, ...]
    """Indexes into ``sensor_names`` of the sensors used."""
    mean: FloatArray
    """Per condition and kept sensor, shape (conditions, kept)."""
    scale: FloatArray
    fused_weights: FloatArray
    names: tuple[str, ...] = field(default=())

    @property
    def kept_names(self) -> tuple[str, ...]:
        return tuple(self.sensor_names[i] for i in self.kept)

    @property
    def longest_window(self) -> int:
        c = self.config
        return max((*c.mean_windows, *c.std_windows, *c.slope_windows, c.baseline_cycles, 1))

    def normalise(self, histories: Histories) -> FloatArray:
        """Sensors z-scored per operating condition, missing readings carried forward."""
        self._check_columns(histories)
        labels = self.conditions.assign(histories.settings)
        raw = histories.sensors[:, list(self.kept)]
        z = (raw - self.mean[labels]) / self.scale[labels]
        return _carry_forward(z, histories)

    def transform(self, histories: Histories) -> FloatArray:
        """The feature matrix, one row per history row, columns as ``names``."""
        z = self.normalise(histories)
        if self.config.fused:
            z = np.column_stack([z, z @ self.fused_weights[:-1] + self.fused_weights[-1]])
        out = np.empty((len(histories), len(self.names)), np.float64)
        for start, end in histories.bounds():
            out[start:end] = _run_features(z[start:end], histories.cycle[start:end], self.config)
        return out

    def _check_columns(self, histories: Histories) -> None:
        if histories.sensor_names != self.sensor_names:
            raise DatasetError(
                f"the model was trained on sensors {list(self.sensor_names)}, "
                f"the data has {list(histories.sensor_names)}",
                field="sensors",
                rule="same-sensors-as-training",
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "conditions": self.conditions.to_dict(),
            "sensor_names": list(self.sensor_names),
            "kept": list(self.kept),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "fused_weights": self.fused_weights.tolist(),
            "names": list(self.names),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> FeaturePipeline:
        kept = tuple(int(i) for i in raw["kept"])
        return cls(
            config=FeatureConfig.from_dict(raw["config"]),
            conditions=Conditions.from_dict(raw["conditions"]),
            sensor_names=tuple(raw["sensor_names"]),
            kept=kept,
            mean=np.asarray(raw["mean"], np.float64).reshape(-1, len(kept)),
            scale=np.asarray(raw["scale"], np.float64).reshape(-1, len(kept)),
            fused_weights=np.asarray(raw["fused_weights"], np.float64),
            names=tuple(raw["names"]),
        )


def fit_features(
    histories: Histories, target: FloatArray, config: FeatureConfig | None = None
) -> FeaturePipeline:
    """Fit conditions, per-condition statistics, sensor selection and the fusion on ``histories``.

    ``target`` is the (capped) remaining life of each row; only the fusion uses it.
    """
    config = config or FeatureConfig()
    if not len(histories):
        raise DatasetError("no training rows", field="histories", rule="not-empty")
    conditions = find_conditions(histories.settings, count=config.conditions)
    labels = conditions.assign(histories.settings)
    n_sensors = histories.sensors.shape[1]
    mean = np.zeros((conditions.count, n_sensors))
    scale = np.ones((conditions.count, n_sensors))
    trending = np.zeros(n_sensors, bool)
    for c in range(conditions.count):
        rows = histories.sensors[labels == c]
        if not len(rows):
            continue
        mean[c] = np.nanmean(rows, axis=0)
        spread = np.nanstd(rows, axis=0)
        scale[c] = np.where(spread > 1e-12, spread, 1.0)
        distinct = np.asarray([len(np.unique(col[~np.isnan(col)])) for col in rows.T])
        trending |= distinct > 2
    kept = tuple(int(i) for i in np.flatnonzero(trending))
    if not kept:
        raise DatasetError(
            "no sensor varies within an operating condition", field="sensors", rule="informative"
        )
    partial = FeaturePipeline(
        config,
        conditions,
        histories.sensor_names,
        kept,
        mean[:, kept],
        scale[:, kept],
        np.zeros(len(kept) + 1),
    )
    z = partial.normalise(histories)
    weights = _fused_weights(z, target) if config.fused else np.zeros(len(kept) + 1)
    series = [*partial.kept_names, *(["fused"] if config.fused else [])]
    return FeaturePipeline(
        config,
        conditions,
        histories.sensor_names,
        kept,
        partial.mean,
        partial.scale,
        weights,
        feature_names(series, config),
    )


def feature_names(series: list[str], config: FeatureConfig) -> tuple[str, ...]:
    names: list[str] = []
    for w in config.mean_windows:
        names += [f"{s}_mean{w}" for s in series]
    for w in config.std_windows:
        names += [f"{s}_std{w}" for s in series]
    for w in config.slope_windows:
        names += [f"{s}_slope{w}" for s in series]
    for span in config.ewm_spans:
        names += [f"{s}_ewm{span}" for s in series]
    if config.baseline_cycles > 0:
        names += [f"{s}_drift" for s in series]
    if config.cycle:
        names.append("cycle")
    return tuple(names)


def _fused_weights(z: FloatArray, target: FloatArray, ridge: float = 1e-3) -> FloatArray:
    """Ridge least squares of the target on the normalised sensors; last weight: intercept."""
    design = np.column_stack([z, np.ones(len(z))])
    penalty = ridge * len(z) * np.eye(design.shape[1])
    penalty[-1, -1] = 0.0
    weights = np.linalg.solve(design.T @ design + penalty, design.T @ target)
    # Scaled so the fusion has unit spread like the sensors (trees do not care; people reading
    # feature importances and drift reports do).
    spread = float(np.std(z @ weights[:-1]))
    return np.asarray(weights / spread if spread > 0 else weights, np.float64)


def _carry_forward(z: FloatArray, histories: Histories) -> FloatArray:
    missing = np.isnan(z)
    if not missing.any():
        return z
    z = z.copy()
    for start, end in histories.bounds():
        block = z[start:end]
        for row in range(1, len(block)):
            gaps = np.isnan(block[row])
            block[row, gaps] = block[row - 1, gaps]
    return np.nan_to_num(z, nan=0.0)  # nothing seen yet: the condition's mean


def _run_features(z: FloatArray, cycle: FloatArray, config: FeatureConfig) -> FloatArray:
    """All features of one run (rows in time order), causal."""
    m = len(z)
    position = np.arange(m, dtype=np.float64)
    sums = np.vstack([np.zeros(z.shape[1]), np.cumsum(z, axis=0)])
    squares = np.vstack([np.zeros(z.shape[1]), np.cumsum(z * z, axis=0)])
    weighted = np.vstack([np.zeros(z.shape[1]), np.cumsum(z * position[:, None], axis=0)])
    columns: list[FloatArray] = []

    def window(w: int) -> tuple[IntArray, IntArray, FloatArray]:
        end = np.arange(1, m + 1, dtype=np.int64)
        start = np.maximum(end - w, 0)
        count = (end - start).astype(np.float64)[:, None]
        return start, end, count

    for w in config.mean_windows:
        start, end, count = window(w)
        columns.append((sums[end] - sums[start]) / count)
    for w in config.std_windows:
        start, end, count = window(w)
        mean = (sums[end] - sums[start]) / count
        variance = (squares[end] - squares[start]) / count - mean * mean
        columns.append(np.sqrt(np.maximum(variance, 0.0)))
    for w in config.slope_windows:
        start, end, count = window(w)
        sum_y = sums[end] - sums[start]
        sum_xy = weighted[end] - weighted[start]
        first = start.astype(np.float64)[:, None]
        last = (end - 1).astype(np.float64)[:, None]
        sum_x = (first + last) * count / 2.0
        sum_xx = _sum_of_squares(last) - _sum_of_squares(first - 1.0)
        denominator = count * sum_xx - sum_x * sum_x
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = (count * sum_xy - sum_x * sum_y) / denominator
        columns.append(np.where(denominator > 0, slope, 0.0))
    smooth: FloatArray | None = None
    for span in config.ewm_spans:
        smooth = _ewm(z, span)
        columns.append(smooth)
    if config.baseline_cycles > 0:
        reach = np.minimum(np.arange(1, m + 1), config.baseline_cycles)
        baseline = sums[reach] / reach[:, None]
        slow = smooth if smooth is not None else z
        columns.append(slow - baseline)
    if config.cycle:
        columns.append(cycle.reshape(-1, 1).astype(np.float64))
    return np.hstack(columns)


def _sum_of_squares(n: FloatArray) -> FloatArray:
    """0² + 1² + ... + n² (0 for n < 0)."""
    n = np.maximum(n, -1.0)
    return n * (n + 1.0) * (2.0 * n + 1.0) / 6.0


def _ewm(z: FloatArray, span: int) -> FloatArray:
    """Exponential moving average per column, starting at the first row."""
    alpha = 2.0 / (span + 1.0)
    out = np.empty_like(z)
    if not len(z):
        return out
    out[0] = z[0]
    for row in range(1, len(z)):
        out[row] = out[row - 1] + alpha * (z[row] - out[row - 1])
    return out

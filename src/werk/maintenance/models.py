"""Remaining-useful-life models: a point estimate with an interval, behind one small protocol.

The default is gradient boosting (LightGBM, extra ``maintenance``): one model for the point
estimate and two quantile models for the interval's ends. Quantile models alone cover less than
they promise on new assets, so the interval is *conformalised* (CQR, Romano et al. 2019): on runs
held out from training, the amount by which the truth fell outside the quantile band is measured,
and the band is widened by the quantile of those misses that gives the promised coverage. The
misses are counted separately for short, middle and long predicted lives (a Mondrian split): an
engine near its end is easier to pin down than one in mid-life, and one margin for all would
over-cover the first and under-cover the second.

The same correction (:func:`conformal_margins`, :func:`conformal_prediction`) serves every
model whatever its raw band: the GBM's quantile models, the 1D-CNN's MC-dropout spread
(:mod:`werk.maintenance.deep`).

Models are saved as LightGBM's own text format, not pickles: readable, portable across Python
versions, and loading one runs no code. A sequence model (the 1D-CNN over windows of normalised
sensors, extra ``deep``) implements :class:`SequenceRulModel`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from werk.core import MissingExtraError
from werk.maintenance.histories import FloatArray

if TYPE_CHECKING:
    from werk.maintenance.features import FeaturePipeline
    from werk.maintenance.histories import Histories


@dataclass(frozen=True, slots=True, eq=False)
class Prediction:
    """Remaining useful life per row and the interval it lies in with the model's coverage."""

    rul: FloatArray
    lower: FloatArray
    upper: FloatArray

    def __len__(self) -> int:
        return len(self.rul)

    def take(self, rows: Any) -> Prediction:
        return Prediction(self.rul[rows], self.lower[rows], self.upper[rows])


Progress = Callable[[str, float], None]
"""``progress(step, fraction_done)``: the CLI draws it as a bar."""


class RulModel(Protocol):
    """What training, evaluation and serving need of a model.

    ``features`` are what the model reads per row: feature rows for the GBM, windows of
    normalised sensors (rows, sensors, cycles) for a :class:`SequenceRulModel`.
    """

    kind: str
    coverage: float
    margin: list[float]
    """How far the raw interval is widened on each side (set by ``calibrate``)."""

    def fit(self, features: FloatArray, target: FloatArray) -> None: ...

    def calibrate(self, features: FloatArray, target: FloatArray) -> list[float]:
        """Widen the interval to cover ``coverage`` of these held-out rows; return the margins."""
        ...

    def predict(self, features: FloatArray) -> Prediction: ...

    def save(self, directory: Path) -> list[str]:
        """Write the model's files into ``directory``; return their names."""
        ...

    def describe(self) -> dict[str, Any]:
        """Parameters for the metadata (JSON)."""
        ...


GROUPS = 3
"""Groups of predicted remaining life the interval is calibrated in: thirds of the cap."""


def _group(point: FloatArray, cap: float) -> npt.NDArray[np.int64]:
    return np.clip((np.asarray(point) / cap * GROUPS).astype(np.int64), 0, GROUPS - 1)


def _conformal_quantile(misses: FloatArray, coverage: float) -> float:
    """The split-conformal quantile of the misses (0 when there are none to learn from)."""
    n = len(misses)
    if n == 0:
        return 0.0
    level = min(1.0, math.ceil((n + 1) * coverage) / n)
    return float(np.quantile(misses, level, method="higher"))


def conformal_margins(
    point: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    target: FloatArray,
    *,
    coverage: float,
    cap: float,
) -> list[float]:
    """How far to widen a raw band ``[lower, upper]`` so it holds ``coverage`` of held-out
    ``target`` rows, per group of predicted remaining life (``point``, uncapped)."""
    misses = np.maximum(lower - target, target - upper)
    group = _group(point, cap)
    return [_conformal_quantile(misses[group == g], coverage) for g in range(GROUPS)]


def conformal_prediction(
    point: FloatArray, lower: FloatArray, upper: FloatArray, margin: list[float], *, cap: float
) -> Prediction:
    """The point capped to ``[0, cap]`` and the band widened by ``margin`` (from
    :func:`conformal_margins`); the interval always holds the point."""
    widen = np.asarray(margin, np.float64)[_group(point, cap)]
    point = np.clip(point, 0.0, cap)
    return Prediction(
        point,
        np.clip(np.minimum(lower - widen, point), 0.0, None),
        np.maximum(upper + widen, point),
    )


@runtime_checkable
class SequenceRulModel(RulModel, Protocol):
    """A model that reads windows of normalised sensors (the deep models), not feature rows.

    The ``*_histories`` methods build the windows from the fitted pipeline's normalisation and
    call ``fit``/``calibrate``/``predict`` on them.
    """

    def fit_histories(
        self,
        pipeline: FeaturePipeline,
        histories: Histories,
        target: FloatArray,
        *,
        progress: Progress | None = None,
        validation: tuple[Histories, FloatArray] | None = None,
    ) -> None:
        """Fit; report each epoch through ``progress``; with ``validation`` (held-out runs and
        their target) record the validation error after each epoch."""
        ...

    def calibrate_histories(
        self, pipeline: FeaturePipeline, histories: Histories, target: FloatArray
    ) -> list[float]: ...

    def predict_histories(
        self, pipeline: FeaturePipeline, histories: Histories, rows: Any = None
    ) -> Prediction:
        """At ``rows`` (indexes into ``histories``; all rows when ``None``)."""
        ...


def import_lightgbm() -> Any:
    try:
        import lightgbm
    except ImportError as error:
        raise MissingExtraError("lightgbm", "maintenance") from error
    return lightgbm


@dataclass
class GbmParams:
    """LightGBM settings; defaults chosen on a split of C-MAPSS FD001's *training* engines."""

    rounds: int = 400
    learning_rate: float = 0.05
    num_leaves: int = 15
    min_data_in_leaf: int = 100
    feature_fraction: float = 0.5
    bagging_fraction: float = 0.8
    lambda_l2: float = 1.0
    max_bin: int = 63
    seeds: int = 3
    """Point models averaged (different bagging seeds): a steadier estimate for little time."""
    threads: int = 1
    """LightGBM threads. More is faster on an idle machine but far slower on a busy one (OpenMP
    threads spin while they wait), so the default is safe rather than fast."""

    def lightgbm(self, seed: int, objective: str, alpha: float | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {
            "objective": objective,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": 1,
            "lambda_l2": self.lambda_l2,
            "max_bin": self.max_bin,
            "num_threads": self.threads,
            "seed": seed,
            "deterministic": True,
            "verbose": -1,
        }
        if alpha is not None:
            params["alpha"] = alpha
        return params

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> GbmParams:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in raw.items() if k in known})


@dataclass
class GradientBoostedRul:
    """Point model (mean of ``seeds`` boosters) plus lower/upper quantile models, conformalised."""

    params: GbmParams = field(default_factory=GbmParams)
    coverage: float = 0.9
    cap: float = 125.0
    margin: list[float] = field(default_factory=lambda: [0.0] * GROUPS)
    """How much the quantile band is widened (negative: narrowed) on each side, per group of
    predicted remaining life (from ``calibrate``)."""
    kind: str = "gbm"
    seed: int = 0
    """Offsets the boosters' random seeds (bagging, feature sampling)."""
    _point: list[Any] = field(default_factory=list)
    _lower: Any = None
    _upper: Any = None

    def fit(self, features: FloatArray, target: FloatArray) -> None:
        lgb = import_lightgbm()
        data = lgb.Dataset(features, target, free_raw_data=False)
        tail = (1.0 - self.coverage) / 2.0
        self._point = [
            lgb.train(self.params.lightgbm(seed, "regression"), data, self.params.rounds)
            for seed in range(self.seed * 1000, self.seed * 1000 + self.params.seeds)
        ]
        self._lower = lgb.train(
            self.params.lightgbm(self.seed, "quantile", tail), data, self.params.rounds
        )
        self._upper = lgb.train(
            self.params.lightgbm(self.seed, "quantile", 1.0 - tail), data, self.params.rounds
        )

    def calibrate(self, features: FloatArray, target: FloatArray) -> list[float]:
        point = self._mean_point(features)
        lower, upper = self._band(features)
        self.margin = conformal_margins(
            point, lower, upper, target, coverage=self.coverage, cap=self.cap
        )
        return self.margin

    def predict(self, features: FloatArray) -> Prediction:
        if not self._point:
            raise RuntimeError("predict before fit")
        point = self._mean_point(features)
        lower, upper = self._band(features)
        return conformal_prediction(point, lower, upper, self.margin, cap=self.cap)

    def _mean_point(self, features: FloatArray) -> FloatArray:
        return np.asarray(np.mean([b.predict(features) for b in self._point], axis=0), np.float64)

    def _band(self, features: FloatArray) -> tuple[FloatArray, FloatArray]:
        lower = np.asarray(self._lower.predict(features), np.float64)
        upper = np.asarray(self._upper.predict(features), np.float64)
        return np.minimum(lower, upper), np.maximum(lower, upper)

    def save(self, directory: Path) -> list[str]:
        names = [f"point{i}.txt" for i in range(len(self._point))]
        for name, booster in zip(names, self._point, strict=True):
            booster.save_model(str(directory / name))
        self._lower.save_model(str(directory / "lower.txt"))
        self._upper.save_model(str(directory / "upper.txt"))
        state = {"margin": self.margin, "coverage": self.coverage, "cap": self.cap, "point": names}
        (directory / "gbm.json").write_text(json.dumps(state, indent=2) + "\n")
        return [*names, "lower.txt", "upper.txt", "gbm.json"]

    @classmethod
    def load(cls, directory: Path, params: dict[str, Any]) -> GradientBoostedRul:
        lgb = import_lightgbm()
        state = json.loads((directory / "gbm.json").read_text())
        model = cls(
            GbmParams.from_dict(params),
            coverage=float(state["coverage"]),
            cap=float(state["cap"]),
            margin=[float(m) for m in state["margin"]],
        )
        model._point = [lgb.Booster(model_file=str(directory / n)) for n in state["point"]]
        model._lower = lgb.Booster(model_file=str(directory / "lower.txt"))
        model._upper = lgb.Booster(model_file=str(directory / "upper.txt"))
        return model

    def describe(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {
            "kind": self.kind,
            "params": asdict(self.params),
            "coverage": self.coverage,
            "cap": self.cap,
            "margin": self.margin,
        }

    def feature_importance(self, names: tuple[str, ...], top: int = 10) -> list[tuple[str, float]]:
        """The features the point models split on most (by total gain)."""
        gain = np.sum([b.feature_importance("gain") for b in self._point], axis=0)
        order = np.argsort(gain)[::-1][:top]
        total = float(gain.sum()) or 1.0
        return [(names[i], float(gain[i]) / total) for i in order]

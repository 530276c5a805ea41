"""Training: run-to-failure histories in, a model with its features and metadata out.

The recipe (every choice made on training engines only):

1. split the runs into training and validation *by run* (rows of one engine are never on both
   sides: neighbouring cycles are near copies, and a row split would flatter the model);
2. fit features and model on the training runs, predict the validation runs, and record
   - the error over every cycle, and at one random cut per run (the shape of the C-MAPSS test
     protocol: an asset observed up to some cycle, its remaining life unknown),
   - the interval's coverage, after conformal calibration on those same held-out runs;
3. fit features and model again on all runs; the interval keeps the held-out calibration.

The target is the remaining life capped at ``cap`` (125 cycles for C-MAPSS, as in the
literature): early in life nothing in the sensors tells 200 cycles from 300.

Two kinds of model: ``gbm`` (LightGBM over engineered features, the default) and ``cnn`` (a
1D-CNN over windows of normalised sensors, :mod:`werk.maintenance.deep`). A sequence model also
records its validation error after every epoch (``metrics.validation.rmse_per_epoch``): that
curve, on held-out training runs, is where its epoch count is chosen.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from werk import __version__
from werk.core.drift import DriftReference
from werk.maintenance.cmapss import phm08_score, rmse
from werk.maintenance.deep import CnnParams
from werk.maintenance.errors import DatasetError
from werk.maintenance.features import FeatureConfig, FeaturePipeline, fit_features
from werk.maintenance.histories import FloatArray, Histories
from werk.maintenance.models import (
    GbmParams,
    GradientBoostedRul,
    Prediction,
    Progress,
    RulModel,
    SequenceRulModel,
)

KINDS = ("gbm", "cnn")

MIN_RUNS = 4


@dataclass
class ModelConfig:
    kind: str = "gbm"
    """``gbm`` (LightGBM, extra ``maintenance``) or ``cnn`` (PyTorch, extra ``deep``)."""
    cap: float = 125.0
    coverage: float = 0.9
    validation_fraction: float = 0.2
    seed: int = 0
    gbm: GbmParams = field(default_factory=GbmParams)
    cnn: CnnParams = field(default_factory=CnnParams)


@dataclass
class TrainedModel:
    """Features and model fitted together, plus what they were trained on and how well they did."""

    pipeline: FeaturePipeline
    model: RulModel
    metadata: dict[str, Any]
    reference: DriftReference | None = None
    """The training distribution of each feature, for drift monitoring."""

    @property
    def cap(self) -> float:
        return float(self.metadata["model"]["cap"])

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", ""))

    def predict(self, histories: Histories, rows: Any = None) -> Prediction:
        """Remaining life at ``rows`` of ``histories`` (every row when ``None``)."""
        return predict_rows(self.pipeline, self.model, histories, rows)

    def predict_last(self, histories: Histories) -> Prediction:
        """Remaining life at the last row of each run (the C-MAPSS test protocol)."""
        return self.predict(histories, histories.last_rows())

    def health_index(self, rul: FloatArray) -> FloatArray:
        """1 = as good as new (remaining life at or above the cap), 0 = failure due now."""
        return np.clip(np.asarray(rul, np.float64) / self.cap, 0.0, 1.0)


def new_model(config: ModelConfig) -> RulModel:
    if config.kind == "gbm":
        return GradientBoostedRul(
            config.gbm, coverage=config.coverage, cap=config.cap, seed=config.seed
        )
    if config.kind == "cnn":
        from werk.maintenance.deep import ConvolutionalRul, import_torch

        import_torch()  # a missing extra fails here, before any work, naming werk[deep]
        return ConvolutionalRul(
            config.cnn, coverage=config.coverage, cap=config.cap, seed=config.seed
        )
    raise DatasetError(
        f"unknown model kind {config.kind!r}: {' or '.join(KINDS)}",
        field="model.kind",
        rule="known-kind",
    )


def predict_rows(
    pipeline: FeaturePipeline, model: RulModel, histories: Histories, rows: Any = None
) -> Prediction:
    """The model's prediction at ``rows`` of ``histories`` (all rows when ``None``)."""
    if isinstance(model, SequenceRulModel):
        return model.predict_histories(pipeline, histories, rows)
    features = pipeline.transform(histories)
    return model.predict(features if rows is None else features[np.asarray(rows)])


def fit_model(
    model: RulModel,
    pipeline: FeaturePipeline,
    histories: Histories,
    target: FloatArray,
    *,
    progress: Progress | None = None,
    validation: tuple[Histories, FloatArray] | None = None,
) -> None:
    """Fit ``model``; a sequence model reports its epochs and scores ``validation`` after each."""
    if isinstance(model, SequenceRulModel):
        model.fit_histories(pipeline, histories, target, progress=progress, validation=validation)
    else:
        model.fit(pipeline.transform(histories), target)


def split_runs(histories: Histories, fraction: float, seed: int) -> tuple[Histories, Histories]:
    """Training and validation histories, split by run."""
    runs = histories.runs.copy()
    if len(runs) < MIN_RUNS:
        raise DatasetError(
            f"{len(runs)} run(s) to failure; training needs at least {MIN_RUNS}",
            field="runs",
            rule="enough-runs",
        )
    rng = np.random.default_rng(seed)
    rng.shuffle(runs)
    held = max(1, round(len(runs) * fraction))
    return histories.select(runs[held:]), histories.select(runs[:held])


def cut_rows(histories: Histories, seed: int, earliest: int = 30) -> FloatArray:
    """One random row per run, not in its first ``earliest`` cycles (where a test engine starts)."""
    rng = np.random.default_rng(seed)
    picks = []
    for start, end in histories.bounds():
        low = min(start + earliest, end - 1)
        picks.append(int(rng.integers(low, end)))
    return np.asarray(picks, np.int64)


def scores(prediction: Prediction, truth: FloatArray) -> dict[str, float]:
    """RMSE, PHM08 score, mean error (positive: late) and interval coverage."""
    inside = (truth >= prediction.lower) & (truth <= prediction.upper)
    return {
        "rmse": round(rmse(prediction.rul, truth), 4),
        "phm08_score": round(phm08_score(prediction.rul, truth), 4),
        "bias": round(float(np.mean(prediction.rul - truth)), 4) if len(truth) else float("nan"),
        "coverage": round(float(np.mean(inside)), 4) if len(truth) else float("nan"),
        "interval_width": round(float(np.mean(prediction.upper - prediction.lower)), 4),
        "count": len(truth),
    }


def train(
    histories: Histories,
    config: ModelConfig | None = None,
    features: FeatureConfig | None = None,
    *,
    source: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> TrainedModel:
    """Validate on held-out runs, then fit on all runs (module docstring)."""
    config = config or ModelConfig()
    features = features or FeatureConfig()
    report = progress or (lambda step, done: None)
    started = time.perf_counter()
    model = new_model(config)  # an unknown kind or a missing extra fails before any work

    report("validation: features", 0.0)
    fit_part, held_part = split_runs(histories, config.validation_fraction, config.seed)
    fit_target = fit_part.remaining_life(config.cap)
    held_target = held_part.remaining_life(config.cap)
    pipeline = fit_features(fit_part, fit_target, features)
    report("validation: model", 0.1)
    fit_model(
        model,
        pipeline,
        fit_part,
        fit_target,
        progress=_within(report, "validation", 0.1, 0.45),
        validation=(held_part, held_target),
    )
    report("validation: calibration", 0.45)
    margin = _calibrate(model, pipeline, held_part, held_target)
    held_prediction = predict_rows(pipeline, model, held_part)
    cuts = cut_rows(held_part, config.seed)
    validation = {
        "runs": len(held_part.runs),
        "every_cycle": scores(held_prediction, held_target),
        "one_cut_per_run": scores(held_prediction.take(cuts), held_target[cuts]),
    }
    curve = getattr(model, "curve", None)
    if curve:
        validation["rmse_per_epoch"] = list(curve)

    report("final: features", 0.5)
    target = histories.remaining_life(config.cap)
    final_pipeline = fit_features(histories, target, features)
    report("final: model", 0.6)
    final_model = new_model(config)
    fit_model(
        final_model,
        final_pipeline,
        histories,
        target,
        progress=_within(report, "final", 0.6, 0.98),
    )
    final_model.margin = margin
    reference = DriftReference.fit(final_pipeline.transform(histories), final_pipeline.names)
    elapsed = time.perf_counter() - started
    report("done", 1.0)

    metadata: dict[str, Any] = {
        "werk_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "data": {
            **(source or {}),
            "runs": len(histories.runs),
            "rows": len(histories),
            "cycle_range": list(histories.cycle_range),
            "sensors": list(histories.sensor_names),
            "settings": list(histories.setting_names),
        },
        "features": {
            "config": features.to_dict(),
            "count": len(final_pipeline.names),
            "sensors_kept": list(final_pipeline.kept_names),
            "operating_conditions": final_pipeline.conditions.count,
        },
        "model": {
            **final_model.describe(),
            "config": {k: v for k, v in asdict(config).items() if k not in KINDS},
        },
        "metrics": {"validation": validation, "train_seconds": round(elapsed, 2)},
    }
    return TrainedModel(final_pipeline, final_model, metadata, reference)


def _within(report: Progress, stage: str, begin: float, end: float) -> Progress:
    """A model's own progress (epochs) drawn inside ``[begin, end]`` of the whole training."""

    def inner(step: str, done: float) -> None:
        report(f"{stage}: {step}", begin + (end - begin) * done)

    return inner


def _calibrate(
    model: RulModel, pipeline: FeaturePipeline, held: Histories, target: FloatArray
) -> list[float]:
    if isinstance(model, SequenceRulModel):
        return model.calibrate_histories(pipeline, held, target)
    return model.calibrate(pipeline.transform(held), target)


def evaluate_last_cycle(
    trained: TrainedModel, histories: Histories, true_rul: FloatArray, *, cap: float | None
) -> dict[str, float]:
    """Scores at the last row of each run against ``true_rul`` (capped at ``cap`` unless None)."""
    prediction = trained.predict_last(histories)
    truth = np.asarray(true_rul, np.float64)
    if cap is not None:
        truth = np.minimum(truth, cap)
    return scores(prediction, truth)

"""Evaluation of werk's detectors on public benchmarks, each by its published protocol.

* SKAB valve1 (:mod:`werk.analytics.evaluation.skab`): a multivariate detector fitted on each
  file's first 400 rows, then the alarm rule; F1, FAR, MAR over all rows of all files.
* NAB machine_temperature_system_failure (:mod:`werk.analytics.evaluation.nab`): a univariate
  detector run as a stream (each value scored, then learned); the rows where the alarm is raised
  are the detections; NAB's three profiles, normalised.

The detector settings are the defaults of :mod:`werk.analytics.detectors` for both data sets;
nothing is fitted on labels. ``werk eval anomaly`` and ``benchmarks/anomaly_eval.py`` call
:func:`run_skab` and :func:`run_nab`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from werk.analytics.base import Detector
from werk.analytics.detectors import (
    DEFAULT_MULTIVARIATE,
    DEFAULT_UNIVARIATE,
    MULTIVARIATE,
    UNIVARIATE,
    alarm_rule,
    multivariate,
    univariate,
)
from werk.analytics.evaluation import nab, skab
from werk.core import ConfigError

Progress = Callable[[int, int], None]
"""Called with (done, total) as the work goes on."""


@dataclass(frozen=True, slots=True)
class SkabResult:
    detector: str
    files: int
    rows: int
    scores: skab.BinaryScores


def run_skab(
    path: Path, detector: str | None = None, progress: Progress | None = None
) -> SkabResult:
    """Evaluate ``detector`` (default: the default multivariate detector) on SKAB files at
    ``path``. A univariate detector name runs that detector on every signal and takes the largest
    score of the row, as werk's univariate service would alarm on any signal."""
    name = detector or DEFAULT_MULTIVARIATE[0]
    experiments = list(skab.load_all(path))
    if name in MULTIVARIATE:

        def predict(
            fit: npt.NDArray[np.float64], rows: npt.NDArray[np.float64]
        ) -> npt.NDArray[np.bool_]:
            model = multivariate(name) if detector else multivariate()
            model.learn_many(fit)
            return alarm_rule().apply(model.score_many(rows))

    elif name in UNIVARIATE and name != "seasonal":

        def predict(
            fit: npt.NDArray[np.float64], rows: npt.NDArray[np.float64]
        ) -> npt.NDArray[np.bool_]:
            scores = np.full(len(rows), np.nan)
            for column in range(rows.shape[1]):
                model = _univariate(name, warmup=min(len(fit), 100))
                model.learn_many(fit[:, column])
                scores = np.fmax(scores, model.score_many(rows[:, column]))
            return alarm_rule().apply(scores)

    else:
        raise ConfigError(
            f"detector {name!r} does not run on SKAB: one of "
            f"{', '.join([*MULTIVARIATE, 'robust-z', 'ewma'])}"
        )
    total = len(experiments)
    scores = skab.evaluate(
        experiments,
        predict,
        progress=None if progress is None else lambda done: progress(done, total),
    )
    return SkabResult(name, total, sum(len(e.anomaly) for e in experiments), scores)


def _univariate(name: str, **overrides: int) -> Detector:
    if name == DEFAULT_UNIVARIATE[0]:
        return univariate(name, **{**DEFAULT_UNIVARIATE[1], **overrides})
    return univariate(name, **overrides)


@dataclass(frozen=True, slots=True)
class NabResult:
    detector: str
    file: str
    rows: int
    scores: dict[str, nab.NabScore]


def run_nab(path: Path, detector: str | None = None, progress: Progress | None = None) -> NabResult:
    """Evaluate ``detector`` (default: the default univariate detector) on NAB's machine
    temperature file at ``path``, streaming: each value scored, then learned."""
    name = detector or DEFAULT_UNIVARIATE[0]
    if name not in UNIVARIATE:
        raise ConfigError(f"detector {name!r} does not run on NAB: one of {', '.join(UNIVARIATE)}")
    data = nab.load(path)
    options: dict[str, int] = {}
    if name == "seasonal":  # a day of samples
        step = float(np.median(np.diff(data.timestamps).astype(np.int64)))
        options["period"] = max(2, round(86_400e9 / step))
    if name == "ewma":
        options["warmup"] = nab.probationary_length(len(data.values))
    model = univariate(name, **options) if detector else univariate()
    chunk = 2048

    def alarms(values: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
        rule = alarm_rule()
        active = []
        for start in range(0, len(values), chunk):
            scores = model.score_learn_many(values[start : start + chunk])  # type: ignore[attr-defined]
            active.append(rule.apply(scores))
            if progress is not None:
                progress(min(start + chunk, len(values)), len(values))
        return np.concatenate(active)

    return NabResult(name, data.name, len(data.values), nab.evaluate(data, alarms))


__all__ = ["NabResult", "SkabResult", "nab", "run_nab", "run_skab", "skab"]

"""Evaluation of werk's detectors on public benchmarks, each by its published protocol.

* SKAB valve1 (:mod:`werk.analytics.evaluation.skab`): per file, a fresh multivariate detector
  and alarm rule; F1, FAR, MAR over all rows of all files.
* NAB machine_temperature_system_failure (:mod:`werk.analytics.evaluation.nab`): one univariate
  detector and alarm rule over the file; the rows where the alarm is raised are the detections;
  NAB's three profiles, normalised.

Both **stream the data through** :func:`werk.analytics.detectors.judge` ``batch`` rows at a time
(default 1, a live feed): score, learn what was not anomalous, alarm rule — the sequence the
analytics service runs on every batch, with the default settings of
:mod:`werk.analytics.detectors` for both data sets. So the figures are what werk does live, not
what a detector can do offline: a detector never learns a row it judged anomalous, and the first
``warmup`` rows are learned, not judged (on SKAB they are the 400 rows its protocol fits on).
Nothing is fitted on labels. ``werk eval anomaly`` and ``benchmarks/anomaly_eval.py`` call
:func:`run_skab` and :func:`run_nab`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from werk.analytics.base import Detector
from werk.analytics.detectors import (
    DEFAULT_MULTIVARIATE,
    DEFAULT_UNIVARIATE,
    MULTIVARIATE,
    UNIVARIATE,
    AlarmRule,
    alarm_rule,
    judge,
    multivariate,
    univariate,
)
from werk.analytics.evaluation import nab, skab
from werk.core import ConfigError

Progress = Callable[[int, int], None]
"""Called with (done, total) as the work goes on."""


def stream(
    detector: Detector, rule: AlarmRule, X: npt.NDArray[np.float64], batch: int = 1
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Scores and alarm state per row of ``X`` fed to :func:`judge` ``batch`` rows at a time."""
    if batch < 1:
        raise ConfigError(f"batch must be >= 1 row, got {batch}")
    scores, active = [], []
    for start in range(0, len(X), batch):
        part_scores, part_active = judge(detector, rule, X[start : start + batch])
        scores.append(part_scores)
        active.append(part_active)
    if not scores:
        return np.zeros(0), np.zeros(0, dtype=bool)
    return np.concatenate(scores), np.concatenate(active)


@dataclass(frozen=True, slots=True)
class SkabResult:
    detector: str
    files: int
    rows: int
    scores: skab.BinaryScores


def run_skab(
    path: Path,
    detector: str | None = None,
    progress: Progress | None = None,
    *,
    batch: int = 1,
) -> SkabResult:
    """Evaluate ``detector`` (default: the default multivariate detector) on SKAB files at
    ``path``. A univariate detector name runs one such detector and alarm rule per signal, as
    werk's univariate service does, warming up on the 400 rows SKAB fits on; a row is alarmed
    where any signal's alarm is active."""
    name = detector or DEFAULT_MULTIVARIATE[0]
    experiments = list(skab.load_all(path))
    if name in MULTIVARIATE:

        def predict(
            fit: npt.NDArray[np.float64], rows: npt.NDArray[np.float64]
        ) -> npt.NDArray[np.bool_]:
            model = multivariate(name) if detector else multivariate()
            return stream(model, alarm_rule(), rows, batch)[1]

    elif name in UNIVARIATE and name != "seasonal":

        def predict(
            fit: npt.NDArray[np.float64], rows: npt.NDArray[np.float64]
        ) -> npt.NDArray[np.bool_]:
            alarmed = np.zeros(len(rows), dtype=bool)
            for column in range(rows.shape[1]):
                model = _univariate(name, warmup=len(fit))
                alarmed |= stream(model, alarm_rule(), rows[:, column], batch)[1]
            return alarmed

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


def _univariate(name: str, **overrides: Any) -> Detector:
    if name == DEFAULT_UNIVARIATE[0]:
        return univariate(name, **{**DEFAULT_UNIVARIATE[1], **overrides})
    return univariate(name, **overrides)


@dataclass(frozen=True, slots=True)
class NabResult:
    detector: str
    file: str
    rows: int
    scores: dict[str, nab.NabScore]


def run_nab(
    path: Path,
    detector: str | None = None,
    progress: Progress | None = None,
    *,
    batch: int = 1,
) -> NabResult:
    """Evaluate ``detector`` (default: the default univariate detector) on NAB's machine
    temperature file at ``path``, streamed through :func:`judge` ``batch`` values at a time."""
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
    chunk = 2048 // batch * batch or batch  # progress every ~2048 values

    def alarms(values: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
        rule = alarm_rule()
        active = []
        for start in range(0, len(values), chunk):
            active.append(stream(model, rule, values[start : start + chunk], batch)[1])
            if progress is not None:
                progress(min(start + chunk, len(values)), len(values))
        return np.concatenate(active)

    return NabResult(name, data.name, len(data.values), nab.evaluate(data, alarms))


__all__ = ["NabResult", "SkabResult", "nab", "run_nab", "run_skab", "skab", "stream"]

"""Anomaly detectors: univariate per signal, multivariate per machine, and the alarm rule.

Build them by name with :func:`univariate` and :func:`multivariate`; the defaults below are what
werk runs when the plant file names no detector, and what ``werk eval anomaly`` evaluates — the
same settings for every data set (docs/analytics/anomaly.md says how they were chosen).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from werk.analytics.base import ANOMALOUS, Detector, FloatArray
from werk.analytics.detectors.alarm import AlarmRule, held_runs
from werk.analytics.detectors.multivariate import PCAT2Q, HalfSpaceTrees, IsolationForest
from werk.analytics.detectors.univariate import EWMAChart, RobustZ, Seasonal
from werk.core import ConfigError

UNIVARIATE: Mapping[str, type] = MappingProxyType(
    {"robust-z": RobustZ, "ewma": EWMAChart, "seasonal": Seasonal}
)
MULTIVARIATE: Mapping[str, type] = MappingProxyType(
    {"pca": PCAT2Q, "iforest": IsolationForest, "hst": HalfSpaceTrees}
)

DEFAULT_UNIVARIATE: tuple[str, Mapping[str, Any]] = (
    "robust-z",
    MappingProxyType({"window": 2048, "threshold": 6.0, "warmup": 256, "refresh": 256}),
)
"""Robust z-score over the last 2048 learned samples, anomalous beyond 6 robust standard
deviations. A long reference (a week at 5-minute samples, half an hour at 1 Hz) holds the
signal's ordinary excursions, so they do not alarm (docs/analytics/anomaly.md: 256 before)."""

DEFAULT_MULTIVARIATE: tuple[str, Mapping[str, Any]] = (
    "pca",
    MappingProxyType({"warmup": 400, "variance": 0.85, "confidence": 0.999, "smooth": 3}),
)
"""PCA T²+Q fitted on 400 normal rows, limits at 99.9 % (SKAB's reference settings), each row
judged by the mean of it and the two before it (less noise, so an episode's alarm holds)."""

DEFAULT_ALARM: Mapping[str, int] = MappingProxyType({"on_delay": 5, "off_delay": 60})
"""Raise after 5 anomalous samples in a row; clear after 60 normal ones."""


def univariate(name: str | None = None, **options: Any) -> Detector:
    """A univariate detector by name (``robust-z``, ``ewma``, ``seasonal``); none: the default.
    The default's name alone (as werk.toml's ``detector = "robust-z"``) gets the default options."""
    if name is None or name == DEFAULT_UNIVARIATE[0]:
        name, defaults = DEFAULT_UNIVARIATE
        options = {**defaults, **options}
    return _build(UNIVARIATE, name, options, "univariate")


def multivariate(name: str | None = None, **options: Any) -> Detector:
    """A multivariate detector by name (``pca``, ``iforest``, ``hst``); no name: the default.
    The default's name alone gets the default options."""
    if name is None or name == DEFAULT_MULTIVARIATE[0]:
        name, defaults = DEFAULT_MULTIVARIATE
        options = {**defaults, **options}
    return _build(MULTIVARIATE, name, options, "multivariate")


ADAPT_AFTER = 1024
"""Rows an alarm must hold before the detector learns the anomalous values as the new normal."""


def alarm_rule(**options: int) -> AlarmRule:
    """The alarm rule with the default delays, overridden by ``options``."""
    return AlarmRule(**{**DEFAULT_ALARM, **options})


def judge(
    detector: Detector, rule: AlarmRule, X: FloatArray
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """One batch as werk watches it: score ``X`` against what was learned before, turn the scores
    into the alarm state per row with ``rule``, and learn the rows that were not anomalous (NaN,
    warming up, counts as normal: an anomaly must not teach the detector that it is normal) —
    unless the alarm has already held for ``ADAPT_AFTER`` rows: a change that lasts that long is
    a new operating point, and a detector that never learns it would keep its alarm forever.

    The analytics service and the benchmarks (:mod:`werk.analytics.evaluation`) both call this,
    so the published figures measure what runs live. Returns ``(scores, active)``.
    """
    scores = np.asarray(detector.score_many(X), dtype=np.float64)
    active, learn = decide(rule, scores)
    detector.learn_many(X if learn.all() else X[learn])
    return scores, active


def decide(
    rule: AlarmRule, scores: FloatArray
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """:func:`judge` after the scoring: the alarm state per row, and which rows to learn."""
    held_before = rule.held
    active = rule.apply(scores)
    learn = ~(scores >= ANOMALOUS)  # NaN compares False, silently
    if rule.held > ADAPT_AFTER or held_before > ADAPT_AFTER:
        learn |= held_runs(active, held_before) > ADAPT_AFTER
    return active, learn


def _build(kinds: Mapping[str, type], name: str, options: dict[str, Any], what: str) -> Detector:
    kind = kinds.get(name)
    if kind is None:
        raise ConfigError(f"unknown {what} detector {name!r}: one of {', '.join(kinds)}")
    try:
        detector: Detector = kind(**options)
    except TypeError as error:
        raise ConfigError(f"bad options for {what} detector {name!r}: {error}") from error
    return detector


__all__ = [
    "DEFAULT_ALARM",
    "DEFAULT_MULTIVARIATE",
    "DEFAULT_UNIVARIATE",
    "MULTIVARIATE",
    "PCAT2Q",
    "UNIVARIATE",
    "AlarmRule",
    "EWMAChart",
    "HalfSpaceTrees",
    "IsolationForest",
    "RobustZ",
    "Seasonal",
    "alarm_rule",
    "decide",
    "judge",
    "multivariate",
    "univariate",
]

"""Detector drift: is each detector still looking at the data it was fitted on?

A thin layer over :class:`werk.core.drift.DriftReference` (the same PSI the remaining-life models
use): one reference per detector, fitted on that detector's training window (its inputs, one
column each), then asked for the PSI of a recent window. By the usual rule of thumb a PSI above
0.25 on an input means the detector's idea of normal is out of date — retrain, or expect its
alarms to be worth less.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from werk.core import ValidationError
from werk.core.drift import DriftReference, DriftReport, FloatArray

MIN_ROWS = 20  # deciles of fewer rows say nothing


def _rows(features: FloatArray, names: tuple[str, ...], field: str) -> FloatArray:
    x = np.asarray(features, np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] != len(names):
        raise ValidationError(
            f"{field}: one column per input ({len(names)}: {', '.join(names)}), got shape "
            f"{x.shape}",
            field=field,
            rule="shape",
        )
    return x


@dataclass
class DetectorDrift:
    """PSI references per detector (a univariate detector has one input, its signal)."""

    references: dict[str, DriftReference] = field(default_factory=dict)

    def fit(self, detector: str, features: FloatArray, inputs: Iterable[str]) -> DriftReference:
        """Remember the training window of ``detector``: rows of its ``inputs``."""
        names = tuple(inputs)
        x = _rows(features, names, "features")
        if len(x) < MIN_ROWS:
            raise ValidationError(
                f"{detector}: at least {MIN_ROWS} training rows are needed for a drift reference, "
                f"got {len(x)}",
                field="features",
                rule="too-short",
            )
        reference = DriftReference.fit(x, names)
        self.references[detector] = reference
        return reference

    def report(self, detector: str, recent: FloatArray) -> DriftReport:
        """PSI of each input of ``detector`` in ``recent`` against its training window."""
        reference = self.references.get(detector)
        if reference is None:
            raise ValidationError(
                f"no drift reference for detector {detector!r}: fit it first",
                field="detector",
                rule="unknown-detector",
            )
        return reference.report(_rows(recent, reference.names, "recent"))

    def to_dict(self) -> dict[str, Any]:
        return {name: ref.to_dict() for name, ref in self.references.items()}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DetectorDrift:
        return cls({name: DriftReference.from_dict(ref) for name, ref in raw.items()})

"""Detector drift: is each detector still looking at the data it was fitted on?

A thin layer over :class:`werk.core.drift.DriftReference` (the same PSI the remaining-life models
use): each detector of the analytics service keeps its first inputs as the reference and its newest
as the recent window (one column per input: a univariate detector has one, its signal). By the
usual rule of thumb a PSI above 0.25 on an input means the detector's idea of normal is out of
date — retrain, or expect its alarms to be worth less. ``/api/v1/detectors`` and ``/helping``
show it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from werk.core.drift import DriftReference, DriftReport

DRIFT_ROWS = 500
"""Rows a detector's drift reference holds (its first inputs), and rows of the recent window."""


class InputDrift:
    """Is a detector still looking at the data it learnt on? Its first ``rows`` inputs are the
    reference; the newest ``rows`` are compared with them by PSI (werk.core.drift)."""

    def __init__(self, names: tuple[str, ...], rows: int = DRIFT_ROWS) -> None:
        self.names = names
        self.rows = rows
        self._first: list[npt.NDArray[np.float64]] = []
        self._have = 0
        self.reference: DriftReference | None = None
        self._recent = np.full((rows, len(names)), np.nan)
        self._seen = 0

    def add(self, X: npt.NDArray[np.float64]) -> None:
        X = X.reshape(len(X), -1)
        if self.reference is None:
            self._first.append(X[: self.rows - self._have])
            self._have += len(self._first[-1])
            if self._have >= self.rows:
                self.reference = DriftReference.fit(np.concatenate(self._first), self.names)
                self._first = []
        tail = X[-self.rows :]
        slots = (self._seen + np.arange(len(X) - len(tail), len(X))) % self.rows
        self._recent[slots] = tail
        self._seen += len(X)

    def report(self) -> DriftReport | None:
        if self.reference is None or self._seen < 2 * self.rows:
            return None  # the recent window still overlaps the reference
        return self.reference.report(self._recent)

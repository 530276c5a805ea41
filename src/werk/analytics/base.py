"""The protocols analytics are written against, river-style, each with a batch variant.

Two shapes cover everything werk computes over a stream:

* a **detector** learns what normal looks like and scores new data (``learn_one`` /
  ``score_one``, and ``learn_many`` / ``score_many`` over numpy arrays). A score of 1.0 or more
  means *anomalous*: each detector scales its raw statistic by its own threshold, so one alarm
  rule fits them all. During warm-up (too little learned yet) the score is NaN: not judged.
* a **statistic** is updated with values and read (``update`` / ``get``; ``update_many``).

The batch variants are the hot path (the bus carries columnar batches, DESIGN.md); the one-value
methods are the river-compatible convenience. ``x`` is one value (univariate) or one row of a
machine's signals (multivariate); ``X`` is a 1-D array (univariate) or a 2-D array with one row per
time step (multivariate).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

ANOMALOUS = 1.0
"""A normalised detector score at or above this is an anomaly."""


@runtime_checkable
class Detector(Protocol):
    """Learns normal behaviour and scores how far data is from it (>= 1.0: anomalous)."""

    def learn_one(self, x: float | FloatArray) -> None: ...

    def score_one(self, x: float | FloatArray) -> float: ...

    def learn_many(self, X: FloatArray) -> None: ...

    def score_many(self, X: FloatArray) -> FloatArray: ...


@runtime_checkable
class Explains(Protocol):
    """A multivariate detector that can say which inputs made a row anomalous."""

    def contributions(self, x: FloatArray) -> FloatArray:
        """One share per input (non-negative, summing to 1): how much each made ``x`` odd."""
        ...


@runtime_checkable
class Statistic(Protocol):
    """A running figure: updated with values, read with ``get``."""

    def update(self, x: float) -> None: ...

    def update_many(self, xs: FloatArray) -> None: ...

    def get(self) -> Any: ...


def top_contributors(
    names: tuple[str, ...] | list[str], shares: FloatArray, *, top: int = 3
) -> list[dict[str, Any]]:
    """The ``top`` inputs by share, largest first: ``[{"signal": name, "share": 0.61}, …]``."""
    order = np.argsort(-np.asarray(shares, np.float64), kind="stable")[:top]
    return [{"signal": names[int(i)], "share": round(float(shares[int(i)]), 3)} for i in order]

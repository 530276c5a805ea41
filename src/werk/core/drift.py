"""Input drift: the population stability index (PSI) of live data against a reference.

``sum((live - ref) * ln(live / ref))`` over the reference's deciles, per feature. By the usual rule
of thumb below 0.1 is stable, 0.1 to 0.25 a moderate shift, above 0.25 a shift to act on. Used for
the remaining-life models' inputs and the anomaly detectors' (is a detector still looking at the
data it was fitted on?).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

PSI_MODERATE = 0.1
PSI_SIGNIFICANT = 0.25
_BINS = 10
_FLOOR = 1e-4  # an empty bin would make the logarithm infinite


# -- drift ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class DriftReference:
    """Per feature: inner decile edges of the training data and the share of rows in each bin."""

    names: tuple[str, ...]
    edges: tuple[tuple[float, ...], ...]
    shares: tuple[tuple[float, ...], ...]

    @classmethod
    def fit(cls, features: FloatArray, names: Iterable[str]) -> DriftReference:
        names = tuple(names)
        edges: list[tuple[float, ...]] = []
        shares: list[tuple[float, ...]] = []
        for column in np.asarray(features, np.float64).T:
            finite = column[np.isfinite(column)]
            inner = np.unique(np.quantile(finite, np.linspace(0, 1, _BINS + 1)[1:-1]))
            counts = _bin_counts(inner, finite)
            edges.append(tuple(float(e) for e in inner))
            shares.append(tuple(float(c) / max(1, len(finite)) for c in counts))
        return cls(names, tuple(edges), tuple(shares))

    def psi(self, features: FloatArray) -> dict[str, float]:
        """PSI of every feature of ``features`` (rows of live data) against training."""
        live = np.asarray(features, np.float64)
        out: dict[str, float] = {}
        for j, name in enumerate(self.names):
            column = live[:, j]
            column = column[np.isfinite(column)]
            if not len(column):
                continue
            inner = np.asarray(self.edges[j])
            counts = _bin_counts(inner, column)
            actual = np.maximum(counts / len(column), _FLOOR)
            expected = np.maximum(np.asarray(self.shares[j]), _FLOOR)
            out[name] = float(np.sum((actual - expected) * np.log(actual / expected)))
        return out

    def report(self, features: FloatArray, *, top: int = 10) -> DriftReport:
        values = self.psi(features)
        return DriftReport(values, rows=len(features), top=top)

    def to_dict(self) -> dict[str, Any]:
        return {
            "names": list(self.names),
            "edges": [list(e) for e in self.edges],
            "shares": [list(s) for s in self.shares],
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DriftReference:
        return cls(
            tuple(raw["names"]),
            tuple(tuple(float(v) for v in e) for e in raw["edges"]),
            tuple(tuple(float(v) for v in s) for s in raw["shares"]),
        )


def _bin_counts(inner_edges: FloatArray, values: FloatArray) -> FloatArray:
    bins = np.searchsorted(inner_edges, values, side="right")
    return np.bincount(bins, minlength=len(inner_edges) + 1).astype(np.float64)


@dataclass(frozen=True, slots=True)
class DriftReport:
    psi: dict[str, float]
    rows: int
    top: int = 10

    @property
    def drifted(self) -> list[str]:
        """Features past the significant threshold, worst first."""
        return [n for n, v in self.ranked() if v > PSI_SIGNIFICANT]

    @property
    def moderate(self) -> list[str]:
        return [n for n, v in self.ranked() if PSI_MODERATE < v <= PSI_SIGNIFICANT]

    @property
    def worst(self) -> float:
        return max(self.psi.values(), default=0.0)

    def ranked(self) -> list[tuple[str, float]]:
        return sorted(self.psi.items(), key=lambda item: item[1], reverse=True)

    def flag(self, name: str) -> str:
        value = self.psi.get(name, 0.0)
        if value > PSI_SIGNIFICANT:
            return "drift"
        return "moderate" if value > PSI_MODERATE else "stable"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "worst_psi": round(self.worst, 4),
            "drifted": self.drifted,
            "moderate": self.moderate,
            "top": [{"feature": n, "psi": round(v, 4)} for n, v in self.ranked()[: self.top]],
        }

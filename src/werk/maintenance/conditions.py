"""Operating conditions: which regime (altitude, speed, load ...) a row was recorded in.

Sensor readings move far more with the operating condition than with wear (C-MAPSS FD002/FD004:
six flight conditions). Normalising each sensor per condition (subtract the condition's mean,
divide by its spread) leaves the wear. The conditions are found by k-means on the standardised
settings; the number of conditions is the smallest ``k`` whose clusters are tight (the spread left
inside clusters is under ``tightness`` of the total). Settings that are only noise around one
operating point never get that tight, so they give one condition: FD001 and FD003 need no special
case.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from werk.maintenance.histories import FloatArray, IntArray

MAX_CONDITIONS = 12
TIGHTNESS = 0.01
SAMPLE = 2_000  # rows k-means places the centres on (conditions are few and far apart)
RESTARTS = 3  # k-means from a few starts: one bad start must not split a condition in two


@dataclass(frozen=True, slots=True, eq=False)
class Conditions:
    """Cluster centres in standardised setting space; ``assign`` maps rows to a condition."""

    centres: FloatArray
    """Shape (conditions, settings), in standardised units."""
    mean: FloatArray
    scale: FloatArray

    @property
    def count(self) -> int:
        return len(self.centres)

    def assign(self, settings: FloatArray) -> IntArray:
        if self.count == 1 or settings.shape[1] == 0:
            return np.zeros(len(settings), np.int64)
        z = (settings - self.mean) / self.scale
        distances = ((z[:, None, :] - self.centres[None, :, :]) ** 2).sum(axis=2)
        labels: IntArray = np.argmin(distances, axis=1).astype(np.int64)
        return labels

    def to_dict(self) -> dict[str, Any]:
        return {
            "centres": self.centres.tolist(),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Conditions:
        return cls(
            np.asarray(raw["centres"], np.float64).reshape(len(raw["centres"]), -1),
            np.asarray(raw["mean"], np.float64),
            np.asarray(raw["scale"], np.float64),
        )


def find_conditions(
    settings: FloatArray,
    *,
    count: int | None = None,
    max_conditions: int = MAX_CONDITIONS,
    tightness: float = TIGHTNESS,
    seed: int = 0,
) -> Conditions:
    """Cluster the settings into operating conditions (``count`` fixed, or found as above)."""
    n_settings = settings.shape[1]
    mean = settings.mean(axis=0) if len(settings) else np.zeros(n_settings)
    scale = settings.std(axis=0) if len(settings) else np.ones(n_settings)
    scale = np.where(scale > 1e-12, scale, 1.0)
    one = Conditions(np.zeros((1, n_settings)), mean, scale)
    if n_settings == 0 or len(settings) < 2 or count == 1:
        return one
    z = (settings - mean) / scale
    rng = np.random.default_rng(seed)
    # k-means on a sample is plenty to place the centres; all rows are assigned afterwards.
    sample = z if len(z) <= SAMPLE else z[rng.choice(len(z), SAMPLE, replace=False)]
    total = float(((sample - sample.mean(axis=0)) ** 2).sum())
    if total <= 0.0:
        return one

    def fit(k: int) -> tuple[FloatArray, float]:
        return min((_kmeans(sample, k, rng) for _ in range(RESTARTS)), key=lambda fit: fit[1])

    if count is not None:
        return Conditions(fit(count)[0], mean, scale) if count <= len(sample) else one
    # More clusters never leave more spread: if the most allowed are not tight, no fewer are
    # (single-condition data, the common case, then costs one fit instead of eleven).
    if fit(min(max_conditions, len(sample)))[1] / total > tightness:
        return one
    for k in range(2, min(max_conditions, len(sample)) + 1):
        centres, inertia = fit(k)
        if inertia / total <= tightness:
            return Conditions(centres, mean, scale)
    return one


def _kmeans(
    points: FloatArray, k: int, rng: np.random.Generator, iterations: int = 50
) -> tuple[FloatArray, float]:
    """Lloyd's algorithm from a k-means++ start; returns the centres and the inertia."""
    centres = [points[rng.integers(len(points))]]
    for _ in range(1, k):
        d2 = np.min(((points[:, None, :] - np.asarray(centres)[None]) ** 2).sum(axis=2), axis=1)
        total = d2.sum()
        pick = rng.choice(len(points), p=d2 / total) if total > 0 else rng.integers(len(points))
        centres.append(points[pick])
    c = np.asarray(centres, np.float64)
    labels = np.zeros(len(points), np.int64)
    for _ in range(iterations):
        d2 = ((points[:, None, :] - c[None]) ** 2).sum(axis=2)
        labels = np.argmin(d2, axis=1)
        moved = np.asarray(
            [points[labels == j].mean(axis=0) if np.any(labels == j) else c[j] for j in range(k)]
        )
        if np.allclose(moved, c):
            break
        c = moved
    d2 = ((points - c[labels]) ** 2).sum(axis=1)
    return c, float(d2.sum())

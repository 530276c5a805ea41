"""Generated run-to-failure data, shaped like C-MAPSS, for tests, demos and docs.

Each run starts with a little wear of its own, wears exponentially faster until the wear reaches
1 (failure), and is recorded in one of ``conditions`` operating conditions per cycle. A sensor's
reading is the condition's level, plus its sensitivity times the wear, plus noise; a few sensors
never move (as in C-MAPSS, where 7 of 21 are constant in FD001). With ``conditions > 1`` the
settings jump between well separated operating points and the levels with them, as in FD002.
"""

from __future__ import annotations

import numpy as np

from werk.maintenance.cmapss import SENSOR_NAMES, SETTING_NAMES, Subset
from werk.maintenance.histories import FloatArray, Histories


def simulate(
    runs: int = 40,
    *,
    conditions: int = 1,
    informative: int = 10,
    min_life: int = 120,
    max_life: int = 260,
    noise: float = 0.4,
    seed: int = 0,
    first_run: int = 1,
) -> Histories:
    """``runs`` complete runs to failure, 3 settings and 21 sensors as in C-MAPSS."""
    rng = np.random.default_rng(seed)
    plant = _Plant(np.random.default_rng(12345), conditions, informative)
    parts = [
        plant.run(rng, first_run + i, int(rng.integers(min_life, max_life + 1)), noise)
        for i in range(runs)
    ]
    return _stack(parts)


def simulate_subset(
    train_runs: int = 40,
    test_runs: int = 20,
    *,
    conditions: int = 1,
    seed: int = 0,
    noise: float = 0.4,
) -> Subset:
    """Training runs to failure, and test runs cut at a random cycle with their true RUL."""
    train = simulate(train_runs, conditions=conditions, seed=seed, noise=noise)
    full = simulate(test_runs, conditions=conditions, seed=seed + 1, noise=noise)
    keep = np.zeros(len(full), bool)
    true_rul = []
    rng = np.random.default_rng(seed + 2)
    for start, end in full.bounds():
        life = end - start
        cut = int(rng.integers(min(31, life), life))  # rows kept
        keep[start : start + cut] = True
        true_rul.append(float(life - cut))
    return Subset("synthetic", train, full.take(keep), np.asarray(true_rul))


class _Plant:
    """The fixed physics shared by every run: condition levels and sensor sensitivities."""

    def __init__(self, rng: np.random.Generator, conditions: int, informative: int) -> None:
        n = len(SENSOR_NAMES)
        self.operating_points = (
            np.column_stack(
                [
                    rng.choice([0.0, 10.0, 20.0, 25.0, 35.0, 42.0], conditions, replace=False),
                    rng.choice([0.0, 0.25, 0.62, 0.7, 0.84], conditions),
                    rng.choice([60.0, 100.0], conditions),
                ]
            )
            if conditions > 1
            else np.array([[0.0, 0.0, 100.0]])
        )
        self.levels = rng.uniform(10.0, 1000.0, (conditions, n))
        self.spread = self.levels * rng.uniform(0.001, 0.003, n)
        moving = rng.choice(n, informative, replace=False)
        self.sensitivity = np.zeros(n)
        self.sensitivity[moving] = rng.choice([-1.0, 1.0], informative) * rng.uniform(
            3.0, 8.0, informative
        )
        self.conditions = conditions

    def run(self, rng: np.random.Generator, run_id: int, life: int, noise: float) -> FloatArray:
        cycle = np.arange(1, life + 1, dtype=np.float64)
        initial = rng.uniform(0.0, 0.1)
        rate = rng.uniform(3.0, 6.0) / life
        # wear(life) == 1: exponential growth from ``initial`` that reaches failure at the end.
        wear = initial + (1.0 - initial) * np.expm1(rate * cycle) / np.expm1(rate * life)
        condition = rng.integers(0, self.conditions, life)
        settings = self.operating_points[condition] + rng.normal(0.0, 0.001, (life, 3))
        settings[:, 2] = self.operating_points[condition, 2]
        sensors = (
            self.levels[condition]
            + self.spread[condition] * self.sensitivity * wear[:, None]
            + self.spread[condition]
            * noise
            * rng.standard_normal((life, len(self.sensitivity)))
            * (self.sensitivity != 0)
        )
        return np.column_stack([np.full(life, run_id), cycle, settings, sensors])


def _stack(parts: list[FloatArray]) -> Histories:
    table = np.vstack(parts)
    return Histories(
        run=table[:, 0].astype(np.int64),
        cycle=table[:, 1].copy(),
        settings=table[:, 2:5].copy(),
        sensors=table[:, 5:].copy(),
        setting_names=SETTING_NAMES,
        sensor_names=SENSOR_NAMES,
    )

"""Run histories: the table every model reads, one row per asset per cycle.

A *run* is the life of one asset from a start (new, or just maintained) to a failure (training
data, "run to failure") or to now (serving, and the test engines of C-MAPSS that are cut before
they fail). Rows are sorted by run, then cycle. ``cycle`` counts time units since the run began
(C-MAPSS: flight cycles; store data: buckets of the configured length).

Columns are plain numpy arrays: a few hundred runs of a few hundred cycles each fit in memory many
times over, and numpy keeps the feature code vectorised without pandas.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from werk.maintenance.errors import DatasetError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True, eq=False)
class Histories:
    """Runs of one kind of asset: ids, cycles, operating settings and sensor readings per row."""

    run: IntArray
    """Run id of each row (C-MAPSS: the engine's unit number)."""
    cycle: FloatArray
    """Cycles since the run began (1, 2, ... in C-MAPSS)."""
    settings: FloatArray
    """Operating settings, shape (rows, settings); may have zero columns."""
    sensors: FloatArray
    """Sensor readings, shape (rows, sensors)."""
    setting_names: tuple[str, ...]
    sensor_names: tuple[str, ...]

    def __post_init__(self) -> None:
        n = len(self.run)
        if len(self.cycle) != n or self.settings.shape[0] != n or self.sensors.shape[0] != n:
            raise DatasetError("history columns differ in length", field="rows", rule="aligned")
        if self.settings.shape[1] != len(self.setting_names):
            raise DatasetError("settings and their names differ", field="settings", rule="named")
        if self.sensors.shape[1] != len(self.sensor_names):
            raise DatasetError("sensors and their names differ", field="sensors", rule="named")
        if n and np.any(np.diff(self.run) < 0):
            raise DatasetError("rows must be grouped by run", field="run", rule="sorted")

    def __len__(self) -> int:
        return len(self.run)

    @property
    def runs(self) -> IntArray:
        """The run ids, in order of appearance."""
        ids, first = np.unique(self.run, return_index=True)
        return ids[np.argsort(first)]

    def bounds(self) -> list[tuple[int, int]]:
        """``[start, end)`` row ranges of each run, in order."""
        if not len(self):
            return []
        cuts = np.flatnonzero(np.diff(self.run)) + 1
        starts = np.r_[0, cuts]
        ends = np.r_[cuts, len(self)]
        return [(int(s), int(e)) for s, e in zip(starts, ends, strict=True)]

    def select(self, runs: npt.ArrayLike) -> Histories:
        """Only the rows of ``runs`` (order of the table kept)."""
        mask = np.isin(self.run, np.asarray(runs))
        return self.take(mask)

    def take(self, rows: npt.ArrayLike | slice) -> Histories:
        sel = rows if isinstance(rows, slice) else np.asarray(rows)
        return Histories(
            self.run[sel],
            self.cycle[sel],
            self.settings[sel],
            self.sensors[sel],
            self.setting_names,
            self.sensor_names,
        )

    def last_rows(self) -> IntArray:
        """Index of the last row of each run (where C-MAPSS test engines are evaluated)."""
        return np.asarray([end - 1 for _, end in self.bounds()], dtype=np.int64)

    def remaining_life(self, cap: float | None = None) -> FloatArray:
        """Cycles left until the run's last row, per row, optionally capped (run-to-failure data).

        The cap is the piecewise-linear target of the C-MAPSS literature: early in life the
        sensors say nothing about the remaining life, so the model is not asked to guess it.
        """
        target = np.empty(len(self), np.float64)
        for start, end in self.bounds():
            target[start:end] = self.cycle[end - 1] - self.cycle[start:end]
        return target if cap is None else np.minimum(target, cap)

    def iter_runs(self) -> Iterator[tuple[int, Histories]]:
        for start, end in self.bounds():
            yield int(self.run[start]), self.take(slice(start, end))

    @property
    def cycle_range(self) -> tuple[float, float]:
        """The smallest and largest cycle (for model metadata)."""
        if not len(self):
            return (0.0, 0.0)
        return float(self.cycle.min()), float(self.cycle.max())

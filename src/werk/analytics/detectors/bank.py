"""Many robust z-score detectors as arrays: one numpy pass per batch for every signal.

The live service runs the default detector (:class:`~werk.analytics.detectors.univariate.RobustZ`)
on every numeric signal. Called once per signal per batch, the numpy calls' fixed cost (tens of
microseconds) was most of what analytics cost the pipeline (docs/benchmarks.md, "Analytics
throughput"). The bank keeps every signal's window in one 2-D array and scores and learns a
whole batch — all its signals — in a few array operations; only the refresh of a signal's median
and MAD (every ``refresh`` learned values) is per signal.

It is the same detector: the same options, the same state after every call, the same scores
(``tests/analytics/test_detectors.py`` checks it against ``RobustZ`` value for value).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from werk.analytics.base import FloatArray
from werk.analytics.detectors.univariate import RobustZ, _robust

SlotArray = npt.NDArray[np.int64]


class RobustZBank:
    """``RobustZ(**options)`` for every slot; slots are handed out by :meth:`slot`."""

    def __init__(self, **options: Any) -> None:
        model = RobustZ(**options)  # validates the options and derives warm-up and refresh
        self.window = model.window
        self.threshold = model.threshold
        self.warmup = model.warmup
        self.min_scale = model.min_scale
        self.refresh = model.refresh
        self._capacity = self.window + self.refresh
        self._buffer = np.empty((0, self._capacity))
        self._count = np.zeros(0, np.int64)
        self._checkpoint = np.zeros(0, np.int64)
        self._centre = np.zeros(0)
        self._scale = np.zeros(0)
        self._names: dict[str, int] = {}

    def slot(self, name: str) -> int:
        """The slot of ``name``'s detector (a new one, warming up, the first time)."""
        found = self._names.get(name)
        if found is None:
            found = self._names[name] = len(self._names)
            if found == len(self._buffer):  # full: double the rows (a row is ~18 kB; growing
                self._grow(max(8, 2 * found))  # one at a time copied them all every time)
        return found

    def _grow(self, rows: int) -> None:
        """Room for ``rows`` slots; the new ones hold nothing learnt (and are never refreshed)."""

        def grown(array: npt.NDArray[Any], fill: float) -> npt.NDArray[Any]:
            out = np.full((rows, *array.shape[1:]), fill, array.dtype)
            out[: len(array)] = array
            return out

        self._buffer = grown(self._buffer, math.nan)
        self._count, self._checkpoint = grown(self._count, 0), grown(self._checkpoint, 0)
        self._centre, self._scale = grown(self._centre, math.nan), grown(self._scale, math.nan)

    def score(self, slots: SlotArray, x: FloatArray) -> FloatArray:
        """Each value against its slot's statistics before this call (NaN: warming up)."""
        out: FloatArray = np.abs(x - self._centre[slots]) / (self.threshold * self._scale[slots])
        return out

    def learn(self, slots: SlotArray, x: FloatArray) -> None:
        """Learn ``x``: values of one slot must be contiguous and in time order (as grouped by
        the service); non-finite values are skipped, as ``RobustZ.learn_many`` does."""
        finite = np.isfinite(x)
        if not finite.all():
            slots, x = slots[finite], x[finite]
        n = len(x)
        if not n:
            return
        first = np.empty(n, bool)
        first[0] = True
        np.not_equal(slots[1:], slots[:-1], out=first[1:])
        start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
        rank = np.arange(n) - start  # position within the slot's values of this call
        added = np.bincount(slots, minlength=len(self._count))
        # of more values than the buffer holds, only the newest matter (and must win)
        keep = rank >= added[slots] - self._capacity
        where = (self._count[slots] + rank) % self._capacity
        self._buffer[slots[keep], where[keep]] = x[keep]
        self._count += added
        checkpoint = self._count // self.refresh * self.refresh
        checkpoint[checkpoint < self.warmup] = 0
        for slot in np.flatnonzero(checkpoint != self._checkpoint):
            self._checkpoint[slot] = checkpoint[slot]
            self._refresh(int(slot))

    def _refresh(self, slot: int) -> None:
        """Median and robust σ of the window ending at the slot's checkpoint (as RobustZ)."""
        count, checkpoint = int(self._count[slot]), int(self._checkpoint[slot])
        row = self._buffer[slot]
        if count < self._capacity:
            recent = row[:count]
        else:
            start = count % self._capacity
            recent = np.concatenate((row[start:], row[:start]))
        end = len(recent) - (count - checkpoint)
        self._centre[slot], self._scale[slot] = _robust(
            recent[max(0, end - self.window) : end], self.min_scale
        )

"""From scores to alarms: on-delay and off-delay, vectorised, with state between batches.

A detector scores every sample; an operator wants one alarm per episode. ISA-18.2's remedy for
chatter is delays: raise only after ``on_delay`` consecutive anomalous samples (score >= 1), clear
only after ``off_delay`` consecutive normal ones. Anomalies on machines are mostly episodes (a valve
stuck, a bearing running hot), so the delays lose little and remove isolated false alarms and
on/off flicker. NaN (warming up) counts as normal.

The state machine is computed for a whole batch at once: a sample is a *raise point* where the run
of anomalous samples reaches ``on_delay``, a *clear point* where the run of normal ones reaches
``off_delay``; the alarm at a sample is whatever the latest such point said (or the state carried
from the previous batch). Runs carry across batches, so any split of a stream gives the same alarms.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from werk.analytics.base import ANOMALOUS, FloatArray
from werk.core import ValidationError


def _runs(flags: npt.NDArray[np.bool_], carried: int) -> npt.NDArray[np.int64]:
    """Length of the run of True ending at each position (``carried`` continues a run)."""
    index = np.arange(len(flags))
    last_false = np.maximum.accumulate(np.where(flags, -1, index))
    run = index - last_false
    return np.where(last_false < 0, run + carried, run) * flags


def held_runs(active: npt.NDArray[np.bool_], carried: int) -> npt.NDArray[np.int64]:
    """How many rows in a row the alarm has been active at each row (``carried`` continues)."""
    return _runs(active, carried)


class AlarmRule:
    """Alarm state per sample from scores, with on- and off-delays (in samples)."""

    def __init__(self, on_delay: int = 1, off_delay: int = 1) -> None:
        if on_delay < 1 or off_delay < 1:
            raise ValidationError("delays must be >= 1 sample", field="on_delay", rule=">= 1")
        self.on_delay = int(on_delay)
        self.off_delay = int(off_delay)
        self.active = False
        self.held = 0
        """Rows the alarm has been active in a row (0 when it is not)."""
        self._above = 0
        self._below = 0

    def apply(self, scores: FloatArray) -> npt.NDArray[np.bool_]:
        """Whether the alarm is active at each sample of ``scores``."""
        values = np.asarray(scores, dtype=np.float64)
        if len(values) == 0:
            return np.zeros(0, dtype=bool)
        anomalous = values >= ANOMALOUS  # NaN compares False, silently
        if not anomalous.any():  # the usual batch: a run of normal samples, O(1) bookkeeping
            return self._all_normal(len(values))
        above = _runs(anomalous, self._above)
        below = _runs(~anomalous, self._below)
        raise_point = above >= self.on_delay
        clear_point = below >= self.off_delay
        index = np.arange(len(values))
        latest = np.maximum.accumulate(np.where(raise_point | clear_point, index, -1))
        active = np.where(latest < 0, self.active, raise_point[np.maximum(latest, 0)])
        self.held = int(held_runs(active, self.held)[-1])
        self.active = bool(active[-1])
        self._above = int(above[-1])
        self._below = int(below[-1])
        return active

    def _all_normal(self, n: int) -> npt.NDArray[np.bool_]:
        """``apply`` for a batch without an anomalous sample (the same result, ~10× cheaper)."""
        active = np.zeros(n, dtype=bool)
        if self.active:  # still on until the run of normal samples reaches the off-delay
            active[: max(0, self.off_delay - self._below - 1)] = True
            self.held = int(held_runs(active, self.held)[-1])
            self.active = bool(active[-1])
        self._above = 0
        self._below += n
        return active

    def raised(self, scores: FloatArray) -> npt.NDArray[np.bool_]:
        """True at the samples where the alarm is raised (a transition to active)."""
        was = self.active
        active = self.apply(scores)
        previous = np.concatenate(([was], active[:-1]))
        return active & ~previous

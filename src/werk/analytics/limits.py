"""Limit checks with a deadband: high/low alarms that do not chatter around the line.

A high limit is crossed when a value rises above ``high`` and left only when it falls below
``high - deadband`` (a low limit mirrors it). Between the two lines the state holds, which is what
keeps a noisy value near the limit from raising and clearing at every sample (ISA-18.2's
deadband; the alarm's on/off delays are the time-based counterpart).

Vectorised: the state after each sample is the last "set" or "reset" at or before it, found with
one ``maximum.accumulate`` over the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from werk.twin.analytics_spec import Limits


@dataclass(slots=True)
class LimitState:
    limits: Limits
    high_active: bool = False
    low_active: bool = False

    def update(
        self, values: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """Per sample: is the high (low) limit alarm active after it?"""
        n = len(values)
        high = np.zeros(n, bool)
        low = np.zeros(n, bool)
        if self.limits.high is not None:
            line = self.limits.high
            high = _hysteresis(
                values > line, values < line - self.limits.deadband, self.high_active
            )
            self.high_active = bool(high[-1]) if n else self.high_active
        if self.limits.low is not None:
            line = self.limits.low
            low = _hysteresis(values < line, values > line + self.limits.deadband, self.low_active)
            self.low_active = bool(low[-1]) if n else self.low_active
        return high, low


def _hysteresis(
    set_: npt.NDArray[np.bool_], reset: npt.NDArray[np.bool_], before: bool
) -> npt.NDArray[np.bool_]:
    n = len(set_)
    marks = np.where(set_, 2, np.where(reset, 1, 0))  # 2 set, 1 reset, 0 hold
    position = np.where(marks > 0, np.arange(1, n + 1), 0)
    np.maximum.accumulate(position, out=position)
    last_mark = np.r_[2 if before else 1, marks][position]
    return np.asarray(last_mark == 2)

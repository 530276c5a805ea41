"""A machine's state: the small integer a state signal carries (ISA-95-style operating states).

One definition for every part that reads or writes state signals: the virtual plant's sensor
models, OEE (availability and the six losses), calibration of the line model from history, and
the API's plant view.
"""

from __future__ import annotations

from enum import IntEnum


class MachineState(IntEnum):
    RUNNING = 0
    IDLE = 1
    BLOCKED = 2
    STARVED = 3
    DOWN = 4
    SETUP = 5

    @property
    def label(self) -> str:
        """The lower-case name people read: ``running``, ``down`` …"""
        return self.name.lower()

    @classmethod
    def label_of(cls, code: float) -> str | None:
        """The label of a state signal's value; a code werk does not know is shown as its number,
        a missing value (NaN) as ``None``."""
        if code != code:
            return None
        number = int(code)
        return cls(number).label if number in cls._value2member_map_ else str(number)

"""Sample quality codes, one byte per sample.

The order matters: a higher code is worse, so the quality of a combination is the ``max``.
``STALE`` means the value was good once but the source stopped reporting (e.g. a device died).
"""

from __future__ import annotations

from enum import IntEnum


class Quality(IntEnum):
    GOOD = 0
    UNCERTAIN = 1
    BAD = 2
    STALE = 3

    @classmethod
    def parse(cls, value: str | int) -> Quality:
        """Accept a name (case-insensitive) or a code."""
        if isinstance(value, str):
            if value.strip().isdigit():
                return cls(int(value))
            try:
                return cls[value.strip().upper()]
            except KeyError:
                names = ", ".join(q.name.lower() for q in cls)
                raise ValueError(f"unknown quality {value!r}; expected one of {names}") from None
        return cls(int(value))

"""Clocks: the same code runs against the wall clock or a simulated one.

Time inside werk is integer nanoseconds since the Unix epoch, UTC.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol

NS_PER_S = 1_000_000_000


class Clock(Protocol):
    def now_ns(self) -> int:
        """Current time, ns since the epoch, UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class WallClock:
    """Real time."""

    def now_ns(self) -> int:
        return time.time_ns()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class SimulatedClock:
    """Time that moves only when told to: ``sleep`` advances it at once (as fast as possible)."""

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns

    def now_ns(self) -> int:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._now += round(seconds * NS_PER_S)

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        await asyncio.sleep(0)


def to_datetime(ns: int) -> datetime:
    """ns since the epoch -> timezone-aware UTC datetime (microsecond precision)."""
    return datetime.fromtimestamp(ns / NS_PER_S, tz=UTC)


def to_ns(value: datetime) -> int:
    """Timezone-aware datetime -> ns since the epoch. Naive datetimes are refused."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: give a timezone (e.g. 2026-11-24T10:00:00Z)")
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * NS_PER_S + delta.microseconds * 1_000


def iso(ns: int) -> str:
    """ns -> ISO 8601 with nanoseconds and a Z."""
    seconds, frac = divmod(ns, NS_PER_S)
    base = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{frac:09d}Z"


_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "ms": 1_000_000,
    "s": NS_PER_S,
    "m": 60 * NS_PER_S,
    "min": 60 * NS_PER_S,
    "h": 3_600 * NS_PER_S,
    "d": 86_400 * NS_PER_S,
    "w": 7 * 86_400 * NS_PER_S,
}


def parse_duration(text: str) -> int:
    """``"90s"``, ``"1m"``, ``"1h"``, ``"7d"``, ``"250ms"`` -> ns. A bare number means seconds."""
    raw = text.strip().lower()
    digits = raw.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = raw[len(digits) :] or "s"
    if unit not in _UNITS_NS or not digits:
        units = ", ".join(_UNITS_NS)
        raise ValueError(f"bad duration {text!r}: a number and a unit ({units}), e.g. 1h")
    try:
        amount = float(digits)
    except ValueError:
        raise ValueError(f"bad duration {text!r}: {digits!r} is not a number") from None
    if amount <= 0:
        raise ValueError(f"bad duration {text!r}: must be positive")
    return round(amount * _UNITS_NS[unit])


def parse_time(text: str, now_ns: int) -> int:
    """An instant given as ISO 8601 (with zone), integer ns, ``now`` or a duration ago (``1h``)."""
    raw = text.strip()
    if raw.lower() == "now":
        return now_ns
    if raw.lstrip("-").isdigit():
        return int(raw)
    if raw[:1].isdigit() and raw[-1:].isalpha() and not any(c in raw for c in "-:T"):
        return now_ns - parse_duration(raw)
    try:
        value = datetime.fromisoformat(raw[:-1] + "+00:00" if raw[-1:] in "Zz" else raw)
    except ValueError:
        raise ValueError(
            f"bad time {text!r}: ISO 8601 with a zone (2026-11-24T10:00:00Z), ns, 'now' or '1h'"
        ) from None
    return to_ns(value)

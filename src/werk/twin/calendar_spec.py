"""When an asset works: the plant file's ``calendar`` tables, and laying a calendar out in time.

```toml
[assets.line1.calendar]
shifts = [["06:00", "14:00"], ["14:00", "22:00"]]   # daily, local HH:MM; "22:00"-"06:00" ends
days = ["mon", "tue", "wed", "thu", "fri"]           # the next day; default: every day
timezone = "Europe/Berlin"                           # IANA zone of the shifts (default UTC)
```

An asset without a ``calendar`` works to its parent's, up to the site; a calendar on an asset
replaces the inherited one as a whole (:meth:`werk.twin.plant.Plant.calendar_of`). The spelling
is the plan file's (``werk.plan.formats``: ``shifts``, ``days``), which reads its machines'
shifts with the same functions.

Shifts are laid out day by day in local time (:meth:`Calendar.open_between`): on the day
daylight saving time starts, ``06:00``-``22:00`` in Berlin is 15 hours long, and it is 17 hours
on the day it ends. A local time that does not exist (02:30 on the spring-forward night) is read
with the offset before the change, so it falls an hour later, as a wall clock shows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from werk.core import NS_PER_S

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60

_KEYS = ("shifts", "days", "timezone")


class Checker(Protocol):
    """What the plant file's checker offers (``werk.twin.plant._Checker``)."""

    def error(self, path: tuple[str, ...], message: str, rule: str) -> None: ...

    def table(
        self, value: Any, path: tuple[str, ...], allowed: tuple[str, ...]
    ) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Calendar:
    """Daily shifts on some weekdays, in a time zone.

    ``shifts`` are ``(begin, end)`` minutes after local midnight; ``end > begin``, and an end past
    ``24 * 60`` runs into the next day (a night shift ``22:00``-``06:00`` is ``(1320, 1800)``).
    """

    shifts: tuple[tuple[int, int], ...]
    days: tuple[str, ...] = WEEKDAYS
    timezone: str = "UTC"

    def open_between(self, start_ns: int, end_ns: int) -> list[tuple[int, int]]:
        """The shifts (ns since the epoch, sorted, merged where they touch) that overlap
        ``[start_ns, end_ns)``, clipped to it."""
        zone = ZoneInfo(self.timezone)
        first = datetime.fromtimestamp(start_ns // NS_PER_S, tz=UTC).astimezone(zone).date()
        last = datetime.fromtimestamp(-(-end_ns // NS_PER_S), tz=UTC).astimezone(zone).date()
        windows: list[tuple[int, int]] = []
        day = first - timedelta(days=1)  # last night's shift may still run at the start
        while day <= last:
            if WEEKDAYS[day.weekday()] in self.days:
                for begin, end in self.shifts:
                    opens = max(start_ns, _local_ns(day, begin, zone))
                    closes = min(end_ns, _local_ns(day, end, zone))
                    if closes > opens:
                        windows.append((opens, closes))
            day += timedelta(days=1)
        merged: list[tuple[int, int]] = []
        for opens, closes in sorted(windows):
            if merged and opens <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], closes))
            else:
                merged.append((opens, closes))
        return merged

    def closed_between(self, start_ns: int, end_ns: int) -> list[tuple[int, int]]:
        """The off-shift windows (ns since the epoch) within ``[start_ns, end_ns)``."""
        closed: list[tuple[int, int]] = []
        free_from = start_ns
        for opens, closes in self.open_between(start_ns, end_ns):
            if opens > free_from:
                closed.append((free_from, opens))
            free_from = max(free_from, closes)
        if free_from < end_ns:
            closed.append((free_from, end_ns))
        return closed


def _local_ns(day: date, minutes: int, zone: ZoneInfo) -> int:
    extra_days, minute_of_day = divmod(minutes, MINUTES_PER_DAY)
    local = datetime.combine(
        day + timedelta(days=extra_days), time(minute_of_day // 60, minute_of_day % 60), zone
    )
    return round(local.timestamp()) * NS_PER_S


# -- reading the pieces (shared with the plan file) ---------------------------------------------


def parse_time_of_day(value: Any) -> int:
    """``"HH:MM"`` (``"24:00"`` allowed) -> minutes after midnight; ``ValueError`` says why."""
    try:
        hours, minutes = str(value).split(":")
        total = int(hours) * 60 + int(minutes)
        valid = 0 <= int(minutes) < 60
    except ValueError:
        raise ValueError(f"{value!r} is not HH:MM") from None
    if not valid or not 0 <= total <= MINUTES_PER_DAY:
        raise ValueError(f"{value!r} is not a time of day")
    return total


def parse_shift(value: Any) -> tuple[int, int]:
    """``["06:00", "14:00"]`` -> ``(360, 840)``; an end at or before the begin is the next day."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError(f'{value!r} is not a shift: give ["HH:MM", "HH:MM"]')
    begin, end = (parse_time_of_day(v) for v in value)
    return begin, end if end > begin else end + MINUTES_PER_DAY


def parse_weekday(value: Any) -> str:
    """``"Mon"``, ``"monday"`` -> ``"mon"``; ``ValueError`` for anything else."""
    day = str(value).strip().lower()[:3]
    if day not in WEEKDAYS:
        raise ValueError(f"{value!r} is not a weekday (mon..sun)")
    return day


def parse_timezone(value: Any) -> str:
    """An IANA time zone name (``Europe/Berlin``, ``UTC``); ``ValueError`` if unknown."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} is not a time zone name")
    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r} (an IANA name such as 'Europe/Berlin' or 'UTC')"
        ) from None
    return value.strip()


# -- the plant file's calendar table ------------------------------------------------------------


def parse_calendar(body: Any, path: tuple[str, ...], check: Checker) -> Calendar | None:
    """An asset's ``calendar`` table; every mistake goes to ``check`` (``None``: unusable)."""
    table = check.table(body, path, _KEYS)
    if not isinstance(body, Mapping):
        return None
    ok = True
    shifts: list[tuple[int, int]] = []
    raw_shifts = table.get("shifts")
    if raw_shifts is None:
        check.error((*path, "shifts"), 'is required: e.g. [["06:00", "22:00"]]', "required")
        ok = False
    elif not isinstance(raw_shifts, list) or not raw_shifts:
        check.error((*path, "shifts"), 'must be a list of ["HH:MM", "HH:MM"] pairs', "shift")
        ok = False
    else:
        for i, pair in enumerate(raw_shifts):
            try:
                shifts.append(parse_shift(pair))
            except ValueError as error:
                check.error((*path, "shifts", str(i)), f"shift {i + 1}: {error}", "shift")
                ok = False
    days: tuple[str, ...] = WEEKDAYS
    if "days" in table:
        raw_days = table["days"]
        if not isinstance(raw_days, list) or not raw_days:
            check.error((*path, "days"), 'must be a list of weekdays, e.g. ["mon", "tue"]', "type")
            ok = False
        else:
            found = []
            for value in raw_days:
                try:
                    found.append(parse_weekday(value))
                except ValueError as error:
                    check.error((*path, "days"), str(error), "weekday")
                    ok = False
            days = tuple(d for d in WEEKDAYS if d in found)
    timezone = "UTC"
    if "timezone" in table:
        try:
            timezone = parse_timezone(table["timezone"])
        except ValueError as error:
            check.error((*path, "timezone"), str(error), "timezone")
            ok = False
    return Calendar(tuple(shifts), days, timezone) if ok else None

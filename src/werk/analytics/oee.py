"""Overall equipment effectiveness per ISO 22400-2, with the six big losses, MTBF and MTTR.

Inputs are what a machine reports: a **state** signal (integer codes, the virtual plant's
``MachineState``: running 0, idle 1, blocked 2, starved 3, down 4, setup 5), read as a step
function (a value holds until the next sample); a **good-parts counter** (monotone; a drop is a
restart from 0, so the new value is what was made since); optionally a **scrap counter**; the
**ideal cycle time** per part; and the **shift calendar** that says which time was planned.

ISO 22400-2 names (and what werk measures for them):

======  ==========================  ============================================================
PBT     planned busy time           shift time minus planned breaks
APT     actual production time      running, plus small stops (see below)
PRI     planned run time per item   the ideal cycle time
PQ      produced quantity           good + scrap counted in planned time
GQ      good quantity               increments of the parts counter
SQ      scrap quantity              increments of the scrap counter (0 without one)
======  ==========================  ============================================================

availability = APT / PBT, performance (ISO: effectiveness) = PRI × PQ / APT, quality ratio =
GQ / PQ, OEE = A × P × Q (= PRI × GQ / PBT, which is also defined when nothing was made).

The six big losses, in seconds, add up with the value-adding time (PRI × GQ) to PBT:

* breakdowns: time DOWN; setup and adjustments: time in SETUP (availability losses);
* other stops: idle, blocked or starved for ``small_stop_s`` or longer (default 5 min) — a
  stop that long is a planning or flow problem, an availability loss;
* small stops and idling: idle, blocked or starved stops *shorter* than ``small_stop_s``
  (a performance loss: they stay inside APT, as in Nakajima's loss tree);
* reduced speed: running time − PRI × PQ (negative: the ideal cycle is slower than the machine);
* process defects: PRI × scrap; reduced yield at start-up: PRI × scrap counted within
  ``startup_s`` after a setup ends (0 unless asked for), taken out of process defects.

Time with no known state (before the first sample, or a NaN sample) stays in PBT as ``unknown``
and is reported, so missing data lowers availability visibly instead of silently.

MTBF = APT / failures and MTTR = time DOWN / failures, where a failure is an entry into DOWN
from another known state, inside planned time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

from werk.core import NS_PER_S, ValidationError, iso
from werk.core.machine import MachineState
from werk.twin.calendar_spec import MINUTES_PER_DAY, WEEKDAYS, Calendar

FloatArray = npt.NDArray[np.float64]
TimeArray = npt.NDArray[np.int64]

RUNNING, IDLE, BLOCKED, STARVED, DOWN, SETUP = MachineState
STOPPED = (IDLE, BLOCKED, STARVED)
SMALL_STOP_S = 300.0

By = Literal["shift", "day", "total"]


class Category(IntEnum):
    """Where a moment of time goes in the loss tree."""

    RUN = 0
    SMALL_STOP = 1
    OTHER_STOP = 2
    DOWN = 3
    SETUP = 4
    UNKNOWN = 5


_CATEGORIES = len(Category)

# -- the shift calendar ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Shift:
    name: str
    start: dt.time
    end: dt.time  # at or before start: the shift ends the next day (22:00–06:00); equal: 24 h


@dataclass(frozen=True, slots=True)
class Period:
    """A reporting period: a shift, a day or the whole window, and its planned intervals (ns)."""

    label: str
    start: int
    end: int
    planned: tuple[tuple[int, int], ...]
    shift: str | None = None
    day: str | None = None

    @property
    def planned_ns(self) -> int:
        return sum(b - a for a, b in self.planned)


DEFAULT_SHIFTS = "early=06:00-14:00,late=14:00-22:00,night=22:00-06:00"


def _clock(text: str, field: str) -> dt.time:
    raw = text.strip()
    if raw == "24:00":
        return dt.time(0, 0)
    try:
        return dt.time.fromisoformat(raw)
    except ValueError:
        raise ValidationError(
            f"bad time of day {text!r}: HH:MM, e.g. 06:00", field=field, rule="time-of-day"
        ) from None


def _span(text: str, field: str) -> tuple[dt.time, dt.time]:
    start, sep, end = text.partition("-")
    if not sep:
        raise ValidationError(
            f"bad range {text!r}: HH:MM-HH:MM, e.g. 06:00-14:00", field=field, rule="time-range"
        )
    return _clock(start, field), _clock(end, field)


def _parse_breaks(text: str | None) -> tuple[tuple[dt.time, dt.time], ...]:
    """``"09:00-09:15,12:00-12:30"``: planned breaks, every day."""
    return tuple(_span(p, "breaks") for p in (text or "").split(",") if p.strip())


def _zone(name: str) -> dt.tzinfo:
    """UTC without the time zone database (absent on some systems without the tzdata package)."""
    if name.upper() in ("UTC", "Z", "ETC/UTC"):
        return dt.UTC
    return ZoneInfo(name)


def _minutes(t: dt.time) -> int:
    return t.hour * 60 + t.minute


def _time_of(minutes: int) -> dt.time:
    """Minutes after midnight (past 24 h: of the next day) as a time of day."""
    minutes %= MINUTES_PER_DAY
    return dt.time(minutes // 60, minutes % 60)


@dataclass(frozen=True, slots=True)
class ShiftCalendar:
    """Shifts as daily local time ranges in one time zone, and planned breaks within them.

    A shift belongs to the day it starts on (the night shift of the 14th runs into the 15th).
    Local times go through the zone's rules, so a shift across a DST change is an hour shorter
    or longer, as the people on it experience.
    """

    shifts: tuple[Shift, ...]
    timezone: str = "UTC"
    breaks: tuple[tuple[dt.time, dt.time], ...] = ()
    days: tuple[str, ...] = WEEKDAYS
    """The weekdays the shifts run on (a shift belongs to the day it starts on)."""

    def __post_init__(self) -> None:
        if not self.shifts:
            raise ValidationError("give at least one shift", field="shifts", rule="no-shifts")
        unknown = [d for d in self.days if d not in WEEKDAYS]
        if unknown or not self.days:
            raise ValidationError(
                f"days {list(self.days)}: weekdays among {', '.join(WEEKDAYS)}",
                field="days",
                rule="weekday",
            )
        try:
            _zone(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(
                f"unknown time zone {self.timezone!r}: an IANA name such as Europe/Berlin",
                field="tz",
                rule="time-zone",
            ) from None
        arcs = []
        for shift in self.shifts:
            a, b = _minutes(shift.start), _minutes(shift.end)
            arcs.append((shift.name, a, b + 1440 if b <= a else b))
        for i, (name_a, a0, a1) in enumerate(arcs):
            for name_b, b0, b1 in arcs[i + 1 :]:
                if any(a0 < b1 + k and b0 + k < a1 for k in (-1440, 0, 1440)):
                    raise ValidationError(
                        f"shifts {name_a} and {name_b} overlap", field="shifts", rule="overlap"
                    )
        if len({s.name for s in self.shifts}) != len(self.shifts):
            raise ValidationError("shift names must differ", field="shifts", rule="unique-names")

    @classmethod
    def parse(
        cls, shifts: str = DEFAULT_SHIFTS, timezone: str = "UTC", breaks: str | None = None
    ) -> ShiftCalendar:
        """``"early=06:00-14:00,late=14:00-22:00"`` (names optional: shift1, shift2, ...);
        breaks ``"09:00-09:15,12:00-12:30"``, every day."""
        parsed = []
        for i, part in enumerate(p for p in shifts.split(",") if p.strip()):
            name, sep, span = part.strip().rpartition("=")
            start, end = _span(span, "shifts")
            parsed.append(Shift(name.strip() if sep else f"shift{i + 1}", start, end))
        pauses = _parse_breaks(breaks)
        return cls(tuple(parsed), timezone, pauses)

    @classmethod
    def from_plant(cls, calendar: Calendar, breaks: str | None = None) -> ShiftCalendar:
        """The calendar of an asset in the plant file (``werk.twin.calendar_spec``)."""
        parsed = tuple(
            Shift(f"shift{i + 1}", _time_of(begin), _time_of(end))
            for i, (begin, end) in enumerate(calendar.shifts)
        )
        pauses = _parse_breaks(breaks)
        return cls(parsed, calendar.timezone, pauses, tuple(calendar.days))

    def _instant(self, day: dt.date, at: dt.time) -> int:
        local = dt.datetime.combine(day, at, tzinfo=_zone(self.timezone))
        return int(local.timestamp()) * NS_PER_S

    def _instances(self, start: int, end: int) -> list[tuple[Shift, dt.date, int, int]]:
        """Every shift that overlaps ``[start, end)``, unclipped, in time order."""
        zone = _zone(self.timezone)
        first = dt.datetime.fromtimestamp(start // NS_PER_S, zone).date() - dt.timedelta(days=1)
        last = dt.datetime.fromtimestamp(end // NS_PER_S, zone).date()
        found = []
        day = first
        while day <= last:
            if WEEKDAYS[day.weekday()] not in self.days:
                day += dt.timedelta(days=1)
                continue
            for shift in self.shifts:
                a = self._instant(day, shift.start)
                ends_next_day = _minutes(shift.end) <= _minutes(shift.start)
                b = self._instant(day + dt.timedelta(days=ends_next_day), shift.end)
                if a < end and b > start:
                    found.append((shift, day, a, b))
            day += dt.timedelta(days=1)
        found.sort(key=lambda item: item[2])
        return found

    def _breaks(self, day: dt.date) -> list[tuple[int, int]]:
        out = []
        for d in (day, day + dt.timedelta(days=1)):  # a night shift's breaks fall on the next day
            for a, b in self.breaks:
                end_day = d + dt.timedelta(days=_minutes(b) <= _minutes(a))
                out.append((self._instant(d, a), self._instant(end_day, b)))
        return out

    def periods(self, start: int, end: int, by: By = "shift") -> list[Period]:
        """Reporting periods in ``[start, end)``, each with its planned (busy) intervals."""
        shifts = []
        for shift, day, a, b in self._instances(start, end):
            lo, hi = max(a, start), min(b, end)
            planned = _subtract([(lo, hi)], self._breaks(day))
            label = f"{day.isoformat()} {shift.name}"
            shifts.append(Period(label, lo, hi, planned, shift.name, day.isoformat()))
        if by == "shift":
            return shifts
        if by == "total":
            planned = tuple(iv for p in shifts for iv in p.planned)
            return [Period(f"{iso(start)} – {iso(end)}", start, end, planned)]
        if by != "day":
            raise ValidationError(
                f"bad grouping {by!r}: shift, day or total", field="by", rule="grouping"
            )
        days: dict[str, list[Period]] = {}
        for p in shifts:
            days.setdefault(p.day or "", []).append(p)
        return [
            Period(
                day,
                min(p.start for p in group),
                max(p.end for p in group),
                tuple(iv for p in group for iv in p.planned),
                day=day,
            )
            for day, group in days.items()
        ]

    def planned_in(self, start: int, end: int) -> tuple[tuple[int, int], ...]:
        """The planned intervals of ``[start, end)``, whatever shifts they belong to."""
        return tuple(iv for p in self.periods(start, end, "shift") for iv in p.planned)


def _subtract(
    intervals: list[tuple[int, int]], holes: list[tuple[int, int]]
) -> tuple[tuple[int, int], ...]:
    out = intervals
    for h0, h1 in holes:
        cut: list[tuple[int, int]] = []
        for a, b in out:
            if h1 <= a or h0 >= b:
                cut.append((a, b))
                continue
            if a < h0:
                cut.append((a, h0))
            if h1 < b:
                cut.append((h1, b))
        out = cut
    return tuple(out)


# -- the machine's history ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class StateTimeline:
    """Contiguous segments ``[starts[i], ends[i])`` covering the window, each in one category."""

    starts: TimeArray
    ends: TimeArray
    categories: npt.NDArray[np.int8]
    failures: TimeArray  # entries into DOWN
    setup_ends: TimeArray  # leaving SETUP for RUNNING: start-up scrap is counted after these

    @classmethod
    def from_samples(
        cls,
        timestamps: npt.ArrayLike,
        codes: npt.ArrayLike,
        start: int,
        end: int,
        *,
        small_stop_s: float = SMALL_STOP_S,
    ) -> StateTimeline:
        """Samples in time order; those before ``start`` only set the state at ``start``."""
        ts = np.asarray(timestamps, np.int64)
        raw = np.asarray(codes, np.float64)
        if ts.shape != raw.shape:
            raise ValidationError("state timestamps and values differ in length", field="state")
        inside = ts < end
        ts, raw = ts[inside], raw[inside]
        code = np.where(np.isfinite(raw), np.round(raw), -1).astype(np.int64)  # -1: unknown
        if len(code):  # a repeated value is not a change
            change = np.concatenate([[True], code[1:] != code[:-1]])
            ts, code = ts[change], code[change]
        seg_start = np.concatenate([[start], ts]) if not len(ts) or ts[0] > start else ts
        seg_code = np.concatenate([[-1], code]) if len(seg_start) > len(ts) else code
        seg_end = np.append(seg_start[1:], end)

        category = np.full(len(seg_code), Category.UNKNOWN, np.int8)
        category[seg_code == RUNNING] = Category.RUN
        category[seg_code == DOWN] = Category.DOWN
        category[seg_code == SETUP] = Category.SETUP
        stopped = np.isin(seg_code, STOPPED)
        # a stop is a run of idle/blocked/starved segments: its whole length decides small or not
        edges = np.diff(np.concatenate([[0], stopped.astype(np.int8), [0]]))
        for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
            length_s = (seg_end[b - 1] - seg_start[a]) / NS_PER_S
            small = length_s < small_stop_s
            category[a:b] = Category.SMALL_STOP if small else Category.OTHER_STOP

        known = seg_code >= 0
        kts, kcode = seg_start[known], seg_code[known]
        entered = np.concatenate([[False], kcode[1:] != kcode[:-1]]) if len(kcode) else known[:0]
        failures = kts[entered & (kcode == DOWN)]
        setup_ends = kts[entered & (kcode == RUNNING) & (np.roll(kcode, 1) == SETUP)]

        keep = seg_end > np.maximum(seg_start, start)
        return cls(
            np.maximum(seg_start, start)[keep],
            seg_end[keep],
            category[keep],
            failures[failures >= start],
            setup_ends,
        )

    def time_in(self, intervals: Sequence[tuple[int, int]]) -> npt.NDArray[np.int64]:
        """ns spent in each category within the intervals: one row per interval."""
        if not len(intervals):
            return np.zeros((0, _CATEGORIES), np.int64)
        a = np.array([iv[0] for iv in intervals], np.int64)
        b = np.array([iv[1] for iv in intervals], np.int64)
        return self._cumulative(b) - self._cumulative(a)

    def _cumulative(self, t: TimeArray) -> npt.NDArray[np.int64]:
        """Time in each category from the timeline's start up to each of ``t``."""
        one_hot = self.categories[:, None] == np.arange(_CATEGORIES)[None, :]
        lengths = (self.ends - self.starts)[:, None] * one_hot
        before = np.vstack([np.zeros((1, _CATEGORIES), np.int64), np.cumsum(lengths, axis=0)])
        k = np.searchsorted(self.starts, t, side="right") - 1
        inside = k >= 0
        kk = np.clip(k, 0, None)
        if not len(self.starts):
            return np.zeros((len(t), _CATEGORIES), np.int64)
        partial = np.clip(np.minimum(t, self.ends[kk]) - self.starts[kk], 0, None)
        out = before[kk] + partial[:, None] * one_hot[kk]
        return np.where(inside[:, None], out, 0)


@dataclass(frozen=True, slots=True, eq=False)
class Increments:
    """What a counter added, and when (at the later sample of each pair)."""

    times: TimeArray
    counts: FloatArray
    running_total: FloatArray  # 0, then the cumulative counts: sums over intervals by lookup

    @classmethod
    def of(cls, times: npt.ArrayLike, counts: npt.ArrayLike) -> Increments:
        c = np.asarray(counts, np.float64)
        return cls(np.asarray(times, np.int64), c, np.concatenate([[0.0], np.cumsum(c)]))

    @classmethod
    def from_counter(
        cls, timestamps: npt.ArrayLike, values: npt.ArrayLike, start: int
    ) -> Increments:
        """A monotone counter's increments after ``start``; a sample before ``start`` is the
        baseline. A drop is a reset to 0: the new value is what was counted since."""
        ts = np.asarray(timestamps, np.int64)
        x = np.asarray(values, np.float64)
        keep = np.isfinite(x)
        ts, x = ts[keep], x[keep]
        if len(x) < 2:
            return cls.none()
        step = np.diff(x)
        step = np.where(step < 0, x[1:], step)
        at = ts[1:]
        use = (at >= start) & (step != 0)
        return cls.of(at[use], step[use])

    @classmethod
    def none(cls) -> Increments:
        return cls.of(np.empty(0, np.int64), np.empty(0))

    def within(self, intervals: Sequence[tuple[int, int]]) -> float:
        if not len(intervals):
            return 0.0
        bounds = np.asarray(intervals, np.int64)
        total = self.running_total
        ends = total[np.searchsorted(self.times, bounds[:, 1])]
        return float(np.sum(ends - total[np.searchsorted(self.times, bounds[:, 0])]))

    def split(self, after: TimeArray, window_ns: int) -> tuple[Increments, Increments]:
        """(increments within ``window_ns`` after one of ``after``, the rest)."""
        if window_ns <= 0 or not len(after) or not len(self.times):
            return Increments.none(), self
        k = np.searchsorted(after, self.times, side="right") - 1
        near = (k >= 0) & (self.times - after[np.clip(k, 0, None)] <= window_ns)
        return (
            Increments.of(self.times[near], self.counts[near]),
            Increments.of(self.times[~near], self.counts[~near]),
        )


@dataclass(frozen=True, slots=True, eq=False)
class MachineHistory:
    """A machine's state timeline and counters over a window, ready to be cut into periods."""

    asset: str
    timeline: StateTimeline
    good: Increments
    scrap: Increments
    has_scrap: bool


def history(
    asset: str,
    start: int,
    end: int,
    state: tuple[npt.ArrayLike, npt.ArrayLike],
    parts: tuple[npt.ArrayLike, npt.ArrayLike],
    scrap: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
    *,
    small_stop_s: float = SMALL_STOP_S,
) -> MachineHistory:
    """Build from ``(timestamps ns, values)`` pairs. Give each signal's last sample before
    ``start`` too (the state holds, the counter's baseline), else the start is unknown."""
    if not start < end:
        raise ValidationError("start must be before end", field="start", rule="start-before-end")
    if small_stop_s <= 0:
        raise ValidationError(
            "small_stop_s must be positive", field="small_stop_s", rule="positive"
        )
    return MachineHistory(
        asset,
        StateTimeline.from_samples(*state, start, end, small_stop_s=small_stop_s),
        Increments.from_counter(*parts, start),
        Increments.from_counter(*scrap, start) if scrap is not None else Increments.none(),
        scrap is not None,
    )


# -- the figures ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figures:
    """OEE of one asset over one period; times in seconds, ratios ``None`` where undefined."""

    asset: str
    period: Period
    planned_s: float  # PBT
    production_s: float  # APT: running + small stops
    running_s: float
    good: float
    scrap: float
    startup_scrap: float
    ideal_cycle_s: float
    losses: dict[str, float]
    failures: int

    @property
    def total(self) -> float:
        return self.good + self.scrap

    @property
    def has_data(self) -> bool:
        return self.planned_s > 0 and self.losses["unknown_s"] < self.planned_s

    @property
    def availability(self) -> float | None:
        return self.production_s / self.planned_s if self.has_data else None

    @property
    def performance(self) -> float | None:
        if not self.has_data or self.production_s <= 0:
            return None
        return self.ideal_cycle_s * self.total / self.production_s

    @property
    def quality(self) -> float | None:
        return self.good / self.total if self.has_data and self.total > 0 else None

    @property
    def oee(self) -> float | None:
        """A × P × Q, which reduces to PRI × GQ / PBT: 0, not undefined, when nothing was made."""
        return self.ideal_cycle_s * self.good / self.planned_s if self.has_data else None

    @property
    def mtbf_s(self) -> float | None:
        return self.production_s / self.failures if self.failures else None

    @property
    def mttr_s(self) -> float | None:
        return self.losses["breakdowns_s"] / self.failures if self.failures else None

    @property
    def scrap_rate(self) -> float | None:
        return self.scrap / self.total if self.has_data and self.total > 0 else None

    def to_dict(self) -> dict[str, Any]:
        p = self.period
        return {
            "asset": self.asset,
            "period": p.label,
            "shift": p.shift,
            "day": p.day,
            "start": iso(p.start),
            "end": iso(p.end),
            "start_ns": p.start,
            "end_ns": p.end,
            "has_data": self.has_data,
            "availability": self.availability,
            "performance": self.performance,
            "quality": self.quality,
            "oee": self.oee,
            "planned_s": self.planned_s,
            "production_s": self.production_s,
            "running_s": self.running_s,
            "good": self.good,
            "scrap": self.scrap,
            "total": self.total,
            "scrap_rate": self.scrap_rate,
            "ideal_cycle_s": self.ideal_cycle_s,
            "losses": dict(self.losses),
            "failures": self.failures,
            "mtbf_s": self.mtbf_s,
            "mttr_s": self.mttr_s,
        }


def figures(
    machine: MachineHistory,
    periods: Sequence[Period],
    *,
    ideal_cycle_s: float,
    startup_s: float = 0.0,
) -> list[Figures]:
    """OEE, six big losses, MTBF and MTTR of ``machine`` in each period."""
    if not ideal_cycle_s > 0:
        raise ValidationError(
            "the ideal cycle time must be positive", field="ideal_cycle_s", rule="positive"
        )
    startup, defects = machine.scrap.split(machine.timeline.setup_ends, int(startup_s * NS_PER_S))
    failures = Increments.of(machine.timeline.failures, np.ones(len(machine.timeline.failures)))
    # every planned interval of every period through the timeline at once, then summed per period
    flat = [iv for period in periods for iv in period.planned]
    owner = np.repeat(np.arange(len(periods)), [len(period.planned) for period in periods])
    per_period = np.zeros((len(periods), _CATEGORIES), np.int64)
    np.add.at(per_period, owner, machine.timeline.time_in(flat))
    out = []
    for period, ns in zip(periods, per_period, strict=True):
        seconds = ns / NS_PER_S
        good = machine.good.within(period.planned)
        early = startup.within(period.planned)
        late = defects.within(period.planned)
        running = float(seconds[Category.RUN])
        small = float(seconds[Category.SMALL_STOP])
        losses = {
            "breakdowns_s": float(seconds[Category.DOWN]),
            "setup_s": float(seconds[Category.SETUP]),
            "other_stops_s": float(seconds[Category.OTHER_STOP]),
            "small_stops_s": small,
            "reduced_speed_s": running - ideal_cycle_s * (good + early + late),
            "process_defects_s": ideal_cycle_s * late,
            "startup_yield_s": ideal_cycle_s * early,
            "unknown_s": float(seconds[Category.UNKNOWN]),
            "value_adding_s": ideal_cycle_s * good,
        }
        out.append(
            Figures(
                asset=machine.asset,
                period=period,
                planned_s=period.planned_ns / NS_PER_S,
                production_s=running + small,
                running_s=running,
                good=good,
                scrap=early + late,
                startup_scrap=early,
                ideal_cycle_s=ideal_cycle_s,
                losses=losses,
                failures=round(failures.within(period.planned)),
            )
        )
    return out

"""OEE on a hand-built day with a known answer: two shifts, a break, a setup with start-up scrap,
short and long stops, three failures (one across the shift change), a counter reset, a gap."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from werk.analytics.oee import (
    BLOCKED,
    DOWN,
    IDLE,
    RUNNING,
    SETUP,
    STARVED,
    Increments,
    ShiftCalendar,
    figures,
    history,
)
from werk.core import NS_PER_S, ValidationError, to_ns
from werk.sim.sensors import MachineState

DAY = dt.date(2027, 1, 15)
MIN = 60.0  # seconds


def at(clock: str, day: dt.date = DAY) -> int:
    return to_ns(dt.datetime.combine(day, dt.time.fromisoformat(clock), tzinfo=dt.UTC))


START, END = at("06:00"), at("22:00")

STATES = [  # (time, code); the first is before the window and sets the state at 06:00
    ("05:00", SETUP),
    ("06:20", RUNNING),  # setup ends: scrap in the next 15 min is start-up scrap
    ("08:00", IDLE),  # a 2 min small stop
    ("08:02", RUNNING),
    ("09:00", DOWN),  # failure 1
    ("09:30", RUNNING),  # runs through the 10:00-10:30 break (not planned: not counted)
    ("11:00", BLOCKED),  # blocked then starved: one 20 min stop, longer than 5 min
    ("11:10", STARVED),
    ("11:20", RUNNING),
    ("13:50", DOWN),  # failure 2, repaired in the next shift
    ("14:10", RUNNING),
    ("14:40", RUNNING),  # a repeated value is no change
    ("15:00", IDLE),  # a 3 min small stop
    ("15:03", RUNNING),
    ("16:00", float("nan")),  # 5 min without a known state
    ("16:05", RUNNING),
    ("21:00", DOWN),  # failure 3, down until the end of the window
]
PARTS = [  # good-parts counter; the 12:30 drop is a restart from 0 (20 made since)
    ("05:59", 1000),
    ("08:00", 1090),
    ("12:00", 1250),
    ("12:30", 20),
    ("13:59", 100),
    ("14:30", 140),
    ("21:59", 400),
    ("22:30", 460),  # after the window
]
SCRAP = [("05:59", 0), ("06:30", 5), ("12:00", 8), ("15:00", 10)]

CALENDAR = ShiftCalendar.parse("A=06:00-14:00,B=14:00-22:00", "UTC", breaks="10:00-10:30")


def _columns(rows: list[tuple[str, float]]) -> tuple[np.ndarray, np.ndarray]:
    return np.array([at(t) for t, _ in rows], np.int64), np.array([v for _, v in rows], float)


def _machine(small_stop_s: float = 300.0):  # type: ignore[no-untyped-def]
    return history(
        "press1",
        START,
        END,
        _columns(STATES),
        _columns(PARTS),
        _columns(SCRAP),
        small_stop_s=small_stop_s,
    )


def test_state_codes_match_the_virtual_plant() -> None:
    assert [RUNNING, IDLE, BLOCKED, STARVED, DOWN, SETUP] == [
        MachineState.RUNNING,
        MachineState.IDLE,
        MachineState.BLOCKED,
        MachineState.STARVED,
        MachineState.DOWN,
        MachineState.SETUP,
    ]


def test_per_shift_figures_by_hand() -> None:
    early, late = figures(
        _machine(), CALENDAR.periods(START, END, "shift"), ideal_cycle_s=60, startup_s=15 * MIN
    )
    # Shift A, 06:00-14:00 less the 30 min break: PBT 450 min.
    #   setup 06:00-06:20 = 20; down 09:00-09:30 + 13:50-14:00 = 40; other stop 11:00-11:20 = 20;
    #   small stop 08:00-08:02 = 2; running 100 + 58 + (90 - 30 break) + 150 = 368 -> APT 370.
    #   good 90 + 160 + 20 (after the reset) + 80 = 350; scrap 5 (start-up) + 3 = 8; total 358.
    #   A = 370/450, P = 358/370 (ideal 1 min), Q = 350/358, OEE = 350/450.
    assert early.period.label == "2027-01-15 A" and early.period.shift == "A"
    assert early.planned_s == 450 * MIN
    assert early.production_s == 370 * MIN and early.running_s == 368 * MIN
    assert (early.good, early.scrap, early.startup_scrap) == (350, 8, 5)
    assert early.availability == pytest.approx(370 / 450)
    assert early.performance == pytest.approx(358 / 370)
    assert early.quality == pytest.approx(350 / 358)
    assert early.oee == pytest.approx(350 / 450)
    assert early.oee == pytest.approx(early.availability * early.performance * early.quality)
    assert early.losses == {
        "breakdowns_s": 40 * MIN,
        "setup_s": 20 * MIN,
        "other_stops_s": 20 * MIN,
        "small_stops_s": 2 * MIN,
        "reduced_speed_s": (368 - 358) * MIN,
        "process_defects_s": 3 * MIN,
        "startup_yield_s": 5 * MIN,
        "unknown_s": 0.0,
        "value_adding_s": 350 * MIN,
    }
    assert sum(early.losses.values()) == pytest.approx(early.planned_s)  # the loss tree adds up
    assert early.failures == 2
    assert early.mtbf_s == 185 * MIN and early.mttr_s == 20 * MIN

    # Shift B, 14:00-22:00: PBT 480 min. down 14:00-14:10 + 21:00-22:00 = 70; small stop 3;
    #   unknown 5; running 50 + 57 + 295 = 402 -> APT 405. good 40 + 260 = 300 (the 22:30 sample
    #   is after the window), scrap 2; one failure starts in B (21:00).
    assert late.planned_s == 480 * MIN
    assert late.production_s == 405 * MIN
    assert (late.good, late.scrap, late.total) == (300, 2, 302)
    assert late.losses["breakdowns_s"] == 70 * MIN
    assert late.losses["unknown_s"] == 5 * MIN
    assert late.losses["reduced_speed_s"] == (402 - 302) * MIN
    assert late.availability == pytest.approx(405 / 480)
    assert late.performance == pytest.approx(302 / 405)
    assert late.oee == pytest.approx(300 / 480)
    assert late.failures == 1 and late.mttr_s == 70 * MIN
    assert sum(late.losses.values()) == pytest.approx(late.planned_s)


def test_a_day_adds_its_shifts_up() -> None:
    [day] = figures(_machine(), CALENDAR.periods(START, END, "day"), ideal_cycle_s=60)
    assert day.period.label == "2027-01-15"
    assert day.planned_s == 930 * MIN
    assert day.good == 650 and day.scrap == 10 and day.startup_scrap == 0  # startup_s not given
    assert day.losses["process_defects_s"] == 10 * MIN
    assert day.oee == pytest.approx(650 / 930)
    assert day.failures == 3
    assert day.mtbf_s == pytest.approx((370 + 405) * MIN / 3)
    assert day.mttr_s == pytest.approx(110 * MIN / 3)
    body = day.to_dict()
    assert body["day"] == "2027-01-15" and body["oee"] == pytest.approx(650 / 930)
    assert body["start"].startswith("2027-01-15T06:00:00")


def test_the_small_stop_rule_is_a_parameter() -> None:
    [day] = figures(
        _machine(small_stop_s=25 * MIN), CALENDAR.periods(START, END, "day"), ideal_cycle_s=60
    )
    assert day.losses["other_stops_s"] == 0
    assert day.losses["small_stops_s"] == (2 + 20 + 3) * MIN


def test_no_state_data_is_not_zero_oee() -> None:
    empty = np.empty(0, np.int64), np.empty(0)
    machine = history("press1", START, END, empty, empty)
    [total] = figures(machine, CALENDAR.periods(START, END, "total"), ideal_cycle_s=2.0)
    assert total.planned_s == 930 * MIN and total.losses["unknown_s"] == 930 * MIN
    assert not total.has_data
    assert total.availability is None and total.oee is None and total.mtbf_s is None


def test_counter_resets_count_what_was_made_since() -> None:
    ts = np.array([0, 10, 20, 30, 40]) * NS_PER_S
    made = Increments.from_counter(ts, [5, 8, 2, 4, float("nan")], start=10 * NS_PER_S)
    assert made.times.tolist() == [10 * NS_PER_S, 20 * NS_PER_S, 30 * NS_PER_S]
    assert made.counts.tolist() == [3, 2, 2]


def test_night_shifts_belong_to_the_day_they_start_and_follow_daylight_saving() -> None:
    calendar = ShiftCalendar.parse(timezone="Europe/Berlin", breaks="03:00-03:30")
    # Europe/Berlin springs forward on 2027-03-28 at 02:00: the night of the 27th is 7 hours.
    start = to_ns(dt.datetime(2027, 3, 27, 6, tzinfo=dt.UTC))
    periods = calendar.periods(start, start + 24 * 3600 * NS_PER_S, "shift")
    night = next(p for p in periods if p.label == "2027-03-27 night")
    assert night.day == "2027-03-27"
    assert night.end - night.start == 7 * 3600 * NS_PER_S
    assert night.planned_ns == (7 * 3600 - 1800) * NS_PER_S  # less the 03:00 break
    assert [p.shift for p in periods] == ["early", "late", "night", "early"]
    assert periods[0].start == start  # 07:00 local = 06:00 UTC: clipped to the window


@pytest.mark.parametrize(
    ("shifts", "zone", "rule"),
    [
        ("06:00-14:00,13:00-20:00", "UTC", "overlap"),
        ("22:00-06:00,05:00-08:00", "UTC", "overlap"),
        ("6-14", "UTC", "time-of-day"),
        ("06:00", "UTC", "time-range"),
        ("06:00-14:00", "Mars/Olympus", "time-zone"),
    ],
)
def test_bad_calendars_say_what_is_wrong(shifts: str, zone: str, rule: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ShiftCalendar.parse(shifts, zone)
    assert caught.value.rule == rule


def test_a_whole_day_shift_and_unnamed_shifts() -> None:
    calendar = ShiftCalendar.parse("00:00-00:00")
    [period] = calendar.periods(START, END, "shift")
    assert period.shift == "shift1" and period.planned_ns == END - START


def test_ideal_cycle_must_be_positive() -> None:
    with pytest.raises(ValidationError, match="ideal cycle"):
        figures(_machine(), CALENDAR.periods(START, END), ideal_cycle_s=0)


def test_a_plant_calendar_works_on_its_weekdays_only() -> None:
    """The plant file's calendar (werk.twin.calendar_spec) as OEE's: Monday-Friday shifts, a
    night shift running into the next day; Saturday and Sunday plan no time."""
    from werk.twin.calendar_spec import Calendar

    plant = Calendar(((6 * 60, 14 * 60), (22 * 60, 30 * 60)), ("mon", "tue", "wed", "thu", "fri"))
    calendar = ShiftCalendar.from_plant(plant)
    assert [(s.start, s.end) for s in calendar.shifts] == [
        (dt.time(6), dt.time(14)),
        (dt.time(22), dt.time(6)),
    ]
    monday = to_ns(dt.datetime(2027, 3, 1, tzinfo=dt.UTC))  # a Monday
    week = calendar.periods(monday, monday + 7 * 24 * 3600 * NS_PER_S, "day")
    assert [p.label for p in week] == [f"2027-03-0{d}" for d in range(1, 6)]
    # each working day: 8 h early + the 8 h night that starts on it (Friday's ends on Saturday)
    assert all(p.planned_ns == 16 * 3600 * NS_PER_S for p in week)
    with pytest.raises(ValidationError) as caught:
        ShiftCalendar(calendar.shifts, days=("monday",))
    assert caught.value.rule == "weekday"

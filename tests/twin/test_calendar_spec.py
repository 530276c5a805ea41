"""Calendars in the plant file: parsed with the rest, inherited down the hierarchy, laid out
day by day in their time zone (daylight saving time included), mistakes reported with lines."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from werk.twin.calendar_spec import Calendar, parse_shift, parse_weekday
from werk.twin.plant import Plant, load_plant, parse_plant
from werk.twin.plant_errors import PlantFileError

from .conftest import MINIMAL

NS = 1_000_000_000


def ns(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp()) * NS


def utc(value: int) -> datetime:
    return datetime.fromtimestamp(value / NS, tz=UTC)


HIERARCHY = (
    MINIMAL
    + """
[assets.line.calendar]
shifts = [["06:00", "14:00"], ["14:00", "22:00"]]
days = ["Mon", "tuesday", "wed", "thu", "fri"]
timezone = "Europe/Berlin"

[assets.cell]
level = "cell"
parent = "line"

[assets.press]
level = "machine"
parent = "cell"

[assets.oven]
level = "machine"
parent = "line"

[assets.oven.calendar]
shifts = [["22:00", "06:00"]]

[assets.lonely]
level = "machine"
parent = "area"
"""
)


def test_calendars_are_inherited_unless_an_asset_has_its_own() -> None:
    plant = parse_plant(HIERARCHY)
    line = plant.calendar_of("line")
    assert line == Calendar(
        ((360, 840), (840, 1320)), ("mon", "tue", "wed", "thu", "fri"), "Europe/Berlin"
    )
    assert plant.calendar_of("cell") is line and plant.calendar_of("press") is line
    assert plant.calendar_of("oven") == Calendar(((1320, 1800),))  # every day, UTC
    assert plant.calendar_of("lonely") is None and plant.calendar_of("site") is None
    assert plant.asset("press").calendar is None  # inherited, not copied
    with pytest.raises(KeyError):
        plant.calendar_of("nope")


def test_the_example_plant_gives_line1_two_shifts_on_weekdays(example_plant: Plant) -> None:
    calendar = example_plant.calendar_of("press1")
    assert calendar is not None and calendar == example_plant.calendar_of("line1")
    assert calendar.shifts == ((360, 840), (840, 1320))
    assert calendar.days == ("mon", "tue", "wed", "thu", "fri")
    assert calendar.timezone == "Europe/Berlin"
    assert example_plant.calendar_of("bremen") is None


def test_shifts_touching_are_one_open_window_and_weekends_are_closed() -> None:
    calendar = Calendar(((360, 840), (840, 1320)), ("mon", "tue", "wed", "thu", "fri"))
    friday, monday = ns(2027, 3, 5), ns(2027, 3, 8)
    opened = calendar.open_between(friday, monday + 86_400 * NS)
    assert [(utc(a).isoformat(), utc(b).isoformat()) for a, b in opened] == [
        ("2027-03-05T06:00:00+00:00", "2027-03-05T22:00:00+00:00"),
        ("2027-03-08T06:00:00+00:00", "2027-03-08T22:00:00+00:00"),
    ]
    closed = calendar.closed_between(friday + 12 * 3600 * NS, monday + 12 * 3600 * NS)
    assert [(utc(a).hour, utc(b).isoformat()) for a, b in closed] == [
        (22, "2027-03-08T06:00:00+00:00")
    ]


def test_a_night_shift_from_the_day_before_still_runs_at_the_start() -> None:
    night = Calendar(((1320, 1800),))  # 22:00 - 06:00
    start = ns(2027, 3, 3, 2)  # 02:00: inside last night's shift
    first = night.open_between(start, start + 86_400 * NS)[0]
    assert first == (start, ns(2027, 3, 3, 6))


def test_shifts_follow_daylight_saving_time_in_their_zone() -> None:
    # Berlin: summer time starts Sunday 2027-03-28 and ends Sunday 2027-10-31.
    berlin = Calendar(((360, 1320),), timezone="Europe/Berlin")
    spring = berlin.open_between(ns(2027, 3, 27), ns(2027, 3, 30))
    assert [(utc(a).hour, utc(b).hour) for a, b in spring] == [(5, 21), (4, 20), (4, 20)]
    autumn = berlin.open_between(ns(2027, 10, 30), ns(2027, 11, 1))
    assert [(utc(a).hour, utc(b).hour) for a, b in autumn] == [(4, 20), (5, 21)]
    # A shift over the night the clocks go forward is an hour shorter: 22:00 - 06:00 is 7 h.
    night = Calendar(((1320, 1800),), timezone="Europe/Berlin")
    (short,) = night.open_between(ns(2027, 3, 27, 12), ns(2027, 3, 28, 12))
    assert short[1] - short[0] == 7 * 3600 * NS


def test_the_pieces_read_like_the_plan_file() -> None:
    assert parse_shift(["06:00", "24:00"]) == (360, 1440)
    assert parse_shift(["00:00", "00:00"]) == (0, 1440)  # an end at the begin: round the clock
    assert parse_weekday("Saturday") == "sat"
    for bad in (["6", "7"], ["06:00"], ["25:00", "06:00"], ["06:61", "07:00"], "06:00-07:00"):
        with pytest.raises(ValueError):
            parse_shift(bad)


def test_calendar_mistakes_are_reported_with_line_and_field(
    write_plant: Callable[..., Path],
) -> None:
    path = write_plant(
        MINIMAL
        + """
[assets.line.calendar]
shifts = [["06:00", "14:70"], "all day"]
days = ["mon", "someday"]
timezone = "Mars/Olympus"
weeks = 2

[assets.m1]
level = "machine"
parent = "line"

[assets.m1.calendar]
days = ["mon"]
"""
    )
    with pytest.raises(PlantFileError) as caught:
        load_plant(path)
    found = {(p.line, p.field, p.rule) for p in caught.value.problems}
    lines = {text: n for n, text in enumerate(path.read_text().splitlines(), 1)}

    def line(prefix: str, after: int = 0) -> int:
        return next(n for t, n in lines.items() if t.startswith(prefix) and n > after)

    assert found == {
        (line("shifts ="), "assets.line.calendar.shifts.0", "shift"),
        (line("shifts ="), "assets.line.calendar.shifts.1", "shift"),
        (line("days ="), "assets.line.calendar.days", "weekday"),
        (line("timezone ="), "assets.line.calendar.timezone", "timezone"),
        (line("weeks ="), "assets.line.calendar.weeks", "unknown-key"),
        (line("[assets.m1.calendar]"), "assets.m1.calendar.shifts", "required"),
    }
    text = str(caught.value)
    assert "'14:70' is not a time of day" in text and "'Mars/Olympus'" in text
    assert "'someday' is not a weekday" in text


def test_a_calendar_in_yaml_reads_the_same() -> None:
    text = """
plant: {id: p, name: P}
assets:
  site: {level: site}
  area: {level: area, parent: site}
  line:
    level: line
    parent: area
    calendar:
      shifts: [["06:00", "22:00"]]
      days: [mon, tue]
      timezone: America/New_York
"""
    plant = parse_plant(text, name="plant.yaml", fmt="yaml")
    assert plant.calendar_of("line") == Calendar(((360, 1320),), ("mon", "tue"), "America/New_York")

from datetime import UTC, datetime, timedelta, timezone

import pytest

from werk.core import NS_PER_S, SimulatedClock, iso, parse_duration, parse_time, to_datetime, to_ns


def test_parse_duration():
    assert parse_duration("1h") == 3600 * NS_PER_S
    assert parse_duration("250ms") == 250_000_000
    assert parse_duration("90") == 90 * NS_PER_S
    for bad in ("", "h", "1y", "-5m", "abc"):
        with pytest.raises(ValueError, match="duration"):
            parse_duration(bad)


def test_parse_time_forms():
    now = 1_800_000_000 * NS_PER_S
    assert parse_time("now", now) == now
    assert parse_time("1h", now) == now - 3600 * NS_PER_S
    assert parse_time("123", now) == 123
    assert parse_time("2026-11-24T10:00:00Z", now) == to_ns(datetime(2026, 11, 24, 10, tzinfo=UTC))
    assert parse_time("2026-11-24T11:00:00+01:00", now) == parse_time("2026-11-24T10:00:00Z", now)
    assert parse_time("20261124T100000Z", now) == parse_time("2026-11-24T10:00:00Z", now)
    with pytest.raises(ValueError, match="zone"):
        parse_time("2026-11-24T10:00:00", now)
    with pytest.raises(ValueError):
        parse_time("yesterday", now)


def test_round_trips():
    moment = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=2)))
    assert to_datetime(to_ns(moment)) == moment
    assert iso(to_ns(moment)) == "2026-01-02T01:04:05.678901000Z"


def test_simulated_clock_only_moves_forward():
    clock = SimulatedClock(start_ns=10)
    clock.advance(1.5)
    assert clock.now_ns() == 10 + 1_500_000_000
    with pytest.raises(ValueError):
        clock.advance(-1)

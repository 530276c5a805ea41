"""The ISA-18.2 lifecycle model, driven by a simulated clock: every state, every action."""

from __future__ import annotations

import json
from typing import Any

import pytest

from werk.analytics.alarms import (
    AlarmBook,
    AlarmConflict,
    AlarmState,
    Delays,
    Priority,
    UnknownAlarm,
    alarm_id,
)
from werk.analytics.alarms.kpis import (
    alarm_kpis,
    chattering,
    precision,
    rate_verdict,
    rates,
)
from werk.core import NS_PER_S, Context, Event, SimulatedClock, ValidationError

T0 = 1_800_000_000 * NS_PER_S
SOURCE = "press1.temperature"
ID = alarm_id(SOURCE, "high")


def condition(
    clock: SimulatedClock, change: str, *, family: str = "limit", name: str = "high", **data: Any
) -> Event:
    payload = {"condition": name, "message": f"{name} on {SOURCE}", "value": 181.5, **data}
    return Event(f"{family}.{change}", SOURCE, payload, timestamp=clock.now_ns())


def book_with(on: float = 0.0, off: float = 0.0) -> tuple[AlarmBook, SimulatedClock]:
    clock = SimulatedClock(T0)
    return AlarmBook(clock, Delays(on, off)), clock


def kinds(events: list[Event]) -> list[str]:
    return [e.kind for e in events]


def test_raise_ack_clear_is_the_plain_lifecycle_with_full_snapshots():
    book, clock = book_with()
    cause = condition(clock, "raised", priority="urgent")
    (raised,) = book.condition(cause)
    assert raised.kind == "alarm.raised" and raised.source == SOURCE
    assert raised.context.parent_id == cause.id and raised.context.user is None
    assert raised.data["alarm_id"] == ID and raised.data["state"] == "unack"
    assert raised.data["priority"] == "urgent" and raised.data["value"] == 181.5
    assert raised.data["annunciated"] is True and raised.timestamp == T0
    json.dumps(raised.data, allow_nan=False)  # storable as it is

    clock.advance(30)
    acked = book.acknowledge(ID, "olga", "real", "valve stuck")
    assert acked.kind == "alarm.acknowledged" and acked.context.user == "olga"
    assert acked.context.parent_id == cause.id
    assert (
        acked.data.items()
        >= {"state": "acked", "verdict": "real", "comment": "valve stuck"}.items()
    )
    assert acked.data["acked_at"] == T0 + 30 * NS_PER_S and acked.data["raised_at"] == T0

    clock.advance(10)
    clear = condition(clock, "cleared")
    (cleared,) = book.condition(clear)
    assert cleared.kind == "alarm.cleared" and cleared.data["state"] == "normal"
    assert cleared.context.parent_id == clear.id
    assert [a.state for a in book] == [AlarmState.NORMAL]


def test_clear_before_ack_returns_unacknowledged_and_ack_then_normalises():
    book, clock = book_with()
    book.condition(condition(clock, "raised"))
    (cleared,) = book.condition(condition(clock, "cleared"))
    assert cleared.data["state"] == "rtnunack"
    ack = book.acknowledge(ID, "olga", "false")
    assert ack.data["state"] == "normal" and ack.data["verdict"] == "false"


def test_re_raise_after_clear_is_a_new_activation_that_forgets_the_old_ack():
    book, clock = book_with()
    book.condition(condition(clock, "raised"))
    book.acknowledge(ID, "olga", "real", "first")
    book.condition(condition(clock, "cleared"))
    clock.advance(60)
    (again,) = book.condition(condition(clock, "raised"))
    assert again.data["state"] == "unack" and again.data["activations"] == 2
    assert again.data["verdict"] is None and again.data["acked_by"] is None
    assert again.data["raised_at"] == clock.now_ns()


def test_re_raise_from_rtnunack_goes_back_to_unack():
    book, clock = book_with()
    book.condition(condition(clock, "raised"))
    book.condition(condition(clock, "cleared"))
    (again,) = book.condition(condition(clock, "raised"))
    assert again.kind == "alarm.raised" and again.data["state"] == "unack"


def test_acknowledging_in_each_state():
    book, clock = book_with()
    with pytest.raises(UnknownAlarm):
        book.acknowledge(ID, "olga")
    book.condition(condition(clock, "raised"))
    book.acknowledge(ID, "olga")  # UNACK: fine, verdict optional
    with pytest.raises(AlarmConflict, match="already acknowledged"):  # ACKED
        book.acknowledge(ID, "ivan")
    book.condition(condition(clock, "cleared"))
    with pytest.raises(AlarmConflict, match="nothing to acknowledge"):  # NORMAL
        book.acknowledge(ID, "ivan")
    book.condition(condition(clock, "raised"))
    book.shelve(ID, "olga", clock.now_ns() + 60 * NS_PER_S)
    with pytest.raises(AlarmConflict, match="shelved"):  # SHELVED
        book.acknowledge(ID, "ivan")
    book.unshelve(ID, "olga")
    with pytest.raises(ValidationError) as bad:
        book.acknowledge(ID, "ivan", "maybe")
    assert bad.value.field == "verdict"
    assert book.acknowledge(ID, "ivan", "FALSE").data["verdict"] == "false"


def test_duplicate_condition_events_change_nothing():
    book, clock = book_with()
    assert book.condition(condition(clock, "cleared")) == []  # never raised: nothing to show
    assert len(book.condition(condition(clock, "raised"))) == 1
    assert book.condition(condition(clock, "raised")) == []
    assert len(book.condition(condition(clock, "cleared"))) == 1
    assert book.condition(condition(clock, "cleared")) == []
    assert book.condition(Event("limit.noted", SOURCE, {"condition": "high"})) == []


def test_on_delay_filters_a_short_condition_and_raises_a_lasting_one():
    book, clock = book_with(on=5)
    assert book.condition(condition(clock, "raised")) == []
    clock.advance(4)
    assert book.due() == [] and book.condition(condition(clock, "cleared")) == []
    assert book.filtered == 1 and book.get(ID).state is AlarmState.NORMAL

    clock.advance(10)
    start = clock.now_ns()
    cause = condition(clock, "raised")
    assert book.condition(cause) == []
    assert book.next_deadline() == start + 5 * NS_PER_S
    clock.advance(4.999)
    assert book.due() == []
    clock.advance(0.5)  # the timer is late: the alarm still activates at its deadline
    (raised,) = book.due()
    assert raised.timestamp == start + 5 * NS_PER_S and raised.context.parent_id == cause.id
    assert book.next_deadline() is None


def test_off_delay_keeps_a_chattering_alarm_active_until_it_stays_clear():
    book, clock = book_with(off=10)
    assert len(book.condition(condition(clock, "raised"))) == 1
    for _ in range(5):  # in and out every 3 s: one alarm, not five
        clock.advance(3)
        assert book.condition(condition(clock, "cleared")) == []
        clock.advance(3)
        assert book.condition(condition(clock, "raised")) == []
    assert book.get(ID).state is AlarmState.UNACK
    clock.advance(3)
    clear = condition(clock, "cleared")
    book.condition(clear)
    clear_at = clock.now_ns()
    clock.advance(9)
    assert book.due() == []
    clock.advance(1)
    (cleared,) = book.due()
    assert cleared.timestamp == clear_at + 10 * NS_PER_S
    assert cleared.context.parent_id == clear.id and cleared.data["state"] == "rtnunack"


def test_deadlines_fire_before_a_new_cause_is_applied():
    book, clock = book_with(on=5)
    book.condition(condition(clock, "raised"))
    clock.advance(6)
    out = book.condition(condition(clock, "cleared"))  # the raise was due first
    assert kinds(out) == ["alarm.raised", "alarm.cleared"]


def test_shelving_hides_the_alarm_but_tracks_the_condition_underneath():
    book, clock = book_with()
    book.condition(condition(clock, "raised"))
    until = clock.now_ns() + 120 * NS_PER_S
    shelved = book.shelve(ID, "olga", until, "sensor being replaced")
    assert shelved.kind == "alarm.shelved" and shelved.data["state"] == "shelved"
    assert shelved.data["underlying_state"] == "unack"
    assert shelved.data["shelved_until"] == until and shelved.data["shelved_by"] == "olga"

    clock.advance(10)
    (cleared,) = book.condition(condition(clock, "cleared"))
    assert cleared.data["state"] == "shelved" and cleared.data["underlying_state"] == "rtnunack"
    (raised,) = book.condition(condition(clock, "raised"))
    assert raised.data["annunciated"] is False  # not shown: not counted in alarm rates

    unshelved = book.unshelve(ID, "ivan")
    assert unshelved.data["state"] == "unack" and unshelved.context.user == "ivan"
    assert unshelved.data["expired"] is False and unshelved.data["shelved_until"] is None
    with pytest.raises(AlarmConflict, match="not shelved"):
        book.unshelve(ID, "ivan")


def test_a_shelf_expires_by_itself_and_shows_the_true_state():
    book, clock = book_with()
    book.condition(condition(clock, "raised"))
    book.acknowledge(ID, "olga")
    until = clock.now_ns() + 60 * NS_PER_S
    book.shelve(ID, "olga", until)
    book.condition(condition(clock, "cleared"))  # normal underneath
    assert book.next_deadline() == until
    clock.advance(61)
    (expired,) = book.due()
    assert expired.kind == "alarm.unshelved" and expired.timestamp == until
    assert expired.context.user is None and expired.data["expired"] is True
    assert expired.data["state"] == "normal"


def test_reshelving_sets_a_new_expiry_and_a_shelf_must_end_in_the_future():
    book, clock = book_with()
    book.condition(condition(clock, "raised"))
    book.shelve(ID, "olga", clock.now_ns() + 60 * NS_PER_S)
    later = clock.now_ns() + 600 * NS_PER_S
    assert book.shelve(ID, "olga", later).data["shelved_until"] == later
    with pytest.raises(ValidationError):
        book.shelve(ID, "olga", clock.now_ns())


def test_priority_from_the_event_or_the_family_default():
    book, clock = book_with()
    (a,) = book.condition(condition(clock, "raised", family="quality", name="flatline"))
    (b,) = book.condition(condition(clock, "raised", family="spc", name="nelson-1", priority="odd"))
    (c,) = book.condition(condition(clock, "raised", name="low", priority="low"))
    assert (a.data["priority"], b.data["priority"], c.data["priority"]) == (
        "low",
        "medium",
        "low",
    )
    assert Priority.parse("URGENT", Priority.low) is Priority.urgent


def test_non_finite_values_travel_as_null():
    book, clock = book_with()
    (raised,) = book.condition(condition(clock, "raised", value=float("nan"), score=float("inf")))
    assert raised.data["value"] is None and raised.data["score"] is None
    json.dumps(raised.data, allow_nan=False)


def test_restore_takes_the_newest_snapshot_even_when_timestamps_tie():
    book, clock = book_with(off=10)
    events = book.condition(condition(clock, "raised"))
    events.append(book.acknowledge(ID, "olga", "real"))  # same instant as the raise
    events.append(book.shelve(ID, "olga", clock.now_ns() + 60 * NS_PER_S))
    fresh = AlarmBook(clock, Delays(off_s=10))
    for event in reversed(events):
        fresh.restore(event)
    restored = fresh.get(ID)
    assert restored.state is AlarmState.SHELVED and restored.underlying_state is AlarmState.ACKED
    assert restored.acked_by == "olga" and restored.verdict == "real"
    assert fresh.next_deadline() == restored.shelved_until
    assert not fresh.restore(Event("alarm.raised", SOURCE, {"no": "id"}))


def test_delays_are_validated():
    with pytest.raises(ValidationError):
        Delays(on_s=-1)


# -- KPIs -----------------------------------------------------------------------------------------


def _raised(at_s: float, key: str = ID, annunciated: bool = True) -> Event:
    data = {"alarm_id": key, "condition": key.split("@")[1], "annunciated": annunciated}
    return Event("alarm.raised", key.split("@")[0], data, timestamp=T0 + round(at_s * NS_PER_S))


def _ack(at_s: float, raised_s: float, verdict: str | None, key: str = ID) -> Event:
    data = {
        "alarm_id": key,
        "condition": key.split("@")[1],
        "verdict": verdict,
        "raised_at": T0 + round(raised_s * NS_PER_S),
    }
    return Event(
        "alarm.acknowledged",
        key.split("@")[0],
        data,
        Context(user="olga"),
        timestamp=T0 + round(at_s * NS_PER_S),
    )


def test_precision_overall_and_per_condition():
    other = alarm_id("press1.pressure", "robust-z")
    acks = [
        _ack(10, 0, "real"),
        _ack(20, 0, "real"),
        _ack(30, 0, "false"),
        _ack(40, 0, None),
        _ack(50, 0, "false", other),
    ]
    figures = precision(acks)
    assert figures["precision"] == pytest.approx(2 / 4)
    assert (figures["real"], figures["false"], figures["unjudged"]) == (2, 2, 1)
    assert figures["by_condition"]["high"]["precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert figures["by_condition"]["robust-z"]["precision"] == 0.0
    assert figures["by_source"]["press1.pressure"]["false"] == 1
    assert precision([])["precision"] is None


def test_rates_against_the_isa_benchmark_and_flood_share():
    hour = 3_600 * NS_PER_S
    calm = [_raised(i * 600) for i in range(6)]  # 6 in an hour
    figures = rates(calm, T0, T0 + hour)
    assert figures["per_operator_hour"] == 6.0 and figures["benchmark"] == "very likely acceptable"
    assert figures["flood_periods"] == 0 and figures["ten_minute_periods"] == 6
    flood = calm + [_raised(1200 + i) for i in range(11)]  # 12 in the third ten minutes
    figures = rates(flood, T0, T0 + hour)
    assert figures["flood_periods"] == 1 and figures["flood_share"] == pytest.approx(
        1 / 6, abs=1e-4
    )
    assert figures["benchmark"] == "likely over-demanding"
    assert rates(flood, T0, T0 + hour, operators=2)["flood_periods"] == 0  # 6 each: no flood
    assert rate_verdict(12.0) == "manageable"


def test_chattering_needs_three_activations_within_a_minute():
    noisy = alarm_id("line.speed", "flatline")
    raised = [_raised(t) for t in (0, 100, 200)] + [_raised(t, noisy) for t in (0, 20, 59, 400)]
    (found,) = chattering(raised)
    assert found == {"alarm_id": noisy, "activations": 4, "most_in_window": 3}


def test_kpis_count_only_annunciated_alarms_and_name_bad_actors_and_stale_ones():
    day = 86_400
    events = [_raised(0), _raised(10, annunciated=False), _raised(20, alarm_id("a", "b"))]
    events.append(_ack(40, 0, "real"))
    stale = Event(
        "alarm.raised",
        "old",
        {"alarm_id": "old@x", "active": True, "raised_at": T0, "seq": 1, "state": "unack"},
        timestamp=T0 + 5,
    )
    figures = alarm_kpis([*events, stale], T0, T0 + 2 * day * NS_PER_S)
    assert figures["rates"]["alarms"] == 3
    assert figures["bad_actors"]["alarms"][0] == {"alarm_id": ID, "count": 1, "share": 0.3333}
    assert figures["time_to_acknowledge"] == {"count": 1, "mean_s": 40.0, "median_s": 40.0}
    assert [s["alarm_id"] for s in figures["stale"]] == ["old@x"]
    assert figures["precision"]["precision"] == 1.0

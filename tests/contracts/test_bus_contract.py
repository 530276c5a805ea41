"""The rules of ``werk.core.bus``, checked against every bus: ``memory://`` and ``nats://``.

Where the two differ by design, each is tested on its own, and the test says why:

- ``nack``: the in-process bus has nowhere to keep a message, so it hands the error to a
  confirming publisher; JetStream keeps it and delivers it again (then to the dead letters).
- ``confirm=True`` with no durable subscriber: the in-process bus refuses (nobody would store
  it); JetStream confirms, because the stream has stored it for whoever subscribes later.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator

import numpy as np
import pytest

from tests.bus import WAIT_S, nats_test_url, nothing_more, receive
from werk.core import (
    Bus,
    BusClosed,
    BusError,
    Context,
    Event,
    SampleBatch,
    buses,
)

BACKENDS = ["memory", "nats"]


async def open_bus(backend: str) -> AsyncIterator[Bus]:
    if backend == "memory":
        opened = buses.open("memory://")
        yield opened
        await opened.close()
        return
    async for url in nats_test_url(nak_delay="100ms", ack_wait="2s"):
        opened = buses.open(url)
        yield opened
        await opened.close()


@pytest.fixture(params=BACKENDS)
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    async for opened in open_bus(request.param):
        yield opened


@pytest.fixture
async def memory_bus() -> AsyncIterator[Bus]:
    async for opened in open_bus("memory"):
        yield opened


@pytest.fixture
async def nats_bus() -> AsyncIterator[Bus]:
    async for opened in open_bus("nats"):
        yield opened


def backend_of(bus: Bus) -> str:
    return "memory" if type(bus).__name__ == "MemoryBus" else "nats"


def batch_with_everything() -> SampleBatch:
    """Several signals, unsorted, NaN and infinities, every quality, extreme timestamps."""
    names = ["press1.temperature", "press1.force", "Ünicode/älter", "press1.temperature"]
    return SampleBatch.from_columns(
        names * 3,
        np.array([2**62, -(2**40), 0, 1_764_000_000_123_456_789] * 3, np.int64),
        np.array([1.5, math.nan, -0.0, math.inf, -math.inf, 1e-308, 3.0, 4.0, 5.0, 6.0, 7, 8.0]),
        np.array([0, 1, 2, 3] * 3, np.uint8),
    )


def assert_same_batch(got: SampleBatch, sent: SampleBatch) -> None:
    assert got.names == sent.names
    np.testing.assert_array_equal(got.index, sent.index)
    np.testing.assert_array_equal(got.timestamps, sent.timestamps)
    np.testing.assert_array_equal(got.values, sent.values)  # NaN equals NaN here
    assert np.signbit(got.values).tolist() == np.signbit(sent.values).tolist()  # -0.0 kept
    np.testing.assert_array_equal(got.quality, sent.quality)
    assert got.index.dtype == np.int32 and got.timestamps.dtype == np.int64
    assert got.values.dtype == np.float64 and got.quality.dtype == np.uint8


# -- both buses ------------------------------------------------------------------------------------


async def test_patterns_select_topics_in_order(bus: Bus) -> None:
    topics = [
        "samples.press1",
        "samples.press1.line",
        "events.alarm.raised",
        "events.alarm.cleared",
        "events.state",
        "samples.press2",
    ]
    patterns = {
        "samples.*": ["samples.press1", "samples.press2"],
        "samples.>": ["samples.press1", "samples.press1.line", "samples.press2"],
        "events.alarm.*": ["events.alarm.raised", "events.alarm.cleared"],
        "events.*.raised": ["events.alarm.raised"],
        ">": topics,
        "events.state": ["events.state"],
    }
    subscriptions = {p: bus.subscribe(p, name=f"p{i}") for i, p in enumerate(patterns)}
    for entered in subscriptions.values():
        await entered.__aenter__()
    try:
        for n, topic in enumerate(topics):
            await bus.publish(topic, {"n": n})
        for pattern, expected in patterns.items():
            iterator = aiter(subscriptions[pattern])
            got = await receive(iterator, len(expected))
            assert [m.topic for m in got] == expected, pattern
            assert [m.payload["n"] for m in got] == [topics.index(t) for t in expected]
            await nothing_more(iterator, 0.1)
    finally:
        for entered in subscriptions.values():
            await entered.__aexit__(None, None, None)


async def test_delivers_what_is_published_after_subscribe(bus: Bus) -> None:
    """Subscribing is immediate: a message published before ``async with`` is not missed.

    Where the earlier boundary lies differs: in process, nothing published before
    ``subscribe()``; on JetStream, nothing the server stored before it (by the server's clock),
    so an unconfirmed publish just before it may still come through.
    """
    await bus.publish("samples.before", {"n": 0})
    subscription = bus.subscribe("samples.>", name="late")
    await bus.publish("samples.after", {"n": 1})
    async with subscription:
        iterator = aiter(subscription)
        got = await receive(iterator, 1)
        if backend_of(bus) == "nats" and got[0].topic == "samples.before":
            got = await receive(iterator, 1)
        assert got[0].topic == "samples.after"
        await nothing_more(iterator)


async def test_batch_round_trips_exactly_with_its_context(bus: Bus) -> None:
    sent = batch_with_everything()
    context = Context(parent_id="cause-1", user="alice")
    async with bus.subscribe("samples.>", name="reader") as subscription:
        await bus.publish("samples.press1", sent, context)
        await bus.publish("samples.press1", SampleBatch.empty())
        first, empty = await receive(aiter(subscription), 2)
    assert isinstance(first.payload, SampleBatch)
    assert_same_batch(first.payload, sent)
    assert first.context == context
    assert len(empty.payload) == 0 and empty.payload.names == ()


async def test_event_round_trips_exactly(bus: Bus) -> None:
    event = Event(
        "alarm.raised",
        source="press1",
        data={
            "signal": "press1.temperature",
            "value": 81.25,
            "limits": [None, 80],
            "nested": {"ok": True, "ünïcode": "°C"},
            "count": 3,
        },
        context=Context(parent_id="samples-7", user="bob"),
        timestamp=1_764_000_000_123_456_789,
    )
    async with bus.subscribe("events.>", name="reader") as subscription:
        await bus.publish(f"events.{event.kind}", event, event.context)
        (got,) = await receive(aiter(subscription), 1)
    assert got.topic == "events.alarm.raised"
    assert got.payload == event
    assert got.payload.id == event.id and got.payload.context.parent_id == "samples-7"
    assert got.context == event.context


async def test_confirm_returns_once_the_durable_subscriber_acked(bus: Bus) -> None:
    """memory://: after the recorder's ack; nats://: once stored, and the ack then settles it."""
    async with bus.subscribe("samples.>", name="recorder", durable=True) as subscription:
        iterator = aiter(subscription)
        publish = asyncio.create_task(
            bus.publish("samples.press1", SampleBatch.of("a", [1], [1.0]), confirm=True)
        )
        (message,) = await receive(iterator, 1)
        message.ack()
        message.ack()  # a second ack is harmless
        await asyncio.wait_for(publish, WAIT_S)
        await nothing_more(iterator, 0.5)  # acked: not delivered again


async def test_close_ends_subscriptions_and_refuses_more(bus: Bus) -> None:
    subscription = bus.subscribe("events.>", name="reader")
    async with subscription:
        iterator = aiter(subscription)
        await bus.publish("events.state", {"n": 1})
        await receive(iterator, 1)
        reader = asyncio.create_task(anext(iterator, None))
        await asyncio.sleep(0.05)
        await bus.close()
        assert await asyncio.wait_for(reader, WAIT_S) is None  # the iterator ended
    with pytest.raises(BusClosed):
        await bus.publish("events.state", {"n": 2})
    with pytest.raises(BusClosed):
        bus.subscribe("events.>", name="again")
    await bus.close()  # twice is fine


# -- where the two differ by design ----------------------------------------------------------------


async def test_memory_nack_fails_the_confirming_publisher(memory_bus: Bus) -> None:
    """In process there is nowhere to keep a message: the publisher gets the error instead."""
    bus = memory_bus
    async with bus.subscribe("samples.>", name="recorder", durable=True) as subscription:
        publish = asyncio.create_task(
            bus.publish("samples.press1", SampleBatch.of("a", [1], [1.0]), confirm=True)
        )
        (message,) = await receive(aiter(subscription), 1)
        message.nack(RuntimeError("disk full"))
        with pytest.raises(RuntimeError, match="disk full"):
            await asyncio.wait_for(publish, WAIT_S)


async def test_nats_nack_redelivers_the_same_message(nats_bus: Bus) -> None:
    """JetStream has stored it: a nack asks for it again (after ``nak_delay``), same payload."""
    bus = nats_bus
    sent = batch_with_everything()
    async with bus.subscribe("samples.>", name="recorder", durable=True) as subscription:
        iterator = aiter(subscription)
        await bus.publish("samples.press1", sent, confirm=True)  # stored: returns before any ack
        (first,) = await receive(iterator, 1)
        first.nack(RuntimeError("disk full"))
        (again,) = await receive(iterator, 1)
        assert again.context == first.context
        assert_same_batch(again.payload, sent)
        again.ack()
        await nothing_more(iterator, 0.5)


async def test_memory_confirm_needs_a_durable_subscriber(memory_bus: Bus) -> None:
    """In process, a confirmation means a durable subscriber acked it: none, nobody stores it."""
    with pytest.raises(BusError, match="no durable subscriber"):
        await memory_bus.publish("samples.press1", SampleBatch.of("a", [1], [1.0]), confirm=True)


async def test_nats_confirm_means_stored_in_the_stream(nats_bus: Bus) -> None:
    """On JetStream a confirmation is the PubAck: stored, for any durable group to read later."""
    bus = nats_bus
    batch = SampleBatch.of("a", [1], [1.0])
    await bus.publish("samples.press1", batch, confirm=True)
    import nats

    nc = await nats.connect(bus.url)  # type: ignore[attr-defined]
    try:
        info = await nc.jetstream().stream_info(bus.stream)  # type: ignore[attr-defined]
    finally:
        await nc.close()
    assert info.state.messages == 1

import asyncio
import logging

import pytest

from werk.core import BusClosed, BusError, MemoryBus, topic_matches


@pytest.mark.parametrize(
    ("pattern", "topic", "matches"),
    [
        ("samples.>", "samples.press1", True),
        ("samples.>", "samples", False),
        ("samples.*", "samples.a.b", False),
        ("samples.*.b", "samples.a.b", True),
        ("events.alarm", "events.alarm", True),
        ("events.alarm", "events.alarms", False),
    ],
)
def test_topic_matching(pattern, topic, matches):
    assert topic_matches(pattern, topic) is matches


async def test_subscribers_get_matching_messages_in_order():
    bus = MemoryBus()
    sub = bus.subscribe("samples.>", name="t")
    for i in range(5):
        await bus.publish("samples.x", i)
    await bus.publish("events.y", "ignored")
    await bus.close()
    got = [m.payload async for m in sub]
    assert got == [0, 1, 2, 3, 4]


async def test_slow_subscriber_slows_publisher_and_is_reported(caplog):
    bus = MemoryBus(queue_size=2, slow_after_s=0.05)
    sub = bus.subscribe("t", name="slow")
    caplog.set_level(logging.WARNING)

    async def publish_all():
        for i in range(6):
            await bus.publish("t", i)

    publisher = asyncio.create_task(publish_all())
    await asyncio.sleep(0.2)
    assert not publisher.done(), "publisher must wait for the slow subscriber, not drop"
    assert "slow" in caplog.text
    received = []
    async for message in sub:
        received.append(message.payload)
        if len(received) == 6:
            break
    await publisher
    assert received == list(range(6))
    assert bus.stats()[0]["stalls"] >= 1


async def test_confirm_waits_for_durable_ack():
    bus = MemoryBus()
    durable = bus.subscribe("s", name="recorder", durable=True)
    bus.subscribe("s", name="viewer")  # non-durable: never acks, must not block confirm
    confirmed = asyncio.create_task(bus.publish("s", "x", confirm=True))
    await asyncio.sleep(0.05)
    assert not confirmed.done()
    message = await anext(aiter(durable))
    message.ack()
    await asyncio.wait_for(confirmed, 1)


async def test_confirm_surfaces_nack_and_needs_a_durable_subscriber():
    bus = MemoryBus()
    with pytest.raises(BusError, match="no durable subscriber"):
        await bus.publish("s", "x", confirm=True)
    durable = bus.subscribe("s", name="recorder", durable=True)
    confirmed = asyncio.create_task(bus.publish("s", "x", confirm=True))
    message = await anext(aiter(durable))
    message.nack(RuntimeError("disk full"))
    with pytest.raises(RuntimeError, match="disk full"):
        await confirmed


async def test_closed_bus_refuses_publish():
    bus = MemoryBus()
    await bus.close()
    with pytest.raises(BusClosed):
        await bus.publish("a", 1)


def test_bus_by_url():
    from werk.core import ConfigError, buses

    bus = buses.open("memory://?queue_size=7")
    assert isinstance(bus, MemoryBus) and bus.queue_size == 7
    with pytest.raises(BusError, match="queue_size"):
        buses.open("memory://?queue_size=lots")
    with pytest.raises(ConfigError, match="unknown bus scheme"):
        buses.open("kafka://localhost")

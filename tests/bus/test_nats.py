"""The NATS JetStream bus: its codec (no server) and what only JetStream does (real server).

The behaviours it shares with the in-process bus are in tests/contracts/test_bus_contract.py.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator

import numpy as np
import pytest

from tests.bus import WAIT_S, nats_test_url, nothing_more, receive
from werk.bus import codec
from werk.bus.nats import CONSUMER, DELIVERIES, ERROR, ORIGINAL_SUBJECT, NatsBus, safe_url
from werk.core import BusError, Context, Event, Message, SampleBatch


def numbered_batch(n: int, rows: int = 10) -> SampleBatch:
    return SampleBatch.of("s", np.arange(rows) + n * rows, np.full(rows, float(n)))


# -- codec and URL (no server) ---------------------------------------------------------------------


def test_batch_codec_is_columnar_arrow_and_exact() -> None:
    batch = SampleBatch.from_columns(
        ["b", "a", "b"], [3, 1, 2], [math.nan, -0.0, 1e300], np.array([3, 0, 1], np.uint8)
    )
    kind, data = codec.encode(batch)
    assert kind == codec.BATCH
    assert data.startswith(b"\xff\xff\xff\xff")  # an Arrow IPC stream
    got = codec.decode(kind, data)
    assert got.names == batch.names
    for column in ("index", "timestamps", "values", "quality"):
        np.testing.assert_array_equal(getattr(got, column), getattr(batch, column))
    assert got.values.flags.writeable  # a copy, not a view of the message


def test_event_codec_takes_numpy_values_and_keeps_the_context() -> None:
    event = Event("alarm.raised", "press1", {"value": np.float64(2.5), "n": np.int64(3)})
    got = codec.decode(*codec.encode(event))
    assert got.data == {"value": 2.5, "n": 3} and got.context == event.context


def test_codec_refuses_what_it_cannot_carry() -> None:
    with pytest.raises(BusError, match="cannot send a object"):
        codec.encode(object())
    with pytest.raises(BusError, match="not an Arrow IPC sample batch"):
        codec.decode(codec.BATCH, b"garbage")
    with pytest.raises(BusError, match="unknown payload type"):
        codec.decode("pickle", b"")


def test_context_travels_in_headers() -> None:
    context = Context(parent_id="p", user="alice")
    assert codec.context_from(codec.context_headers(context)) == context
    assert codec.context_from(codec.context_headers(Context())).parent_id is None


def test_url_parameters_and_errors_without_credentials() -> None:
    bus = NatsBus.from_url(
        "nats://user:s3cret@nats.example:4222?stream=plant&prefix=acme.werk"
        "&max_deliver=3&ack_wait=10s&max_age=7d&max_bytes=512MiB&storage=memory"
    )
    assert (bus.stream, bus.prefix, bus.max_deliver) == ("plant", "acme.werk", 3)
    assert (bus.ack_wait_s, bus.max_age_s, bus.max_bytes) == (10.0, 7 * 86400.0, 512 * 2**20)
    assert bus.url == "nats://nats.example:4222"
    assert bus.subject("samples.press1") == "acme.werk.samples.press1"
    assert safe_url("nats://tok3n@h:1?x=1") == "nats://h:1"
    with pytest.raises(BusError, match="unknown parameter 'strem'") as error:
        NatsBus.from_url("nats://user:s3cret@h:4222?strem=x")
    assert "s3cret" not in str(error.value)
    with pytest.raises(BusError, match="bad max_age"):
        NatsBus.from_url("nats://h?max_age=forever")
    with pytest.raises(BusError, match="bad topic"):
        bus.subject("samples.*")
    with pytest.raises(BusError, match="'>' only as the last token"):
        bus.filter_subject("samples.>.x")


async def test_unreachable_server_is_a_bus_error_without_the_password() -> None:
    bus = NatsBus.from_url("nats://werk:s3cret@127.0.0.1:1?timeout=1s")
    with pytest.raises(BusError, match=r"cannot reach NATS at nats://127\.0\.0\.1:1") as error:
        await bus.publish("samples.x", SampleBatch.of("a", [1], [1.0]))
    assert "s3cret" not in str(error.value)


# -- on the real server ----------------------------------------------------------------------------


@pytest.fixture
async def url() -> AsyncIterator[str]:
    async for made in nats_test_url(max_deliver="3", nak_delay="50ms", ack_wait="1s"):
        yield made


async def test_a_durable_name_is_a_consumer_group(url: str) -> None:
    """Two processes (two connections) with one name share the messages: each goes to one."""
    small_pulls = f"{url}&fetch=2"  # shares go by pull: 2 messages each
    async with NatsBus.from_url(small_pulls) as one, NatsBus.from_url(small_pulls) as two:
        sub_one = one.subscribe("samples.>", name="recorder.samples", durable=True)
        sub_two = two.subscribe("samples.>", name="recorder.samples", durable=True)
        async with sub_one, sub_two:
            for n in range(40):
                await one.publish(f"samples.press{n % 4}", numbered_batch(n), confirm=True)
            seen: list[int] = []

            async def drain(subscription: AsyncIterator[Message]) -> None:
                async for message in subscription:
                    seen.append(int(message.payload.values[0]))
                    message.ack()
                    await asyncio.sleep(0.005)  # a worker's commit: lets its peer take a share
                    if len(seen) == 40:
                        return

            tasks = [asyncio.create_task(drain(s)) for s in (sub_one, sub_two)]
            await asyncio.wait(tasks, timeout=WAIT_S, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                task.cancel()
        assert sorted(seen) == list(range(40))  # each exactly once across the group
        assert sub_one.delivered > 0 and sub_two.delivered > 0


async def test_unacked_message_goes_to_another_member_after_ack_wait(url: str) -> None:
    """A worker dies holding a message: after ack_wait (1 s here) its peer gets it."""
    async with NatsBus.from_url(url) as survivor:
        crashed = NatsBus.from_url(url)
        async with crashed.subscribe("samples.>", name="workers", durable=True) as doomed:
            await survivor.publish("samples.press1", numbered_batch(7), confirm=True)
            (held,) = await receive(aiter(doomed), 1)
        await crashed._nc.close()  # type: ignore[union-attr]  # as kill -9 would: no ack, no nak
        async with survivor.subscribe("samples.>", name="workers", durable=True) as peer:
            (again,) = await receive(aiter(peer), 1, wait_s=WAIT_S)
            assert again.context == held.context
            again.ack()


async def test_poison_message_goes_to_the_dead_letters_with_its_error(url: str) -> None:
    async with NatsBus.from_url(url) as bus:
        dead = bus.subscribe("dead.>", name="dead.reader", durable=True)
        async with bus.subscribe("events.>", name="recorder", durable=True) as subscription:
            iterator = aiter(subscription)
            event = Event("alarm.raised", "press1", {"n": 1})
            await bus.publish("events.alarm.raised", event, event.context, confirm=True)
            for attempt in range(3):  # max_deliver=3
                (message,) = await receive(iterator, 1)
                message.nack(ValueError(f"bad row {attempt}\nsecond line"))
            await nothing_more(iterator, 0.5)
        async with dead:
            (letter,) = await receive(aiter(dead), 1)
        assert letter.topic == "dead.events.alarm.raised"
        assert letter.payload == event and letter.context == event.context
        assert subscription.dead_lettered == 1
    import nats

    nc = await nats.connect(bus.url)
    try:
        raw = await nc.jetstream().get_last_msg(bus.stream, f"{bus.prefix}.dead.>")
    finally:
        await nc.close()
    assert raw.headers is not None
    assert raw.headers[ERROR] == "bad row 2 second line"
    assert raw.headers[ORIGINAL_SUBJECT] == f"{bus.prefix}.events.alarm.raised"
    assert raw.headers[DELIVERIES] == "3" and raw.headers[CONSUMER] == "recorder"


async def test_a_message_that_keeps_killing_its_consumer_is_dead_lettered(url: str) -> None:
    """Never acked nor nacked (each consumer dies on it): after max_deliver, a dead letter."""
    async with NatsBus.from_url(url) as bus:
        await bus.publish("samples.press1", numbered_batch(1), confirm=True)
        subscription = bus.subscribe("samples.>", name="recorder", durable=True)
        subscription.start = subscription.start.replace(year=2000)
        async with subscription:
            iterator = aiter(subscription)
            await receive(iterator, 3, wait_s=3 * 1 + WAIT_S)  # never acked: ack_wait is 1 s
            await nothing_more(iterator, 1.5)  # the 4th delivery went to the dead letters
        assert subscription.dead_lettered == 1
        dead = bus.subscribe("dead.>", name="dead.reader")
        dead.start = dead.start.replace(year=2000)
        async with dead:
            (letter,) = await receive(aiter(dead), 1)
        assert letter.topic == "dead.samples.press1"


async def test_acks_sent_while_closing_still_count(url: str) -> None:
    """The recorder acks after its last commit, which ends after close() began."""
    bus = NatsBus.from_url(url)
    subscription = bus.subscribe("samples.>", name="recorder", durable=True)
    async with subscription:
        await bus.publish("samples.press1", numbered_batch(1), confirm=True)
        (message,) = await receive(aiter(subscription), 1)
        closing = asyncio.create_task(bus.close())
        await asyncio.sleep(0.2)  # the commit
        message.ack()
        await asyncio.wait_for(closing, WAIT_S)
    again = NatsBus.from_url(url)  # nothing left for the group
    async with again, again.subscribe("samples.>", name="recorder", durable=True) as member:
        await nothing_more(aiter(member), 1.5)


async def test_a_batch_larger_than_max_payload_travels_in_parts(url: str) -> None:
    async with NatsBus.from_url(url) as bus:
        limit = (await bus.connect())._nc.max_payload  # type: ignore[union-attr]
        rows = limit // 21 * 2 + 5  # 21 bytes a sample: about three messages
        big = SampleBatch.of("s", np.arange(rows), np.random.default_rng(1).normal(size=rows))
        async with bus.subscribe("samples.>", name="reader") as subscription:
            await bus.publish("samples.press1", big, confirm=True)
            parts: list[Message] = []
            async with asyncio.timeout(WAIT_S):
                async for message in subscription:
                    parts.append(message)
                    if sum(len(p.payload) for p in parts) == rows:
                        break
        assert len(parts) >= 2
        whole = SampleBatch.concat(p.payload for p in parts)
        np.testing.assert_array_equal(whole.values, big.values)
        np.testing.assert_array_equal(whole.timestamps, big.timestamps)


async def test_a_durable_name_keeps_its_pattern(url: str) -> None:
    async with NatsBus.from_url(url) as bus:
        async with bus.subscribe("samples.>", name="recorder", durable=True):
            pass
        with pytest.raises(BusError, match=r"reads \S*samples\.>, not \S*events\.>"):
            async with bus.subscribe("events.>", name="recorder", durable=True):
                pass


async def test_a_stream_of_other_subjects_is_refused(url: str) -> None:
    bus = NatsBus.from_url(url)
    await bus.connect()
    await bus.close()
    clash = NatsBus.from_url(url.replace("prefix=", "prefix=other"))
    with pytest.raises(BusError, match="choose another stream= or prefix="):
        await clash.connect()

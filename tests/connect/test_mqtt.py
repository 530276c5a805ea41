"""Plain MQTT against a real Mosquitto (127.0.0.1:1883): the session, the connector end to end
through ``open_runtime``, bad input counted, and QoS 1 acknowledged only after commit."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import require_service
from tests.connect.harness import Downstream, plant_text, running, wait_for
from tests.connect.proxy import CuttableProxy
from tests.test_app import settings_for
from werk.app import open_runtime
from werk.connect import Backoff, ConnectorConfig, ConnectorStats, Spool
from werk.connect.base import Binding, ConnectError
from werk.connect.mqtt import MqttSession, Received
from werk.connect.mqtt.connector import MqttConnector
from werk.core import ConfigError, Quality

BROKER = "mqtt://127.0.0.1:1883"


@pytest.fixture
def broker() -> str:
    require_service("mqtt", BROKER)
    return BROKER


@pytest.fixture
def prefix() -> str:
    """A topic prefix of this test alone: the broker is shared."""
    return f"werktest/{uuid.uuid4().hex[:10]}"


@pytest.fixture
def client_ids() -> Iterator[list[str]]:
    """Client ids a test used with persistent sessions; their sessions are removed after it."""
    used: list[str] = []
    yield used
    for client_id in used:
        forget_session(BROKER, client_id)


def forget_session(url: str, client_id: str) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    port = int(url.rsplit(":", 1)[1])
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    with contextlib.suppress(OSError):
        client.connect("127.0.0.1", port)
        client.loop_start()
        deadline = time.monotonic() + 5
        while not client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.01)
        client.disconnect()
        client.loop_stop()


class Publisher:
    """A plain paho client, the kind of thing a device or a gateway runs."""

    def __init__(self, url: str = BROKER) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4()}")
        self.client.max_inflight_messages_set(100)
        self.client.connect("127.0.0.1", int(url.rsplit(":", 1)[1]))
        self.client.loop_start()

    def send(self, messages: list[tuple[str, bytes]], qos: int = 1) -> None:
        infos = [self.client.publish(topic, payload, qos=qos) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def publisher(broker: str) -> Iterator[Publisher]:
    p = Publisher(broker)
    yield p
    p.close()


def route_connector(url: str, prefix: str, client_id: str, **options: object) -> MqttConnector:
    config = ConnectorConfig(
        "mqtt-test",
        options={
            "client_id": client_id,
            "routes": [
                {
                    "topic": f"{prefix}/+",
                    "signal": "t.{2}",
                    "value": "$.v",
                    "timestamp": "$.ts",
                    "any_signal": True,
                }
            ],
            **options,
        },
    )
    return MqttConnector(url, config)


def json_messages(
    prefix: str, n: int, signal: str = "a", start: int = 0
) -> list[tuple[str, bytes]]:
    now = time.time_ns()
    return [
        (f"{prefix}/{signal}", b'{"v": %d, "ts": %d}' % (i, now + i * 1000))
        for i in range(start, start + n)
    ]


# -- the session --------------------------------------------------------------------------------


async def test_session_receives_in_batches_publishes_and_follows_reconnects(
    broker: str, prefix: str
) -> None:
    events: list[str] = []

    async def connected() -> None:
        events.append("connected")

    async def lost(reason: str) -> None:
        events.append("lost")

    stats = ConnectorStats("session")
    async with CuttableProxy("127.0.0.1", 1883) as proxy:
        session = MqttSession(
            proxy.url,
            client_id=f"werk-test-{uuid.uuid4().hex[:8]}",
            subscriptions=[(f"{prefix}/#", 1)],
            stats=stats,
            persistent=False,
            on_connect=connected,
            on_disconnect=lost,
            reconnect_min_s=0.05,
            reconnect_max_s=0.2,
        )
        async with session:
            await asyncio.wait_for(session.wait_connected(), 10)
            for i in range(200):
                await session.publish(f"{prefix}/x", b"%d" % i, qos=1 if i % 2 else 0)
            received: list[Received] = []
            async for messages in session.batches():
                received += messages
                session.ack(messages)
                if len(received) >= 200:
                    break
            got = [int(m.payload) for m in received]
            assert sorted(got) == list(range(200))
            for qos in (0, 1):  # MQTT orders messages within a QoS, not across
                assert [n for n in got if n % 2 == qos] == list(range(qos, 200, 2))
            assert {m.qos for m in received} == {0, 1} and received[0].generation == 1

            await proxy.cut()
            await asyncio.wait_for(session.wait_disconnected(), 10)
            assert not session.connected and stats.state == "disconnected"
            await proxy.restore()
            await asyncio.wait_for(session.wait_connected(), 10)
            assert session.generation > 1 and stats.reconnects == 1
        assert events == ["connected", "lost", "connected"]
    assert stats.state == "connected"  # a clean close is not a lost connection


async def test_large_messages_and_a_slow_consumer_lose_nothing(
    broker: str, prefix: str, publisher: Publisher
) -> None:
    """A 1 MB message arrives whole though it comes in many reads; past ``max_waiting`` messages
    not yet taken the session stops reading (TCP holds the rest back) and loses none of them."""
    session = MqttSession(
        broker,
        client_id=f"werk-test-{uuid.uuid4().hex[:8]}",
        subscriptions=[(f"{prefix}/#", 1)],
        stats=ConnectorStats("slow"),
        persistent=False,
        max_waiting=50,
    )
    big = bytes(range(256)) * 4096
    async with session:
        await asyncio.wait_for(session.wait_connected(), 10)
        sent = [(f"{prefix}/big", big)] + [(f"{prefix}/n", b"%d" % i) for i in range(2000)]
        await asyncio.to_thread(publisher.send, sent, 0)
        received: list[Received] = []
        paused = False
        async for messages in session.batches(max_messages=20):
            wire = session._wire
            paused = paused or (wire is not None and wire.paused)
            received += messages
            session.ack(messages)
            await asyncio.sleep(0.002)  # a consumer slower than the stream
            if len(received) >= len(sent):
                break
        assert received[0].payload == big
        assert [int(m.payload) for m in received[1:]] == list(range(2000))
        assert paused, "the session never paused reading"
        stamps = [m.received_ns for m in received]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)


async def test_on_connect_may_publish_and_subscribe(broker: str, prefix: str) -> None:
    """What the Sparkplug host does on every connection: publish (QoS 1, awaited) and then
    subscribe to more; a refused or impossible subscription raises."""
    holder: list[MqttSession] = []

    async def announce() -> None:
        (session,) = holder
        await session.publish(f"{prefix}/state", b"online", qos=1, retain=False)
        await session.subscribe([(f"{prefix}/data/#", 1)])
        await session.publish(f"{prefix}/data/x", b"1", qos=1)

    session = MqttSession(
        broker,
        client_id=f"werk-test-{uuid.uuid4().hex[:8]}",
        subscriptions=[(f"{prefix}/state", 1)],
        stats=ConnectorStats("announce"),
        persistent=False,
        on_connect=announce,
    )
    holder.append(session)
    async with session:
        topics: list[str] = []
        batches = session.batches()
        while len(topics) < 2:
            messages = await asyncio.wait_for(anext(batches), 10)
            topics += [m.topic for m in messages]
            session.ack(messages)
        assert topics == [f"{prefix}/state", f"{prefix}/data/x"]
        with pytest.raises(ConnectError, match="subscribe"):
            await session.subscribe([("bad/#/topic", 0)])


async def test_acks_of_an_earlier_connection_are_not_sent(broker: str, prefix: str) -> None:
    """After a reconnect the broker may reuse a packet id: acknowledging an old message must not
    acknowledge a new one. The session skips them; the broker redelivers the old one."""
    client_id = f"werk-test-{uuid.uuid4().hex[:8]}"
    try:
        async with CuttableProxy("127.0.0.1", 1883) as proxy:
            session = MqttSession(
                proxy.url,
                client_id=client_id,
                subscriptions=[(f"{prefix}/#", 1)],
                stats=ConnectorStats("acks"),
                reconnect_min_s=0.05,
                reconnect_max_s=0.2,
            )
            async with session:
                await asyncio.wait_for(session.wait_connected(), 10)
                await session.publish(f"{prefix}/x", b"1", qos=1)
                batches = session.batches()
                first = await anext(batches)
                await proxy.cut()
                await asyncio.wait_for(session.wait_disconnected(), 10)
                await proxy.restore()
                await asyncio.wait_for(session.wait_connected(), 10)
                session.ack(first)  # stale: skipped
                again = await asyncio.wait_for(anext(batches), 10)  # redelivered
                assert [m.payload for m in again] == [b"1"] and again[0].generation > 1
                session.ack(again)
    finally:
        forget_session(broker, client_id)


# -- the connector ------------------------------------------------------------------------------


def test_configuration_errors_name_the_option() -> None:
    with pytest.raises(ConfigError, match="unknown MQTT option"):
        MqttConnector(BROKER, ConnectorConfig("x", options={"qso": 1}))
    with pytest.raises(ConfigError, match="nothing to subscribe"):
        MqttConnector(BROKER, ConnectorConfig("x"))
    with pytest.raises(ConfigError, match="qos must be 0 or 1"):
        MqttConnector(BROKER, ConnectorConfig("x", options={"qos": 2, "routes": []}))
    with pytest.raises(ConfigError, match="both bound to MQTT topic"):
        MqttConnector(
            BROKER, ConnectorConfig("x", bindings=(Binding("a", "t/1"), Binding("b", "t/1")))
        )


PLANT = plant_text(
    """[assets.line]
level = "line"
parent = "area"
name = "Line"
[assets.welder1]
level = "machine"
parent = "line"
name = "Welder"
[assets.welder1.signals.current]
unit = "A"
source = {{ mqtt = "{prefix}/welder1/current" }}
[assets.welder1.signals.wire_speed]
unit = "m/min"
source = {{ mqtt = "{prefix}/welder1/wire_speed" }}
[assets.press1]
level = "machine"
parent = "line"
name = "Press"
[assets.press1.signals.temp]
unit = "Cel"
[assets.press1.signals.force]
unit = "kN"
""",
    plant_id="mq",
    name="MQTT test plant",
)


async def test_end_to_end_plant_bindings_routes_and_bad_input(
    tmp_path: Path, broker: str, prefix: str, publisher: Publisher, client_ids: list[str]
) -> None:
    """Through the whole werk: broker -> connector -> bus -> store; each kind of bad input is
    counted and the good messages around it are stored."""
    plant = tmp_path / "plant.toml"
    plant.write_text(PLANT.format(prefix=prefix))
    client_id = f"werk-test-{uuid.uuid4().hex[:8]}"
    client_ids.append(client_id)
    settings = settings_for(
        tmp_path,
        plant=str(plant),
        spool_directory=str(tmp_path / "spool"),
        connectors=[
            {
                "url": broker,
                "name": "line-mqtt",
                "max_skew_s": 86_400,
                "options": {
                    "client_id": client_id,
                    "routes": [
                        {
                            "topic": f"{prefix}/plant/+/+",
                            "signal": "{3}.{4}",
                            "value": "$.v",
                            "timestamp": "$.ts",
                        }
                    ],
                    "signals": ["press1.temp", "press1.force"],
                },
            }
        ],
    )
    now = time.time_ns()
    good = [
        (f"{prefix}/welder1/current", b"120.5"),
        (f"{prefix}/welder1/wire_speed", b'{"value": 8.5, "timestamp": %d}' % (now - 10**9)),
        (f"{prefix}/plant/press1/temp", b'{"v": 71.5, "ts": %d}' % (now // 10**6)),
        (f"{prefix}/plant/press1/force", b'{"v": 300, "ts": "2020-01-01T00:00:00Z"}'),  # skew
    ]
    bad = [
        (f"{prefix}/welder1/current", b"{not json"),
        (f"{prefix}/welder1/current", b'"twelve"'),
        (f"{prefix}/welder1/current", b"NaN"),  # kept, flagged bad
        (f"{prefix}/plant/press1/temp", b'{"value": 1}'),  # no $.v
        (f"{prefix}/plant/press9/temp", b'{"v": 1}'),  # not a known signal
        (f"{prefix}/plant/press1/temp", b'{"v": 1, "ts": "soon"}'),
        (f"{prefix}/plant/press1/force", b'{"v": 1, "ts": %d}' % (now + 10**15)),  # year 2055
    ]
    async with open_runtime(settings) as runtime:
        assert runtime.connectors is not None
        await wait_for(lambda: runtime.connectors.stats()[0]["state"] == "connected", 10)
        publisher.send(bad[:3] + good[:2] + bad[3:] + good[2:])
        total = len(good) + len(bad)
        await wait_for(lambda: runtime.connectors.stats()[0]["messages"] >= total, what="all in")
        await wait_for(lambda: runtime.store.count("press1.temp") >= 1, what="stored")
        # the recorder commits before the outlet counts what it delivered: wait for both
        await wait_for(lambda: runtime.connectors.stats()[0]["samples"] >= 4, what="counted")
        (stats,) = runtime.connectors.stats()
        print("connector stats:", stats)
        assert stats["rejected"] == {
            "invalid-json": 1,
            "not-numeric": 1,
            "not-finite": 1,
            "missing-value": 1,
            "unknown-signal": 1,
            "bad-timestamp": 1,
            "clock-skew": 2,
        }
        assert stats["messages"] == total and stats["samples"] == 4
        assert runtime.store.count("welder1.current") == 2  # 120.5 and the flagged NaN
        current = runtime.store.read("welder1.current", 0, 2**62)
        assert sorted(current.quality.tolist()) == [Quality.GOOD, Quality.BAD]
        assert runtime.store.count("welder1.wire_speed") == 1
        assert runtime.store.read("welder1.wire_speed", 0, 2**62).timestamps[0] == now - 10**9
        assert runtime.store.read("press1.temp", 0, 2**62).values.tolist() == [71.5]
        assert runtime.store.count("press1.force") == 0
        assert runtime.state.get()["welder1.wire_speed"][1] == 8.5  # the live view too


async def test_qos1_is_acknowledged_only_after_commit(
    broker: str, prefix: str, publisher: Publisher, client_ids: list[str]
) -> None:
    """Delivery blocks (the store hangs), the connector dies: nothing was acknowledged, so the
    broker delivers every message again to the next run of the same client id."""
    client_id = f"werk-test-{uuid.uuid4().hex[:8]}"
    client_ids.append(client_id)
    stuck = Downstream(hold=True)
    connector = route_connector(broker, prefix, client_id)
    async with running(connector, stuck, connect_timeout=10):
        publisher.send(json_messages(prefix, 50))
        await wait_for(lambda: connector.stats.messages >= 1, what="first message")
    assert stuck.batches == []  # committed nothing (and so acknowledged nothing)

    healthy = Downstream()
    again = route_connector(broker, prefix, client_id)
    async with running(again, healthy, connect_timeout=10):
        await wait_for(lambda: len(healthy.values()) >= 50, what="redelivery")
    assert sorted(healthy.values()) == list(range(50))
    print(f"first run received {connector.stats.messages}, none acknowledged; "
          f"second run received {again.stats.messages} (all 50 redelivered)")  # fmt: skip

    third = Downstream()  # everything was acknowledged by the second run: nothing comes back
    last = route_connector(broker, prefix, client_id)
    async with running(last, third, connect_timeout=10):
        publisher.send(json_messages(prefix, 1, start=50))
        await wait_for(lambda: len(third.values()) >= 1, what="the new message")
        await asyncio.sleep(0.3)
    assert third.values() == [50.0]


async def test_store_down_spools_acknowledges_and_replays(
    tmp_path: Path, broker: str, prefix: str, publisher: Publisher, client_ids: list[str]
) -> None:
    """With the store away, batches go to the on-disk spool — that counts as safe, so they are
    acknowledged — and are replayed in order when the store returns."""
    client_id = f"werk-test-{uuid.uuid4().hex[:8]}"
    client_ids.append(client_id)
    downstream = Downstream(down=True)
    connector = route_connector(broker, prefix, client_id)
    async with running(
        connector,
        downstream,
        connect_timeout=10,
        spool=Spool(tmp_path / "spool"),
        retry=Backoff(initial=0.05, maximum=0.1),
    ) as run:
        publisher.send(json_messages(prefix, 100))
        await wait_for(lambda: connector.stats.spooled >= 100, what="spooled")
        assert downstream.batches == []
    outlet = run.outlet
    # a new run gets nothing again: the spooled messages were acknowledged
    check = route_connector(broker, prefix, client_id)
    probe = Downstream()
    async with running(check, probe, connect_timeout=10):
        await asyncio.sleep(0.5)
    assert check.stats.messages == 0

    downstream.down = False
    outlet.start()  # what a restarted werk does with what it finds in its spool
    await wait_for(lambda: len(downstream.values()) >= 100, what="replay")
    await outlet.close()
    assert downstream.values() == list(range(100))
    assert connector.stats.replayed == 100


async def test_lost_connection_marks_signals_bad_once(
    broker: str, prefix: str, publisher: Publisher
) -> None:
    downstream = Downstream()
    async with CuttableProxy("127.0.0.1", 1883) as proxy:
        config = ConnectorConfig(
            "mqtt-test",
            bindings=(Binding("w.current", f"{prefix}/current"),),
            options={"persistent": False, "client_id": f"werk-test-{uuid.uuid4().hex[:8]}"},
        )
        connector = MqttConnector(proxy.url, config)
        async with running(connector, downstream, connect_timeout=10):
            publisher.send([(f"{prefix}/current", b"7")])
            await wait_for(lambda: downstream.values() == [7.0], what="first value")
            await proxy.cut()
            await wait_for(lambda: len(downstream.batches) >= 2, what="the BAD mark")
            await asyncio.sleep(1.5)  # retries while cut: no more marks
            marks = downstream.batches[1:]
            assert len(marks) == 1 and marks[0].names == ("w.current",)
            assert marks[0].quality.tolist() == [Quality.BAD] and np.isnan(marks[0].values[0])
            await proxy.restore()
            await wait_for(lambda: connector.stats.state == "connected", what="reconnect")
            publisher.send([(f"{prefix}/current", b"8")])
            await wait_for(lambda: downstream.values(Quality.GOOD) == [7.0, 8.0], what="good again")
        assert connector.stats.reconnects == 1

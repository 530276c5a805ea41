"""Sparkplug B end to end against a real Mosquitto (127.0.0.1:1883): an edge node simulated with
paho publishes births and data; werk, configured as in werk.toml with a plant file, records them,
asks for rebirths, marks deaths stale, and keeps its STATE on the broker."""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import require_service
from tests.connect.harness import Downstream, plant_text, wait_for
from tests.servers import free_port, werk_process
from werk.app import open_runtime
from werk.connect.discover import browsers
from werk.connect.sparkplug.codec import (
    DataType,
    MessageType,
    Metric,
    Payload,
    decode_payload,
    encode_payload,
    parse_state,
    topic,
)
from werk.core import Quality
from werk.settings import Settings

BROKER = "mqtt://127.0.0.1:1883"
PLANT = plant_text(
    """
[assets.line1]
level = "machine"
parent = "area"
name = "Line 1 edge node"

[assets.line1.signals.temperature]
unit = "Cel"
source = {{ sparkplug = "{group}/Line1:Temperature" }}

[assets.press1]
level = "machine"
parent = "area"
name = "Press 1"

[assets.press1.signals.pressure]
unit = "bar"
source = {{ sparkplug = "{group}/Line1/Press1:Pressure" }}

[assets.press1.signals.running]
data_type = "boolean"
source = {{ sparkplug = "{group}/Line1/Press1:Running" }}
""",
    plant_id="spbtest",
    name="Sparkplug test plant",
)


@pytest.fixture
def broker() -> None:
    require_service("mqtt", BROKER)


class Client:
    """A paho client on its own thread that keeps what it receives."""

    def __init__(self, subscriptions: list[str], will: tuple[str, bytes] | None = None) -> None:
        self.received: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex}")
        if will is not None:
            self.client.will_set(will[0], will[1], qos=1)
        self.client.on_message = self._message
        self.client.on_connect = lambda c, *_: (
            c.subscribe([(s, 1) for s in subscriptions])
            if subscriptions
            else self._subscribed.set()
        )
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.connect("127.0.0.1", 1883)
        self.client.loop_start()
        assert self._subscribed.wait(10), "no SUBACK from the broker"

    def _message(self, client: Any, userdata: Any, message: Any) -> None:
        with self._lock:
            self.received.append((message.topic, message.payload, message.retain))

    def messages(self, topic_name: str) -> list[tuple[bytes, bool]]:
        with self._lock:
            return [(p, r) for t, p, r in self.received if t == topic_name]

    def publish(self, topic_name: str, payload: bytes, retain: bool = False) -> None:
        self.client.publish(topic_name, payload, qos=1, retain=retain).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def clients() -> Iterator[Callable[..., Client]]:
    opened: list[Client] = []

    def open_client(*subscriptions: str, will: tuple[str, bytes] | None = None) -> Client:
        opened.append(Client(list(subscriptions), will))
        return opened[-1]

    yield open_client
    for client in opened:
        client.close()


class EdgeNode:
    """Sparkplug edge node Line1 with device Press1, numbering its messages."""

    def __init__(self, client: Client, group: str) -> None:
        self.client = client
        self.group = group
        self.seq = 0
        self.last_ms = 0

    def send(
        self,
        kind: MessageType,
        metrics: tuple[Metric, ...],
        device: str | None = None,
        seq: int | None = None,
    ) -> None:
        # one millisecond apart at least: the store keeps one sample per signal and timestamp
        now_ms = self.last_ms = max(time.time_ns() // 1_000_000, self.last_ms + 1)
        if kind is MessageType.NDEATH:
            payload = Payload(metrics, timestamp_ms=now_ms)
        else:
            seq = self.seq if seq is None else seq
            self.seq = (seq + 1) % 256
            payload = Payload(metrics, timestamp_ms=now_ms, seq=seq)
        self.client.publish(topic(kind, self.group, "Line1", device), encode_payload(payload))

    def birth(self, bd_seq: int = 0) -> None:
        self.seq = 0
        self.send(
            MessageType.NBIRTH,
            (
                Metric("bdSeq", bd_seq, DataType.UINT64),
                Metric("Node Control/Rebirth", False, DataType.BOOLEAN),
                Metric("Temperature", 20.5, DataType.DOUBLE, alias=1),
            ),
        )
        self.send(
            MessageType.DBIRTH,
            (
                Metric("Pressure", 100.0, DataType.FLOAT, alias=2),
                Metric("Running", True, DataType.BOOLEAN, alias=3),
            ),
            "Press1",
        )

    def ddata(
        self, pressure: float, seq: int | None = None, timestamp_ms: int | None = None
    ) -> None:
        metric = Metric(None, pressure, DataType.FLOAT, alias=2, timestamp_ms=timestamp_ms)
        self.send(MessageType.DDATA, (metric,), "Press1", seq)


def settings_for(tmp_path: Path, group: str, host_id: str) -> Settings:
    plant = tmp_path / "plant.toml"
    plant.write_text(PLANT.format(group=group))
    return Settings(
        store={"url": "memory://"},
        api={"tokens_file": str(tmp_path / "tokens.json")},
        recorder={"max_delay_ms": 5},
        twin={"directory": str(tmp_path / "twin")},
        plant=str(plant),
        spool_directory=str(tmp_path / "spool"),
        connectors=[
            {
                "url": "spb://127.0.0.1:1883",
                "name": "spb",
                "max_skew_s": 600,
                "options": {"host_id": host_id, "groups": [group], "max_delay_ms": 5},
            }
        ],
    )


def states(client: Client, host_id: str) -> list[tuple[bool, bool]]:
    return [(parse_state(p).online, r) for p, r in client.messages(f"spBv1.0/STATE/{host_id}")]


def rebirths(client: Client, group: str) -> int:
    ncmd = topic(MessageType.NCMD, group, "Line1")
    return sum(
        decode_payload(p).metrics[0].name == "Node Control/Rebirth"
        for p, _ in client.messages(ncmd)
    )


async def nudge_until_rebirth(edge: EdgeNode, observer: Client, seq: int) -> None:
    """Data from the edge node, numbered ``seq``, until werk asks the node for a rebirth."""

    def nudge() -> bool:
        edge.ddata(1.0, seq=seq)
        return rebirths(observer, edge.group) >= 1

    await wait_for(nudge)


@pytest.mark.usefixtures("broker")
async def test_edge_node_to_store_with_rebirths_gaps_deaths_and_state(
    tmp_path: Path, clients: Callable[..., Client]
) -> None:
    group, host_id = f"G{uuid.uuid4().hex[:8]}", f"werk-test-{uuid.uuid4().hex[:8]}"
    observer = clients(f"spBv1.0/{group}/NCMD/#", f"spBv1.0/STATE/{host_id}")
    edge = EdgeNode(clients(), group)
    async with open_runtime(settings_for(tmp_path, group, host_id)) as runtime:
        store = runtime.store
        await wait_for(lambda: (True, False) in states(observer, host_id))
        # The node was up before werk: its data, without a birth werk saw, asks for a rebirth.
        await nudge_until_rebirth(edge, observer, seq=17)
        assert rebirths(observer, group) == 1  # rate-limited: one request, however much data
        edge.birth()
        for value in (101.0, 102.0):
            edge.ddata(value)
        await wait_for(lambda: store.count("press1.pressure") == 3)
        assert store.read("press1.pressure", 0, 2**62).values.tolist() == [100.0, 101.0, 102.0]
        assert store.read("press1.running", 0, 2**62).values.tolist() == [1.0]
        assert store.read("line1.temperature", 0, 2**62).values.tolist() == [20.5]

        # A sequence gap: a rebirth request on the broker, the data after it UNCERTAIN.
        edge.ddata(103.0, seq=edge.seq + 2)
        await wait_for(lambda: rebirths(observer, group) == 2)
        await wait_for(lambda: store.count("press1.pressure") == 4)
        assert store.read("press1.pressure", 0, 2**62).quality[-1] == Quality.UNCERTAIN

        # Bad values: NaN kept as BAD, a day-off timestamp refused; both counted.
        edge.birth()
        edge.ddata(math.nan)
        edge.ddata(5.0, timestamp_ms=time.time_ns() // 1_000_000 + 86_400_000)
        edge.ddata(104.0)
        await wait_for(lambda: store.read("press1.pressure", 0, 2**62).values[-1] == 104.0)
        (stats,) = runtime.connectors.stats()  # type: ignore[union-attr]
        assert stats["rejected"]["not-finite"] == 1 and stats["rejected"]["clock-skew"] == 1
        assert stats["gaps"] == 1 and stats["rebirths_requested"] == 2 and stats["samples"] > 0

        # Deaths: a late will of an older session is ignored, the real one marks STALE.
        edge.send(MessageType.NDEATH, (Metric("bdSeq", 7, DataType.UINT64),))
        edge.send(MessageType.NDEATH, (Metric("bdSeq", 0, DataType.UINT64),))
        for signal in ("press1.pressure", "press1.running", "line1.temperature"):
            await wait_for(lambda s=signal: store.latest([s])[s][2] == Quality.STALE)  # type: ignore[misc]
        (stats,) = runtime.connectors.stats()  # type: ignore[union-attr]
        assert stats["stale_deaths"] == 1 and stats["deaths"] == 1

        retained = clients(f"spBv1.0/STATE/{host_id}")
        await wait_for(lambda: states(retained, host_id) == [(True, True)])
    # A clean stop says offline itself, retained for whoever comes next.
    late = clients(f"spBv1.0/STATE/{host_id}")
    await wait_for(lambda: states(late, host_id) == [(False, True)])


@pytest.mark.usefixtures("broker")
def test_the_will_says_offline_when_werk_is_killed(
    tmp_path: Path, clients: Callable[..., Client]
) -> None:
    group, host_id = f"G{uuid.uuid4().hex[:8]}", f"werk-kill-{uuid.uuid4().hex[:8]}"
    port = free_port()
    (tmp_path / "plant.toml").write_text(PLANT.format(group=group))
    (tmp_path / "werk.toml").write_text(
        f'plant = "{tmp_path / "plant.toml"}"\n'
        f'spool_directory = "{tmp_path / "spool"}"\n'
        f'[store]\nurl = "memory://"\n'
        f'[api]\nport = {port}\ntokens_file = "{tmp_path / "tokens.json"}"\n'
        f'[twin]\ndirectory = "{tmp_path / "twin"}"\n'
        '[[connectors]]\nurl = "spb://127.0.0.1:1883"\nname = "spb"\n'
        f'[connectors.options]\nhost_id = "{host_id}"\ngroups = ["{group}"]\n'
    )
    observer = clients(f"spBv1.0/STATE/{host_id}")
    with werk_process(["serve", "--config", str(tmp_path / "werk.toml")], tmp_path, port):
        deadline = time.monotonic() + 20
        while (True, False) not in states(observer, host_id):
            assert time.monotonic() < deadline, "werk never said online"
            time.sleep(0.05)
    # werk_process ends with SIGKILL: no goodbye, the broker sends the will
    deadline = time.monotonic() + 20
    while states(observer, host_id)[-1] != (False, False):
        assert time.monotonic() < deadline, "the will did not say offline"
        time.sleep(0.05)
    late = clients(f"spBv1.0/STATE/{host_id}")
    deadline = time.monotonic() + 10
    while states(late, host_id) != [(False, True)]:
        assert time.monotonic() < deadline, "the offline STATE is not retained"
        time.sleep(0.05)


@pytest.mark.usefixtures("broker")
async def test_browse_asks_for_births_and_lists_their_metrics(
    clients: Callable[..., Client],
) -> None:
    group = f"G{uuid.uuid4().hex[:8]}"
    edge_client = clients(f"spBv1.0/{group}/NCMD/Line1")
    edge = EdgeNode(edge_client, group)
    answered = threading.Event()

    def answer() -> None:  # an edge node that rebirths on request, like a real one
        while not answered.is_set():
            if edge_client.messages(topic(MessageType.NCMD, group, "Line1")):
                edge.birth()
                answered.set()
            time.sleep(0.02)

    feeder = threading.Thread(target=answer, daemon=True)
    feeder.start()

    async def keep_sending() -> None:
        while not answered.is_set():
            edge.send(MessageType.NDATA, (Metric(None, 1.0, alias=1),))
            await asyncio.sleep(0.1)

    sender = asyncio.create_task(keep_sending())
    try:
        found = await browsers.open("spb://127.0.0.1:1883", {"groups": [group], "timeout_s": 3})
    finally:
        answered.set()
        await sender
        feeder.join(5)
    assert [(d.asset, d.name, d.address, d.data_type) for d in found] == [
        ("Line1", "Temperature", f"{group}/Line1:Temperature", "double"),
        ("Press1", "Pressure", f"{group}/Line1/Press1:Pressure", "float"),
        ("Press1", "Running", f"{group}/Line1/Press1:Running", "boolean"),
    ]
    assert json.dumps([d.address for d in found])  # plain strings, ready for the plant file


def test_options_are_checked_when_the_connector_is_built() -> None:
    from werk.connect import ConnectorConfig, connectors
    from werk.core import ConfigError

    config = ConnectorConfig("spb", options={"host_id": "scada", "groups": "Plant1", "qos": 0})
    connector = connectors.open("spb://127.0.0.1:1883", config)
    assert connector.state_topic == "spBv1.0/STATE/scada"  # type: ignore[attr-defined]
    assert connector.groups == ["Plant1"]  # type: ignore[attr-defined]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"hostid": "x"}, "unknown Sparkplug options hostid"),
        ({"host_id": "a/b"}, "without /"),
        ({"groups": ["#"]}, "without /"),
        ({"qos": 2}, "use 0 or 1"),
    ]
    for options, rule in cases:
        with pytest.raises(ConfigError, match=rule):
            connectors.open("spb://127.0.0.1:1883", ConnectorConfig("spb", options=options))


async def test_a_lost_connection_marks_every_bound_signal_bad_and_forgets_births() -> None:
    from werk.connect import Binding, ConnectorConfig, Outlet
    from werk.connect.sparkplug.connector import SparkplugConnector

    downstream = Downstream()
    bindings = (Binding("a.x", "G/N:X"), Binding("b.y", "G/N/D:Y"))
    connector = SparkplugConnector("spb://127.0.0.1:1", ConnectorConfig("spb", bindings))
    connector._outlet = Outlet(downstream.publish, connector.stats)
    birth = Payload((Metric("bdSeq", 0, DataType.UINT64),), timestamp_ms=1, seq=0)
    connector.host.receive(topic(MessageType.NBIRTH, "G", "N"), encode_payload(birth), 1)
    connector.host.take()
    await connector._on_disconnect("broker gone")
    (batch,) = downstream.batches
    assert batch.names == ("a.x", "b.y") and set(batch.quality.tolist()) == {Quality.BAD}
    assert connector._known == (("G", "N"),)

    class Session:  # what the connector does on the next connection, in order
        def __init__(self) -> None:
            self.calls: list[tuple[str, Any]] = []

        async def publish(
            self, topic: str, payload: bytes, qos: int = 0, retain: bool = False
        ) -> None:
            self.calls.append(("publish", (topic, payload, qos, retain)))

        async def subscribe(self, subscriptions: list[tuple[str, int]]) -> None:
            self.calls.append(("subscribe", subscriptions))

    session = Session()
    await connector._announce(session)  # type: ignore[arg-type]
    (_, state), (_, subscribed), (_, rebirth) = session.calls
    assert state[0] == "spBv1.0/STATE/werk" and state[2:] == (1, True)
    assert parse_state(state[1]).online is True
    assert subscribed == [("spBv1.0/+/#", 1)]  # only after STATE says online
    assert rebirth[0] == "spBv1.0/G/NCMD/N" and decode_payload(rebirth[1]).metrics[0].value
    data = Payload((Metric("X", 1.0, DataType.DOUBLE),), timestamp_ms=2, seq=1)
    connector.host.receive(topic(MessageType.NDATA, "G", "N"), encode_payload(data), 2)
    assert connector.host.take().rebirths == ()  # asked already: data waits for the birth
    assert connector.stats.extra["rebirths_requested"] == 1


class Proxy:
    """A TCP proxy to the broker that can cut every connection and refuse new ones a while."""

    def __init__(self) -> None:
        self.port = free_port()
        self.open = True
        self._pipes: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Proxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.cut()
        assert self._server is not None
        self._server.close()

    def cut(self) -> None:
        self.open = False
        for writer in list(self._pipes):
            writer.transport.abort()
        self._pipes.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.open:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", 1883)
        self._pipes |= {writer, up_writer}

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.transport.abort()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))


@pytest.mark.usefixtures("broker")
async def test_a_cut_connection_marks_bad_and_the_reconnect_asks_for_births(
    tmp_path: Path, clients: Callable[..., Client]
) -> None:
    group, host_id = f"G{uuid.uuid4().hex[:8]}", f"werk-cut-{uuid.uuid4().hex[:8]}"
    observer = clients(f"spBv1.0/{group}/NCMD/#", f"spBv1.0/STATE/{host_id}")
    edge = EdgeNode(clients(), group)
    async with Proxy() as proxy:
        settings = settings_for(tmp_path, group, host_id)
        settings.connectors[0].url = f"spb://127.0.0.1:{proxy.port}"
        async with open_runtime(settings) as runtime:
            store = runtime.store
            await wait_for(lambda: (True, False) in states(observer, host_id))
            await nudge_until_rebirth(edge, observer, seq=3)
            edge.birth()
            await wait_for(lambda: store.count("press1.pressure") == 1)

            proxy.cut()  # the network goes; the broker sends werk's will
            await wait_for(lambda: states(observer, host_id)[-1] == (False, False))
            for signal in ("press1.pressure", "press1.running", "line1.temperature"):
                await wait_for(lambda s=signal: store.latest([s])[s][2] == Quality.BAD)  # type: ignore[misc]
            await asyncio.sleep(1.0)  # a reconnect or two are refused meanwhile
            proxy.open = True
            # back: STATE online again, and the node that was alive is asked for its births
            await wait_for(lambda: states(observer, host_id)[-1] == (True, False))
            await wait_for(lambda: rebirths(observer, group) == 2)
            edge.birth()
            await wait_for(
                lambda: store.latest(["press1.pressure"])["press1.pressure"][2] == Quality.GOOD
            )
            (stats,) = runtime.connectors.stats()  # type: ignore[union-attr]
            assert stats["reconnects"] >= 1 and stats["state"] == "connected"

"""The virtual plant (``sim://``): machines with sensor models, run against the wall clock, served
the way real machines are — an OPC UA server, Sparkplug B over MQTT — and as a connector.

URL ``sim://?speed=60`` (simulated seconds per wall-clock second; default 1). Options
(``[connectors.options]``):

- ``machines``: machine ids (default: those of the bound signals, else press1, press2, oven1);
- ``rate_hz`` (default 10): samples per signal per second (wall clock); ``every_s`` (default
  0.5): how often a block is generated and delivered; ``seed`` (default 7);
- ``opcua_endpoint`` (e.g. ``opc.tcp://127.0.0.1:4841/werk-sim``): serve every machine's signals
  from an OPC UA server in this process, NoSecurity, as ``ns=2;s=Press1.Temperature`` (machine and
  quantity capitalised), values written with their source timestamps;
- ``mqtt_url`` (e.g. ``mqtt://127.0.0.1:1883``): publish Sparkplug B as edge node
  ``<group>/<node>`` (options ``group``, default ``werk``, and ``node``, default
  ``virtual-plant``), one device per machine, metrics named by quantity (NBIRTH/DBIRTH with
  aliases, DDATA by alias, ``seq`` per message, NDEATH as the MQTT will with ``bdSeq``). A broker
  that does not answer is logged once and the plant runs without Sparkplug.

Binding: as a connector, the plant delivers the plant-file signals whose source is
``{ sim = "press1:temperature" }`` (machine id, a colon, the quantity of
:mod:`werk.sim.sensors`: temperature, vibration, current, pressure, parts, state).

Faults: :meth:`VirtualPlant.inject`, or a ``sim.fault.injected`` event on the bus
(``POST /api/v1/sim/faults``, ``werk sim inject``) followed by :func:`follow_faults`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Sequence
from datetime import UTC
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

from werk.connect.base import Binding, ConnectError, ConnectorConfig, connectors
from werk.connect.outlet import Outlet
from werk.connect.stats import ConnectorStats
from werk.core import EVENTS, NS_PER_S, Bus, ConfigError, Event, SampleBatch
from werk.sim.sensors import FAULTS, QUANTITIES, SensorBank

if TYPE_CHECKING:
    from werk.runtime import Runtime

log = logging.getLogger(__name__)

DEFAULT_MACHINES = ("press1", "press2", "oven1")
FAULT_EVENT = "sim.fault.injected"
OPCUA_NAMESPACE = "urn:werk:sim"

# Every plant running in this process, so a fault event reaches it.
RUNNING: weakref.WeakSet[VirtualPlant] = weakref.WeakSet()


def node_id(machine: str, quantity: str) -> str:
    """The OPC UA node id the plant serves a machine's quantity as."""
    return f"ns=2;s={machine[:1].upper()}{machine[1:]}.{quantity[:1].upper()}{quantity[1:]}"


def _number(options: Any, key: str, default: float, minimum: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ConfigError(f"sim: option {key} must be a number >= {minimum:g}, not {value!r}")
    return float(value)


class VirtualPlant:
    def __init__(self, url: str, config: ConnectorConfig) -> None:
        options = dict(config.options)
        query = {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}
        try:
            options.setdefault("speed", float(query.get("speed", 1.0)))
        except ValueError:
            raise ConfigError(f"{url!r}: speed must be a number") from None
        self.url = url
        self.name = config.name
        self.stats = ConnectorStats(config.name)
        self.speed = _number(options, "speed", 1.0, 1e-6)
        self.rate_hz = _number(options, "rate_hz", 10.0, 0.01)
        self.every_s = _number(options, "every_s", 0.5, 0.01)
        self.bindings: tuple[Binding, ...] = tuple(config.bindings)
        wanted: list[tuple[int, str, str]] = []  # (binding position, machine, quantity)
        for position, binding in enumerate(self.bindings):
            machine, sep, quantity = binding.address.partition(":")
            if not sep or quantity not in QUANTITIES:
                raise ConfigError(
                    f"sim: signal {binding.signal}: source {binding.address!r} is not "
                    f"machine:quantity (quantities: {', '.join(QUANTITIES)})"
                )
            wanted.append((position, machine, quantity))
        machines = options.get("machines") or list(dict.fromkeys(m for _, m, _ in wanted))
        self.machines = tuple(machines or DEFAULT_MACHINES)
        unknown = {m for _, m, _ in wanted} - set(self.machines)
        if unknown:
            raise ConfigError(f"sim: machines {', '.join(sorted(unknown))} are not simulated")
        self._wanted = wanted
        self.bank = SensorBank(self.machines, seed=int(options.get("seed", 7)))
        self.opcua_endpoint: str | None = options.get("opcua_endpoint")
        self.mqtt_url: str | None = options.get("mqtt_url")
        self.group = str(options.get("group", "werk"))
        self.node = str(options.get("node", "virtual-plant"))
        self._server: Any = None
        self._nodes: dict[tuple[str, str], Any] = {}
        self._sparkplug: _SparkplugEdge | None = None
        self._started = False
        self.ready = asyncio.Event()  # set once the first block is out
        RUNNING.add(self)

    # -- faults ----------------------------------------------------------------------------------

    def inject(self, machine: str, fault: str) -> None:
        """Start ``fault`` on ``machine`` (see :mod:`werk.sim.sensors`); raises ConfigError."""
        if machine not in self.machines:
            raise ConfigError(
                f"sim: unknown machine {machine!r}; known: {', '.join(self.machines)}"
            )
        if fault not in FAULTS:
            raise ConfigError(f"sim: unknown fault {fault!r}; known: {', '.join(FAULTS)}")
        self.bank.inject(machine, fault)
        log.info("%s: fault %s injected on %s", self.name, fault, machine)

    # -- life cycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start serving (OPC UA, Sparkplug). Raises OSError when the OPC UA port is taken."""
        if self._started:
            return
        if self.opcua_endpoint:
            await self._start_opcua(self.opcua_endpoint)
        if self.mqtt_url:
            edge = _SparkplugEdge(self, self.mqtt_url)
            if await edge.reachable():
                await edge.start()
                self._sparkplug = edge
            else:
                log.warning(
                    "%s: no MQTT broker answers at %s; running without Sparkplug",
                    self.name,
                    edge.address,
                )
        self._started = True

    async def stop(self) -> None:
        if self._sparkplug is not None:
            with contextlib.suppress(Exception):
                await self._sparkplug.stop()
            self._sparkplug = None
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.stop()
            self._server = None
        self._started = False

    async def run(self, outlet: Outlet | None = None) -> None:
        """Generate, serve and deliver until cancelled."""
        try:
            await self.start()
            self.stats.connected()
            step = NS_PER_S / self.rate_hz
            last = time.time_ns()  # no samples from before the start (a feed may hand over)
            while True:
                await asyncio.sleep(self.every_s)
                now = time.time_ns()
                first = int(last // step + 1)
                times = (np.arange(first, int(now // step) + 1) * step).astype(np.int64)
                last = now
                if len(times):
                    values = self.bank.block(len(times), self.speed / self.rate_hz)
                    await self._publish(times, values, outlet)
                    self.ready.set()
        finally:
            await asyncio.shield(self.stop())

    async def _publish(
        self, times: np.ndarray, values: dict[str, np.ndarray], outlet: Outlet | None
    ) -> None:
        if outlet is not None and self._wanted:
            n = len(times)
            rows = np.stack([values[q][self.machines.index(m)] for _, m, q in self._wanted])
            batch = SampleBatch(
                tuple(self.bindings[p].signal for p, _, _ in self._wanted),
                np.repeat(np.arange(len(self._wanted), dtype=np.int32), n),
                np.tile(times, len(self._wanted)),
                rows.reshape(-1),
                np.zeros(len(self._wanted) * n, np.uint8),
            )
            await outlet.deliver(batch)
        if self._server is not None:
            await self._write_opcua(times, values)
        if self._sparkplug is not None:
            await self._sparkplug.data(times, values)

    # -- OPC UA ----------------------------------------------------------------------------------

    async def _start_opcua(self, endpoint: str) -> None:
        try:
            from asyncua import ua
            from asyncua.server.server import Server
        except ImportError as error:  # pragma: no cover - asyncua is a dependency
            raise ConnectError("sim: serving OPC UA needs asyncua") from error
        # The virtual plant serves NoSecurity on loopback on purpose; asyncua warns about exactly
        # that (no signing, plaintext passwords) on every start.
        logging.getLogger("asyncua.server.server").setLevel(logging.ERROR)
        server = Server()
        await server.init()
        server.set_endpoint(endpoint)
        server.set_server_name("werk virtual plant")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        index = await server.register_namespace(OPCUA_NAMESPACE)
        if index != 2:  # pragma: no cover - a fresh server's first namespace is 2
            raise ConnectError(f"sim: OPC UA namespace index is {index}, not 2")
        for machine in self.machines:
            folder = await server.nodes.objects.add_object(
                ua.NodeId(machine[:1].upper() + machine[1:], ua.Int16(index)),
                f"{index}:{machine}",
            )
            for quantity in QUANTITIES:
                vtype = ua.VariantType.Int64 if quantity in ("parts", "state") else None
                initial = ua.Variant(0, vtype) if vtype else 0.0
                variable = await folder.add_variable(
                    ua.NodeId.from_string(node_id(machine, quantity)),
                    f"{index}:{quantity}",
                    initial,
                )
                self._nodes[(machine, quantity)] = variable.nodeid
        await server.start()  # OSError when the port is taken
        self._server = server
        log.info("%s: serving OPC UA at %s", self.name, endpoint)

    async def _write_opcua(self, times: np.ndarray, values: dict[str, np.ndarray]) -> None:
        from asyncua import ua

        stamps = [ua.DateTime.fromtimestamp(t / NS_PER_S, UTC) for t in times.tolist()]
        server_time = ua.DateTime.now(UTC)
        for j, stamp in enumerate(stamps):
            for i, machine in enumerate(self.machines):
                for quantity in QUANTITIES:
                    raw = float(values[quantity][i, j])
                    if quantity in ("parts", "state"):
                        variant = ua.Variant(int(raw), ua.VariantType.Int64)
                    else:
                        variant = ua.Variant(raw, ua.VariantType.Double)
                    await self._server.write_attribute_value(
                        self._nodes[(machine, quantity)],
                        ua.DataValue(variant, SourceTimestamp=stamp, ServerTimestamp=server_time),
                    )


class _SparkplugEdge:
    """The plant as a Sparkplug B edge node: births on every connection, DDATA per block."""

    def __init__(self, plant: VirtualPlant, url: str) -> None:
        from werk.connect.mqtt.session import BrokerAddress

        self.plant = plant
        self.url = url
        self.address = BrokerAddress.parse(url)
        self.bd_seq = -1
        self.seq = 0
        self.alias = {
            (m, q): i * len(QUANTITIES) + k + 1
            for i, m in enumerate(plant.machines)
            for k, q in enumerate(QUANTITIES)
        }
        self._session: Any = None
        self._born = asyncio.Event()
        self.last: dict[tuple[str, str], float] = {}  # what a birth reports

    async def reachable(self, timeout_s: float = 1.0) -> bool:
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(self.address.host, self.address.port), timeout_s
            )
        except (OSError, TimeoutError):
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    def _topic(self, kind: str, device: str | None = None) -> str:
        from werk.connect.sparkplug.codec import MessageType, topic

        return topic(MessageType(kind), self.plant.group, self.plant.node, device)

    def _will(self) -> tuple[str, bytes, int, bool]:
        from werk.connect.sparkplug.codec import (
            BD_SEQ_METRIC,
            DataType,
            Metric,
            Payload,
            encode_payload,
        )

        self.bd_seq = (self.bd_seq + 1) % 256
        payload = Payload((Metric(BD_SEQ_METRIC, self.bd_seq, DataType.INT64),), timestamp_ms=_ms())
        return self._topic("NDEATH"), encode_payload(payload), 1, False

    def _next_seq(self) -> int:
        seq = self.seq
        self.seq = (self.seq + 1) % 256
        return seq

    async def _births(self) -> None:
        from werk.connect.sparkplug.codec import (
            BD_SEQ_METRIC,
            DataType,
            Metric,
            Payload,
            encode_payload,
        )

        self.seq = 0
        now = _ms()
        node = Payload(
            (
                Metric(BD_SEQ_METRIC, self.bd_seq, DataType.INT64),
                Metric("Node Control/Rebirth", False, DataType.BOOLEAN),
            ),
            timestamp_ms=now,
            seq=self._next_seq(),
        )
        await self._session.publish(self._topic("NBIRTH"), encode_payload(node), qos=0)
        for machine in self.plant.machines:
            metrics = tuple(
                Metric(
                    q,
                    *_typed(q, self.last.get((machine, q), 0.0)),
                    alias=self.alias[(machine, q)],
                    timestamp_ms=now,
                    is_null=(machine, q) not in self.last,
                )
                for q in QUANTITIES
            )
            device = Payload(metrics, timestamp_ms=now, seq=self._next_seq())
            await self._session.publish(
                self._topic("DBIRTH", machine), encode_payload(device), qos=0
            )
        self._born.set()

    async def start(self) -> None:
        from werk.connect.mqtt.session import MqttSession

        self._session = MqttSession(
            self.url,
            client_id=f"werk-sim-{self.plant.node}",
            subscriptions=[(self._topic("NCMD"), 0)],
            stats=ConnectorStats(f"{self.plant.name}.sparkplug"),
            persistent=False,
            will=self._will,
            on_connect=self._births,
        )
        await self._session.__aenter__()
        self._rebirths = asyncio.create_task(self._follow_commands(), name="sim.sparkplug.ncmd")
        log.info(
            "%s: publishing Sparkplug B as %s/%s at %s",
            self.plant.name,
            self.plant.group,
            self.plant.node,
            self.address,
        )

    async def _follow_commands(self) -> None:
        from werk.connect.sparkplug.codec import SparkplugError, is_rebirth_request

        async for messages in self._session.batches():
            self._session.ack(messages)
            for message in messages:
                with contextlib.suppress(SparkplugError):
                    if is_rebirth_request(message.payload):
                        await self._births()

    async def stop(self) -> None:
        self._rebirths.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._rebirths
        await self._session.close()

    async def data(self, times: np.ndarray, values: dict[str, np.ndarray]) -> None:
        from werk.connect.sparkplug.codec import Metric, Payload, encode_payload

        if not self._session.connected or not self._born.is_set():
            for i, machine in enumerate(self.plant.machines):
                for q in QUANTITIES:
                    self.last[(machine, q)] = float(values[q][i, -1])
            return
        stamps = (times // 1_000_000).tolist()
        for i, machine in enumerate(self.plant.machines):
            for q in QUANTITIES:
                self.last[(machine, q)] = float(values[q][i, -1])
            metrics = tuple(
                Metric(
                    None,
                    *_typed(q, float(values[q][i, j])),
                    alias=self.alias[(machine, q)],
                    timestamp_ms=stamp,
                )
                for j, stamp in enumerate(stamps)
                for q in QUANTITIES
            )
            payload = Payload(metrics, timestamp_ms=_ms(), seq=self._next_seq())
            with contextlib.suppress(ConnectionError, OSError):
                await self._session.publish(
                    self._topic("DDATA", machine), encode_payload(payload), qos=0
                )


def _typed(quantity: str, value: float) -> tuple[float | int, Any]:
    from werk.connect.sparkplug.codec import DataType

    if quantity in ("parts", "state"):
        return int(value), DataType.INT64
    return value, DataType.DOUBLE


def _data_type(quantity: str) -> str:
    return "long" if quantity in ("parts", "state") else "double"


def _ms() -> int:
    return time.time_ns() // 1_000_000


async def follow_faults(bus: Bus) -> None:
    """Apply ``sim.fault.injected`` events to every virtual plant of this process."""
    async with bus.subscribe(f"{EVENTS}.{FAULT_EVENT}", name="sim.faults") as events:
        async for message in events:
            event: Event = message.payload
            machine, fault = str(event.data.get("machine")), str(event.data.get("fault"))
            for plant in list(RUNNING):
                if machine in plant.machines:
                    try:
                        plant.inject(machine, fault)
                    except ConfigError as error:
                        log.warning("sim: fault event %s ignored: %s", event.id, error)


def demo_bindings(machines: Sequence[str], quantities: Sequence[str]) -> list[Binding]:
    """OPC UA bindings of the demo plant's signals (``press1.temperature`` and so on)."""
    return [
        Binding(f"{m}.{q}", node_id(m, q), _data_type(q), m) for m in machines for q in quantities
    ]


DEMO_QUANTITIES = ("temperature", "vibration", "current", "pressure", "parts", "state")
HANDOVER_S = 15.0  # the longest the built-in feed waits for the demo's connectors


async def run_virtual_demo(
    runtime: Runtime,
    *,
    opcua_port: int = 4841,
    mqtt_url: str = "mqtt://127.0.0.1:1883",
    speed: float = 1.0,
) -> None:
    """``werk demo``: the built-in feed bridges the seconds the virtual plant's OPC UA server takes
    to start; then the plant serves the demo signals over OPC UA (and Sparkplug B when a broker
    answers at ``mqtt_url``), werk's own ``opc.tcp://`` (and ``spb://``) connectors read them, and
    the built-in feed stops. When the OPC UA port is taken the built-in feed simply goes on."""
    from werk.connect.runner import ConnectorSet, ingest_publisher
    from werk.sim.demo import MACHINES, run_demo_feed

    feed = asyncio.create_task(run_demo_feed(runtime), name="demo.feed")
    endpoint = f"opc.tcp://127.0.0.1:{opcua_port}/werk-sim"
    plant = VirtualPlant(
        f"sim://?speed={speed:g}",
        ConnectorConfig(
            "virtual-plant",
            options={"opcua_endpoint": endpoint, "mqtt_url": mqtt_url, "machines": list(MACHINES)},
        ),
    )
    tasks: list[asyncio.Task[None]] = [feed]
    try:
        try:
            await plant.start()
        except OSError as error:
            log.warning(
                "demo: cannot serve OPC UA at %s (%s); the built-in feed goes on", endpoint, error
            )
            await feed
            return
        tasks.append(asyncio.create_task(plant.run(), name="demo.virtual-plant"))
        tasks.append(asyncio.create_task(follow_faults(runtime.bus), name="demo.sim-faults"))
        await plant.ready.wait()  # real values on the server before anyone subscribes
        sparkplug = plant._sparkplug is not None
        opcua_machines = MACHINES[:-1] if sparkplug else MACHINES
        configs: list[tuple[str, list[Binding], dict[str, Any]]] = [
            (endpoint, demo_bindings(opcua_machines, DEMO_QUANTITIES), {})
        ]
        edge = plant._sparkplug
        if edge is not None:
            spb = [
                Binding(
                    f"{m}.{q}",
                    f"{plant.group}/{plant.node}/{m}:{q}",
                    _data_type(q),
                    m,
                )
                for m in MACHINES[-1:]
                for q in DEMO_QUANTITIES
            ]
            configs.append((f"spb://{edge.address}", spb, {"host_id": "werk-demo"}))
        publish = ingest_publisher(runtime.ingest)
        running = []
        for url, bindings, options in configs:
            name = "demo-" + url.split(":", 1)[0].replace(".", "")
            connector = connectors.open(url, ConnectorConfig(name, tuple(bindings), options))
            running.append((connector, Outlet(publish(name), connector.stats)))
            log.info("demo: connector %s reads the virtual plant at %s", name, url)
        demo_set = ConnectorSet(running)
        if runtime.connectors is None:
            runtime.connectors = demo_set
        tasks.append(asyncio.create_task(demo_set.run(), name="demo.connectors"))
        # The built-in feed goes on until every connector has delivered, so no signal goes stale
        # in the handover (for a moment both write: a second of the two generators interleaved).
        deadline = time.monotonic() + HANDOVER_S
        while time.monotonic() < deadline and not all(c.stats.samples for c, _ in running):
            await asyncio.sleep(0.1)
        feed.cancel()
        await asyncio.gather(feed, return_exceptions=True)
        tasks.remove(feed)
        await asyncio.gather(*tasks)
    finally:
        for task in reversed(tasks):  # the connectors go before the plant they read
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        RUNNING.discard(plant)

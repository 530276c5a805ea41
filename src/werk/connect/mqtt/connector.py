"""``mqtt://`` — plain MQTT with JSON payloads: the thin shell around the session and the codec.

The loop is the whole promise: take the messages received so far, decode them into one batch
(:mod:`~werk.connect.mqtt.mapping`), ``await outlet.deliver(batch)`` — committed to the store or
spooled to disk — and only then acknowledge them to the broker. A crash anywhere before the
acknowledgement leaves the broker holding the messages (persistent session) and it delivers them
again; the store keeps one sample per (signal, timestamp), so a redelivery is stored once.

Options (werk.toml ``[connectors.options]``)::

    qos = 1                  # subscription QoS: 1 (default) acknowledged after commit, or 0
    client_id = "werk-line1" # default "werk-<connector name>"; keep it stable: it names the session
    persistent = true        # broker keeps the session (and queues QoS 1) while werk is away
    protocol = "5"           # default with qos = 1, "3.1.1" with qos = 0 (see below)
    keepalive_s = 30
    session_expiry_s = 604800  # MQTT 5: how long the broker keeps the session
    max_batch = 5000         # messages decoded and delivered at once, at most
    skip_retained = false    # refuse retained messages (old values stamped with arrival time)
    signals = []             # signals routes may produce besides the plant file's
    write_topic = "{topic}/set"  # enables writes: where a setpoint for a bound signal goes
    [[connectors.options.routes]] ...   # see werk.connect.mqtt.mapping

Why MQTT 5 by default for QoS 1: a message is acknowledged only after its batch is committed, so
the number of messages the broker lets be unacknowledged at once bounds the throughput. MQTT 5
lets the client say (Receive Maximum, sent as 65535); with 3.1.1 the broker decides, and Mosquitto's
default ``max_inflight_messages 20`` allows 20 messages per commit. With QoS 0 nothing waits for
an acknowledgement, and 3.1.1 saves the properties field of every message.

Health: a lost connection marks every signal this connector has delivered (and every bound one)
``BAD`` once; the next good message restores it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, Literal, cast

from werk.connect.base import Binding, ConnectError, ConnectorConfig
from werk.connect.mqtt.mapping import TopicMap
from werk.connect.mqtt.session import MqttSession
from werk.connect.outlet import Outlet
from werk.connect.stats import ConnectorStats
from werk.core import ConfigError, Quality

log = logging.getLogger(__name__)

OPTIONS = {
    "qos",
    "client_id",
    "persistent",
    "protocol",
    "keepalive_s",
    "session_expiry_s",
    "max_batch",
    "skip_retained",
    "signals",
    "write_topic",
    "routes",
}


def _bound_topics(bindings: tuple[Binding, ...]) -> dict[str, str]:
    topics: dict[str, str] = {}
    for binding in bindings:
        other = topics.setdefault(binding.address, binding.signal)
        if other != binding.signal:
            raise ConfigError(
                f"signals {other} and {binding.signal} are both bound to MQTT topic "
                f"{binding.address!r}; a topic carries one signal (use a route with values = "
                '"$" for a payload with many)'
            )
    return topics


class MqttConnector:
    """Subscribe, decode, deliver, then acknowledge (see the module doc)."""

    def __init__(self, url: str, config: ConnectorConfig) -> None:
        options: Mapping[str, Any] = config.options
        unknown = sorted(set(options) - OPTIONS)
        if unknown:
            raise ConfigError(
                f"connector {config.name}: unknown MQTT option(s) {', '.join(unknown)} "
                f"(known: {', '.join(sorted(OPTIONS))})"
            )
        self.url = url
        self.name = config.name
        self.stats = ConnectorStats(config.name)
        self.bindings = config.bindings
        qos = options.get("qos", 1)
        if qos not in (0, 1):
            raise ConfigError(f"connector {config.name}: qos must be 0 or 1, not {qos!r}")
        self.qos = int(qos)
        protocol = str(options.get("protocol", "5" if self.qos else "3.1.1"))
        if protocol not in ("3.1.1", "5"):
            raise ConfigError(f"connector {config.name}: protocol must be '3.1.1' or '5'")
        self.protocol = cast(Literal["3.1.1", "5"], protocol)
        self.client_id = str(options.get("client_id") or f"werk-{config.name}")
        self.persistent = bool(options.get("persistent", True))
        self.keepalive_s = float(options.get("keepalive_s", 30))
        self.session_expiry_s = int(options.get("session_expiry_s", 7 * 86_400))
        self.max_batch = int(options.get("max_batch", 5000))
        self.write_topic: str | None = options.get("write_topic")
        self.topics = _bound_topics(config.bindings)
        self.map = TopicMap.from_options(options, self.topics, known=options.get("signals", ()))
        self.subscriptions = self.map.subscriptions(self.qos)
        if not self.subscriptions:
            raise ConfigError(
                f"connector {config.name}: nothing to subscribe to — give routes in "
                "[[connectors.options.routes]] or bind plant signals with source = { mqtt = ... }"
            )
        self._seen: set[str] = set()
        self._session: MqttSession | None = None

    async def run(self, outlet: Outlet) -> None:
        async def lost(reason: str) -> None:
            await outlet.mark(self._signals(), Quality.BAD)

        session = MqttSession(
            self.url,
            client_id=self.client_id,
            subscriptions=self.subscriptions,
            stats=self.stats,
            persistent=self.persistent,
            keepalive_s=self.keepalive_s,
            on_disconnect=lost,
            protocol=self.protocol,
            session_expiry_s=self.session_expiry_s,
        )
        decode, stats, seen = self.map.decode, self.stats, self._seen
        async with session:
            self._session = session
            try:
                async for messages in session.batches(self.max_batch):
                    stats.messages += len(messages)
                    decoded = decode(messages)
                    for reason, count in decoded.rejected.items():
                        stats.reject(reason, count, decoded.examples[reason])
                    batch = decoded.batch
                    if len(batch):
                        seen.update(batch.names)
                        await outlet.deliver(batch)
                    session.ack(messages)  # only now: committed or spooled
            finally:
                self._session = None

    def _signals(self) -> list[str]:
        return [*(b.signal for b in self.bindings), *sorted(self._seen)]

    async def write(self, binding: Binding, value: float | int | bool | str) -> None:
        """Publish a setpoint for a bound signal as ``{"value": v, "timestamp": ns}`` to
        ``write_topic`` (``{topic}`` is the signal's topic), QoS 1: returns once the broker has
        it."""
        if self.write_topic is None:
            raise ConnectError(
                f"connector {self.name} is read-only: set options.write_topic (e.g. "
                '"{topic}/set") to write to MQTT'
            )
        session = self._session
        if session is None or not session.connected:
            raise ConnectError(f"connector {self.name} is not connected to its broker")
        import json

        topic = self.write_topic.format(topic=binding.address, signal=binding.signal)
        payload = json.dumps({"value": value, "timestamp": time.time_ns()}).encode()
        await session.publish(topic, payload, qos=1)
        log.info("%s: wrote %r to %s (%s)", self.name, value, binding.signal, topic)

"""The Sparkplug B connector (``spb://host:1883``): werk as the primary host application.

A thin shell: :class:`~werk.connect.mqtt.MqttSession` owns the connection (reconnects with
backoff, batches, acknowledgements), :class:`~werk.connect.sparkplug.host.SparkplugHost` owns the
Sparkplug state; this module joins them to the outlet and keeps the host's STATE:

- the MQTT will is ``spBv1.0/STATE/<host_id>`` ``{"online": false, "timestamp": t}``, retained,
  QoS 1, with ``t`` fresh for every connection;
- on every connection werk first subscribes to its own STATE topic only, then publishes
  ``{"online": true, "timestamp": t}`` (the same ``t``) retained at QoS 1, and only once the
  broker acknowledged that subscribes to ``spBv1.0/<group>/#`` (Sparkplug 3.0 wants STATE before
  data, so edge nodes that wait for their primary host see it online first);
- an ``online: false`` on its own topic that is not older than the current connection (another
  client, or a late will) is answered by publishing ``online: true`` again;
- a clean stop publishes ``online: false`` itself (a clean disconnect does not fire the will).

Data: every batch of messages from the session goes through the host into one sample batch,
delivered to the outlet, and only then acknowledged; rebirth requests are published as NCMDs
after that. A lost connection marks every bound signal ``BAD`` and forgets all births (nodes are
asked to rebirth when their data arrives again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

from werk.connect.base import Binding, ConnectError, ConnectorConfig
from werk.connect.mqtt.packets import Received
from werk.connect.mqtt.session import MqttSession, Will
from werk.connect.outlet import Outlet
from werk.connect.sparkplug.codec import (
    NAMESPACE,
    MessageType,
    SparkplugError,
    parse_state,
    rebirth_payload,
    state_payload,
    topic,
)
from werk.connect.sparkplug.host import SparkplugHost
from werk.connect.stats import ConnectorStats
from werk.core import ConfigError, Quality

log = logging.getLogger(__name__)

OPTIONS = {
    "host_id": "the primary host id: STATE goes to spBv1.0/STATE/<host_id> (default werk)",
    "groups": "Sparkplug group ids to subscribe to (default all: ['+'])",
    "client_id": "MQTT client id (default werk-<host_id>)",
    "qos": "subscription QoS for data, 0 or 1 (default 1)",
    "persistent": "keep an MQTT session while away (default false: Sparkplug 3.0 hosts use clean"
    " sessions and rely on rebirths)",
    "protocol": "MQTT protocol version, '3.1.1' or '5' (default '3.1.1')",
    "keepalive_s": "MQTT keep-alive in seconds (default 30)",
    "bind_all": "record metrics no plant-file signal binds as <device or node>.<metric>",
    "rebirth_interval_s": "at most one rebirth request per node within this time (default 10)",
    "max_messages": "messages per delivered batch at most (default 5000)",
    "max_delay_ms": "how long a lone message may wait for companions (default 50)",
}


def _ms() -> int:
    return time.time_ns() // 1_000_000


def _check_id(kind: str, value: str) -> str:
    if not value or any(c in value for c in "/+#"):
        raise ConfigError(f"Sparkplug {kind} {value!r}: needs a name without /, + or #")
    return value


class SparkplugConnector:
    def __init__(self, url: str, config: ConnectorConfig) -> None:
        options: Mapping[str, Any] = config.options
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise ConfigError(
                f"connector {config.name}: unknown Sparkplug options {', '.join(unknown)} "
                f"(known: {', '.join(OPTIONS)})"
            )
        self.url = url
        self.name = config.name
        self.stats = ConnectorStats(config.name)
        self.bindings: tuple[Binding, ...] = tuple(config.bindings)
        self.host_id = _check_id("host_id", str(options.get("host_id", "werk")))
        groups = options.get("groups", ["+"])
        groups = [groups] if isinstance(groups, str) else list(groups)
        self.groups = [g if g == "+" else _check_id("group", str(g)) for g in groups]
        self.client_id = str(options.get("client_id") or f"werk-{self.host_id}")
        self.qos = int(options.get("qos", 1))
        if self.qos not in (0, 1):
            raise ConfigError(f"connector {config.name}: qos {self.qos}: use 0 or 1")
        self.persistent = bool(options.get("persistent", False))
        self.protocol = str(options.get("protocol", "3.1.1"))
        if self.protocol not in ("3.1.1", "5"):
            raise ConfigError(
                f"connector {config.name}: protocol {self.protocol!r}: '3.1.1' or '5'"
            )
        self.keepalive_s = float(options.get("keepalive_s", 30))
        self.max_messages = int(options.get("max_messages", 5000))
        self.max_delay_s = float(options.get("max_delay_ms", 50)) / 1000
        self.host = SparkplugHost(
            self.bindings,
            self.stats,
            bind_all=bool(options.get("bind_all", False)),
            rebirth_interval_s=float(options.get("rebirth_interval_s", 10.0)),
        )
        self.state_topic = topic(MessageType.STATE, "", self.host_id)
        self.stats.extra.setdefault("commands", 0)
        self._session: MqttSession | None = None
        self._outlet: Outlet | None = None
        self._announcing: asyncio.Task[None] | None = None  # STATE online, then subscribe
        self._restating: asyncio.Task[None] | None = None  # STATE online again, when overwritten
        self._known: tuple[tuple[str, str], ...] = ()  # nodes to ask for births on reconnect
        self._online_ms = _ms()  # the STATE timestamp of the current (or next) connection

    # -- the connector protocol ------------------------------------------------------------------

    async def run(self, outlet: Outlet) -> None:
        self._outlet = outlet
        session = MqttSession(
            self.url,
            client_id=self.client_id,
            subscriptions=[(self.state_topic, 1)],
            stats=self.stats,
            persistent=self.persistent,
            keepalive_s=self.keepalive_s,
            will=self._will,
            on_connect=self._on_connect,
            on_disconnect=self._on_disconnect,
            protocol="5" if self.protocol == "5" else "3.1.1",  # checked above; typed here
        )
        self._session = session
        try:
            async with session:
                try:
                    async for messages in session.batches(self.max_messages, self.max_delay_s):
                        await self._handle(session, outlet, messages)
                finally:
                    if self._announcing is not None:
                        self._announcing.cancel()
                    await self._goodbye(session)
        finally:
            self._session = None

    async def write(self, binding: Binding, value: float | int | bool | str) -> None:
        """Send an NCMD/DCMD setting the bound metric (the next DATA confirms it)."""
        session = self._session
        if session is None or not session.connected:
            raise ConnectError(f"{self.name}: not connected to the broker")
        command_topic, payload = self.host.command(binding, value, _ms())
        await session.publish(command_topic, payload, qos=0)
        self.stats.extra["commands"] += 1

    # -- data ------------------------------------------------------------------------------------

    async def _handle(self, session: MqttSession, outlet: Outlet, messages: list[Received]) -> None:
        receive = self.host.receive
        own = self.state_topic
        for message in messages:
            if message.topic == own:
                self._own_state(message.payload)
                continue
            receive(message.topic, message.payload, message.received_ns)
        self.stats.messages += len(messages)
        output = self.host.take()
        if len(output.batch):
            await outlet.deliver(output.batch)
        session.ack(messages)
        for group, node in output.rebirths:
            await self._request_rebirth(session, group, node)

    async def _request_rebirth(self, session: MqttSession, group: str, node: str) -> None:
        try:
            await session.publish(topic(MessageType.NCMD, group, node), rebirth_payload(_ms()))
        except ConnectError as error:  # disconnected: data after the reconnect asks again
            log.info("%s: rebirth request to %s/%s not sent: %s", self.name, group, node, error)

    # -- STATE -----------------------------------------------------------------------------------

    def _will(self) -> Will:
        # Called before every connection attempt (from the MQTT thread): the timestamp it puts in
        # the will is the one the online STATE of that connection repeats.
        self._online_ms = _ms()
        return (self.state_topic, state_payload(False, self._online_ms), 1, True)

    async def _on_connect(self) -> None:
        session = self._session
        if session is None:
            return
        # In a task: the session runs this callback on the task that also resolves publish
        # acknowledgements, so waiting for the STATE's PUBACK here would wait forever.
        if self._announcing is not None:
            self._announcing.cancel()
        self._announcing = asyncio.create_task(self._announce(session), name=f"{self.name}.state")
        self._announcing.add_done_callback(_log_failure)

    async def _announce(self, session: MqttSession) -> None:
        await session.publish(
            self.state_topic, state_payload(True, self._online_ms), qos=1, retain=True
        )
        await session.subscribe([(f"{NAMESPACE}/{g}/#", self.qos) for g in self.groups])
        log.info("%s: primary host %s online", self.name, self.host_id)
        # Nodes alive before the connection was lost: their births and deaths meanwhile were
        # missed, so ask them now rather than when their next data happens to come.
        known, self._known = self._known, ()
        self.host.ask_rebirth(known, time.time_ns(), "reconnected")
        for group, node in self.host.take_rebirths():
            await self._request_rebirth(session, group, node)

    async def _on_disconnect(self, reason: str) -> None:
        self._known = self.host.reset()
        if self._outlet is not None and self.host.bound_signals:
            await self._outlet.mark(self.host.bound_signals, Quality.BAD)

    def _own_state(self, payload: bytes) -> None:
        try:
            state = parse_state(payload)
        except SparkplugError as error:
            self.stats.reject("malformed", 1, f"{self.state_topic}: {error}")
            return
        session = self._session
        if state.online or state.timestamp_ms < self._online_ms or session is None:
            return  # ours, or an older session's will
        log.warning("%s: STATE of %s was set offline by another client", self.name, self.host_id)
        if self._restating is None or self._restating.done():
            self._restating = asyncio.create_task(
                session.publish(
                    self.state_topic, state_payload(True, self._online_ms), qos=1, retain=True
                )
            )
            self._restating.add_done_callback(_log_failure)

    async def _goodbye(self, session: MqttSession) -> None:
        if not session.connected:
            return  # the will says it (or said it) already
        with contextlib.suppress(ConnectError, TimeoutError):
            await asyncio.wait_for(
                session.publish(
                    self.state_topic, state_payload(False, self._online_ms), qos=1, retain=True
                ),
                2.0,
            )


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("publishing the STATE failed: %s", task.exception())

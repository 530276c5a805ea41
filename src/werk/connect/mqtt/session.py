"""One MQTT connection shared by the plain-MQTT and the Sparkplug connectors.

werk speaks MQTT itself on the event loop (:mod:`werk.connect.mqtt.packets` says why: paho-mqtt
cost 35-45 µs of interpreter time a message). How the session is shaped:

- **Batches.** The connection's ``data_received`` splits what arrived into messages and appends
  them to a deque; :meth:`MqttSession.batches` yields lists of :class:`Received`: whatever
  arrived while the consumer was busy delivering the previous list, so batches grow with the
  load and latency stays at one delivery. Past ``max_waiting`` messages not yet taken, reading
  pauses (TCP pushes back to the broker) until the consumer catches up.
- **Acknowledged only when safe.** A QoS 1 message is acknowledged (PUBACK) only when the
  consumer calls :meth:`MqttSession.ack`, after its batch was committed or spooled. A crash before
  that leaves the message unacknowledged at the broker, which redelivers it on the next
  connection.
- **Persistent sessions.** With ``persistent=True`` (the default) the client connects with
  ``clean_session=False`` (MQTT 3.1.1) or ``clean_start=False`` and a session expiry (MQTT 5)
  under a stable client id, so the broker keeps subscriptions and queues QoS 1 messages while werk
  is away. (How many it queues is the broker's setting — Mosquitto's ``max_queued_messages``
  defaults to 1000.) MQTT 5 connections also send Receive Maximum 65535, so that acknowledging
  after each commit does not throttle the broker to a few messages at a time.
- **Stale acknowledgements are dropped.** A packet id is only meaningful on the connection that
  delivered it; after a reconnect the broker may reuse it for another message. Every message
  carries the ``generation`` of its connection and :meth:`ack` skips older ones (the broker
  redelivers those and the store drops the duplicate), so an acknowledgement never lands on a
  message that was not committed.
- **Own publishes survive reconnects.** A QoS 1 publish is kept until the broker acknowledges it
  and sent again (DUP) after a reconnect.
- **Reconnects forever** with exponential backoff, state reported through
  ``stats.connected()`` / ``stats.disconnected()``; ``on_connect`` is awaited after each
  (re)connection once its subscriptions are granted (the Sparkplug host publishes STATE there),
  ``on_disconnect`` on each lost connection (connectors mark their signals BAD). Keep-alive:
  PINGREQ when nothing was sent for half the keep-alive, and the connection is given up when
  nothing came from the broker for 1.5 keep-alives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from werk.connect.base import ConnectError
from werk.connect.mqtt import packets
from werk.connect.mqtt.packets import ProtocolError, Received
from werk.connect.stats import ConnectorStats
from werk.core import ConfigError

log = logging.getLogger(__name__)

Will = tuple[str, bytes, int, bool]  # topic, payload, qos, retain
TLS_SCHEMES = {"mqtts", "spbs", "ssl", "tls"}
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where and how to connect, from ``mqtt://user:password@host:1883?tls=1&ca=/path/ca.pem``."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        tls = parts.scheme.lower() in TLS_SCHEMES or query.get("tls", "").lower() in _TRUE
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError as error:
            raise ConfigError(f"{url!r}: the port is not a number") from error
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
            ca_file=query.get("ca"),
        )

    def __str__(self) -> str:  # never the password
        return f"{self.host}:{self.port}"


CONNECT_TIMEOUT_S = 10.0
MAX_WAITING = 100_000
"""Messages received and not yet taken by :meth:`MqttSession.batches` before reading pauses."""


class MqttSession:
    """An MQTT 3.1.1 or 5 client on the event loop; messages reach the consumer in batches.

    Use as ``async with MqttSession(url, client_id=..., subscriptions=[...], stats=stats) as s:``
    then ``async for messages in s.batches(): ...; s.ack(messages)``. Entering does not wait for
    the broker: the session keeps trying in the background and ``batches`` simply waits.
    """

    def __init__(
        self,
        url: str,
        *,
        client_id: str,
        subscriptions: Sequence[tuple[str, int]],
        stats: ConnectorStats,
        persistent: bool = True,
        keepalive_s: float = 30,
        will: Will | Callable[[], Will | None] | None = None,
        on_connect: Callable[[], Awaitable[None]] | None = None,
        on_disconnect: Callable[[str], Awaitable[None]] | None = None,
        protocol: Literal["3.1.1", "5"] = "3.1.1",
        session_expiry_s: int = 7 * 86_400,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 30.0,
        max_waiting: int = MAX_WAITING,
    ) -> None:
        if protocol not in ("3.1.1", "5"):
            raise ConfigError(f"MQTT protocol {protocol!r}: use '3.1.1' or '5'")
        if not client_id:
            raise ConfigError("an MQTT session needs a client id (a stable one when persistent)")
        self.address = BrokerAddress.parse(url)
        self.client_id = client_id
        self.subscriptions = [(topic, int(qos)) for topic, qos in subscriptions]
        for topic_filter, _ in self.subscriptions:
            try:
                packets.check_filter(topic_filter)
            except ValueError as error:
                raise ConfigError(f"MQTT subscription: {error}") from None
        self.stats = stats
        self.persistent = persistent
        self.keepalive_s = max(1, round(keepalive_s))
        self.protocol = protocol
        self.v5 = protocol == "5"
        self.session_expiry_s = session_expiry_s
        self.max_waiting = max_waiting
        self._will = will
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._reconnect = (reconnect_min_s, reconnect_max_s)

        self._wire: _Wire | None = None
        self._runner: asyncio.Task[None] | None = None
        self._inbox: deque[Received] = deque()
        self._wake = asyncio.Event()
        self._generation = 1  # bumped whenever a connection ends
        self._last_mid = 0
        # our QoS 1 publishes until the broker acknowledges them: packet, waiter, sent before
        self._outgoing: dict[int, tuple[bytes, asyncio.Future[None], bool]] = {}
        self._subscribing: dict[int, asyncio.Future[list[int]]] = {}
        self._connected = asyncio.Event()
        self._disconnected = asyncio.Event()
        self.session_present = False
        self._closing = False

    # -- life cycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> MqttSession:
        self._closing = False
        self._runner = asyncio.create_task(self._run(), name=f"{self.stats.name}.mqtt")
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Disconnect cleanly (the broker keeps a persistent session): acknowledgements written
        so far go out first."""
        self._closing = True  # what follows is no lost connection
        wire = self._wire
        if wire is not None and not wire.closed.done():
            if self._connected.is_set():
                wire.write(packets.DISCONNECT_PACKET)
            wire.close()  # after what is buffered has been sent
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await asyncio.shield(wire.closed)
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        self._connected.clear()
        closed = ConnectError("the MQTT session closed before the broker acknowledged")
        self._fail_waiting(closed, publishes=True)

    # -- state -----------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def generation(self) -> int:
        """The number of the current connection (changes on every disconnect)."""
        return self._generation

    async def wait_connected(self) -> None:
        """Return once connected (at once if connected now) — subscriptions granted."""
        await self._connected.wait()

    async def wait_disconnected(self) -> None:
        """Return once the connection is lost (at once if not connected now)."""
        await self._disconnected.wait()

    # -- messages --------------------------------------------------------------------------------

    async def batches(
        self, max_messages: int = 5000, max_delay_s: float = 0.05
    ) -> AsyncIterator[list[Received]]:
        """Yield the messages received so far, up to ``max_messages`` at a time, in arrival order.

        A list is yielded as soon as anything is waiting: while the consumer works on one list the
        next one fills, so under load lists grow by themselves and no message waits longer than
        one delivery. ``max_delay_s`` bounds the extra wait for companions when the first message
        of a list arrives alone while the flow is still going (a few ms at most in practice).
        """
        inbox = self._inbox
        linger = max(0.0, min(max_delay_s, 0.002))
        while True:
            if not inbox:
                self._wake.clear()
                await self._wake.wait()
                continue
            if linger and len(inbox) < 2:
                # a lone message: give the burst it may belong to a moment to arrive
                await asyncio.sleep(linger)
            if len(inbox) <= max_messages:
                batch = list(inbox)
                inbox.clear()
            else:
                popleft = inbox.popleft
                batch = [popleft() for _ in range(max_messages)]
            wire = self._wire
            if wire is not None and wire.paused and len(inbox) < self.max_waiting // 2:
                wire.resume()
            yield batch

    def ack(self, received: Iterable[Received]) -> None:
        """Acknowledge QoS 1 messages (PUBACK) of the current connection; call only after their
        samples are committed or spooled. Messages of an earlier connection are skipped: the
        broker redelivers them."""
        wire = self._wire
        if wire is None:
            return
        generation = self._generation
        puback = packets.puback
        data = b"".join([puback(m.mid) for m in received if m.qos and m.generation == generation])
        if data:
            wire.write(data)

    async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        """Publish; for QoS 1 return once the broker acknowledged (kept, and sent again after a
        reconnect, until then). QoS 0 while disconnected raises :class:`ConnectError`."""
        if self._runner is None:
            raise ConnectError("the MQTT session is not open")
        mid = self._new_mid() if qos else 0
        try:
            packet = packets.publish(topic, payload, qos=qos, retain=retain, mid=mid, v5=self.v5)
        except ValueError as error:
            raise ConnectError(f"MQTT publish to {topic!r} failed: {error}") from None
        wire = self._wire if self._connected.is_set() else None
        if not qos:
            if wire is None:
                raise ConnectError(f"MQTT publish to {topic!r}: not connected to {self.address}")
            wire.write(packet)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._outgoing[mid] = (packet, waiter, wire is not None)
        if wire is not None:
            wire.write(packet)  # else it goes out when the connection is back
        try:
            await waiter
        finally:
            self._outgoing.pop(mid, None)

    async def subscribe(self, subscriptions: Sequence[tuple[str, int]]) -> None:
        """Subscribe on the current connection; return once the broker granted it.

        Unlike the constructor's ``subscriptions`` these are not renewed on a reconnect: call
        again from ``on_connect`` (the Sparkplug host publishes STATE before subscribing to data
        this way). Raises :class:`ConnectError` when refused or when the connection drops first.
        """
        wire = self._wire if self._connected.is_set() else None
        if wire is None:
            raise ConnectError(f"MQTT subscribe: not connected to {self.address}")
        wanted = [(topic, int(qos)) for topic, qos in subscriptions]
        refused = await self._subscribe(wire, wanted)
        if refused:
            raise ConnectError(f"the broker refused subscriptions to {refused}")

    async def _subscribe(self, wire: _Wire, wanted: list[tuple[str, int]]) -> list[str]:
        mid = self._new_mid()
        try:
            packet = packets.subscribe(mid, wanted, self.v5)
        except ValueError as error:
            raise ConnectError(f"MQTT subscribe to {wanted}: {error}") from None
        waiter: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        self._subscribing[mid] = waiter
        wire.write(packet)
        try:
            codes = await waiter
        finally:
            self._subscribing.pop(mid, None)
        return [topic for (topic, _), code in zip(wanted, codes, strict=False) if code >= 0x80]

    def _new_mid(self) -> int:
        for _ in range(65535):
            self._last_mid = self._last_mid % 65535 + 1
            if self._last_mid not in self._outgoing and self._last_mid not in self._subscribing:
                return self._last_mid
        raise ConnectError("65,535 publishes and subscriptions already wait for the broker")

    # -- the connection --------------------------------------------------------------------------

    async def _run(self) -> None:
        """Connect, serve the connection until it ends, wait, connect again; until closed."""
        low, high = self._reconnect
        delay = low
        while not self._closing:
            was_up = await self._serve()
            if self._closing:
                return
            delay = low if was_up else min(high, delay * 2)
            await asyncio.sleep(delay)

    async def _serve(self) -> bool:
        """One connection from attempt to end; True when it got as far as connected."""
        try:
            wire = await self._open()
        except (OSError, TimeoutError, ProtocolError, ConnectError) as error:
            await self._lost(f"cannot connect to {self.address}: {_why(error)}")
            return False
        reason = await self._established(wire)
        if reason is not None:  # refused, or lost before the subscriptions were granted
            wire.abort(reason)
            await self._lost(reason)
            return False
        keepalive = asyncio.create_task(self._keepalive(wire), name=f"{self.stats.name}.ping")
        try:
            reason = await asyncio.shield(wire.closed)
        finally:
            keepalive.cancel()
        await self._lost(f"{reason} ({self.address})")
        return True

    async def _open(self) -> _Wire:
        loop = asyncio.get_running_loop()
        context = None
        if self.address.tls:
            context = ssl.create_default_context(cafile=self.address.ca_file)
        wire = _Wire(self, self._generation, loop)
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            await loop.create_connection(
                lambda: wire,
                self.address.host,
                self.address.port,
                ssl=context,
                server_hostname=self.address.host if context is not None else None,
            )
        self._wire = wire
        will = self._will() if callable(self._will) else self._will
        wire.write(
            packets.connect(
                self.client_id,
                clean=not self.persistent,
                keepalive_s=self.keepalive_s,
                v5=self.v5,
                username=self.address.username,
                password=self.address.password,
                will=will,
                session_expiry_s=self.session_expiry_s if self.v5 and self.persistent else 0,
            )
        )
        return wire

    async def _established(self, wire: _Wire) -> str | None:
        """Wait for CONNACK and the subscriptions; None once connected, else why not."""
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                ack = await asyncio.shield(wire.connack)
                if ack.refused:
                    return f"the broker refused the connection: {ack.refused}"
                self.session_present = ack.session_present
                if self.subscriptions:
                    refused = await self._subscribe(wire, self.subscriptions)
                    if refused:
                        log.error(
                            "%s: the broker refused subscriptions to %s", self.stats.name, refused
                        )
        except (TimeoutError, ConnectError, ProtocolError) as error:
            return f"no answer from {self.address}: {_why(error)}"
        for mid, (packet, waiter, sent) in list(self._outgoing.items()):
            if not waiter.done():
                wire.write(packets.as_duplicate(packet) if sent else packet)
                self._outgoing[mid] = (packet, waiter, True)
        if self.persistent and not self.session_present and self.stats.reconnects:
            log.warning(
                "%s: the broker had no session for %s: messages queued while away are lost",
                self.stats.name,
                self.client_id,
            )
        self.stats.connected()
        self._disconnected.clear()
        self._connected.set()
        await self._callback(self._on_connect)
        return None

    async def _keepalive(self, wire: _Wire) -> None:
        period = float(self.keepalive_s)
        while not wire.closed.done():
            await asyncio.sleep(period / 4)
            now = time.monotonic()
            # while reading is paused (the consumer is behind) the silence is ours, not the broker's
            if not wire.paused and now - wire.last_received > 1.5 * period:
                wire.abort(f"nothing from the broker for {1.5 * period:g} s (keep-alive)")
                return
            if now - wire.last_sent >= period / 2:
                wire.write(packets.PINGREQ_PACKET)

    async def _lost(self, reason: str) -> None:
        self._connected.clear()
        if self._closing:
            return
        self._disconnected.set()
        if self.stats.disconnected(reason) and self._on_disconnect is not None:
            await self._callback(self._on_disconnect, reason)

    # -- called by the connection ----------------------------------------------------------------

    def _arrived(self, messages: list[Received], wire: _Wire) -> None:
        inbox = self._inbox
        inbox.extend(messages)
        self._wake.set()
        if len(inbox) > self.max_waiting and not wire.paused:
            wire.pause()  # TCP's window closes: the broker holds on (QoS 1) or drops (QoS 0)

    def _closed(self, wire: _Wire) -> None:
        """The connection ended: its messages can no longer be acknowledged."""
        if wire is not self._wire:
            return
        self._wire = None
        self._generation += 1
        self._connected.clear()
        self._fail_waiting(ConnectError("the connection to the MQTT broker was lost"))

    def _control(self, control: packets.Control, wire: _Wire) -> None:
        kind, body = control.kind, control.body
        if kind == packets.PUBACK:
            entry = self._outgoing.get(packets.packet_id(body))
            if entry is not None and not entry[1].done():
                failure = packets.puback_failure(body) if self.v5 else None
                if failure is None:
                    entry[1].set_result(None)
                else:
                    entry[1].set_exception(ConnectError(f"the broker refused a publish: {failure}"))
        elif kind == packets.SUBACK:
            mid, codes = packets.suback(body, self.v5)
            waiter = self._subscribing.get(mid)
            if waiter is not None and not waiter.done():
                waiter.set_result(codes)
        elif kind == packets.CONNACK:
            if not wire.connack.done():
                wire.connack.set_result(packets.connack(body, self.v5))
        elif kind == packets.PINGRESP:
            pass  # its arrival is what counts (last_received)
        elif kind == packets.DISCONNECT:
            wire.abort(packets.disconnect_reason(body))
        else:
            wire.abort(f"unexpected MQTT packet type {kind} from the broker")

    def _fail_waiting(self, error: BaseException, publishes: bool = False) -> None:
        # QoS 1 publishes wait across reconnects (sent again); subscriptions do not
        waiters: list[asyncio.Future[Any]] = list(self._subscribing.values())
        if publishes:
            waiters += [waiter for _, waiter, _ in self._outgoing.values()]
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(error)

    async def _callback(self, callback: Callable[..., Awaitable[None]] | None, *args: Any) -> None:
        if callback is None:
            return
        try:
            await callback(*args)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: MQTT session callback failed", self.stats.name)


class _Wire(asyncio.Protocol):
    """One TCP (or TLS) connection: bytes in, split into packets for the session."""

    def __init__(self, session: MqttSession, generation: int, loop: asyncio.AbstractEventLoop):
        self.session = session
        self.generation = generation
        self.v5 = session.v5
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[str] = loop.create_future()
        """Resolves with why the connection ended."""
        self.connack: asyncio.Future[packets.ConnAck] = loop.create_future()
        self.last_received = self.last_sent = time.monotonic()
        self.paused = False
        self._pending: list[bytes] = []  # the start of a packet not yet complete
        self._pending_size = 0
        self._needed = 0  # bytes that packet has in all (0: its header is not complete yet)
        self._next_ns = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.last_received = time.monotonic()
        if self._pending:
            self._pending.append(data)
            self._pending_size += len(data)
            if self._pending_size < self._needed:
                return  # a large packet still arriving: no need to look again
            data = b"".join(self._pending)
            self._pending.clear()
        stamp = max(time.time_ns(), self._next_ns)  # arrival times never repeat or go back
        try:
            messages, controls, used = packets.parse(data, self.v5, stamp, self.generation)
        except ProtocolError as error:
            self.abort(f"the broker sent something that is not MQTT: {error}")
            return
        if used < len(data):
            rest = data[used:]
            self._pending.append(rest)
            self._pending_size = len(rest)
            self._needed = packets.packet_size(rest)
        if messages:
            self._next_ns = stamp + len(messages)
            self.session._arrived(messages, self)
        for control in controls:
            self.session._control(control, self)

    def connection_lost(self, error: Exception | None) -> None:
        self._end(_why(error) if error else "the broker closed the connection")

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed.done():
            self.transport.write(data)
            self.last_sent = time.monotonic()

    def pause(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()
            self.paused = True

    def resume(self) -> None:
        if self.transport is not None and self.paused:
            self.paused = False
            self.last_received = time.monotonic()  # the keep-alive's clock starts again
            self.transport.resume_reading()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def abort(self, reason: str) -> None:
        self._end(reason)
        if self.transport is not None:
            self.transport.abort()

    def _end(self, reason: str) -> None:
        if not self.closed.done():
            self.closed.set_result(reason)
        if not self.connack.done():
            self.connack.set_exception(ConnectError(reason))
            self.connack.exception()  # retrieved: nobody may be waiting any more
        self.session._closed(self)


def _why(error: BaseException | None) -> str:
    return (str(error) or type(error).__name__) if error is not None else "unknown"

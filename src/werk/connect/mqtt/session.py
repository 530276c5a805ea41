"""One MQTT connection shared by the plain-MQTT and the Sparkplug connectors.

paho-mqtt runs the socket on its own network thread (``loop_start``); this module is the bridge to
asyncio. Why it is shaped like this:

- **Cheap hand-off.** paho's thread appends each message to a deque and wakes the event loop once
  per burst, not once per message (``call_soon_threadsafe`` costs several microseconds, and 20k
  messages a second would spend a core on wake-ups). :meth:`MqttSession.batches` yields lists of
  :class:`Received`: whatever arrived while the consumer was busy delivering the previous list,
  so batches grow with the load and latency stays at one delivery.
- **Acknowledged only when safe.** paho runs with ``manual_ack=True``: a QoS 1 message is
  acknowledged (PUBACK) only when the consumer calls :meth:`MqttSession.ack`, after its batch was
  committed or spooled. A crash before that leaves the message unacknowledged at the broker, which
  redelivers it on the next connection.
- **Persistent sessions.** With ``persistent=True`` (the default) the client connects with
  ``clean_session=False`` (MQTT 3.1.1) or ``clean_start=False`` and a session expiry (MQTT 5)
  under a stable client id, so the broker keeps subscriptions and queues QoS 1 messages while werk
  is away. (How many it queues is the broker's setting — Mosquitto's ``max_queued_messages``
  defaults to 1000.)
- **Stale acknowledgements are dropped.** A packet id is only meaningful on the connection that
  delivered it; after a reconnect the broker may reuse it for another message. Every message
  carries the ``generation`` of its connection and :meth:`ack` skips older ones (the broker
  redelivers those and the store drops the duplicate), so an acknowledgement never lands on a
  message that was not committed.
- **Reconnects forever** with exponential backoff (paho's own: ``reconnect_delay_set``), state
  reported through ``stats.connected()`` / ``stats.disconnected()``; ``on_connect`` is awaited
  after each (re)connection once its subscriptions are granted (the Sparkplug host publishes
  STATE there), ``on_disconnect`` on each lost connection (connectors mark their signals BAD).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from werk.connect.base import ConnectError
from werk.connect.stats import ConnectorStats
from werk.core import ConfigError, MissingExtraError

log = logging.getLogger(__name__)

Will = tuple[str, bytes, int, bool]  # topic, payload, qos, retain
TLS_SCHEMES = {"mqtts", "spbs", "ssl", "tls"}
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True, slots=True)
class Received:
    """One message as the broker delivered it. ``mid`` and ``generation`` identify it for
    :meth:`MqttSession.ack`; ``received_ns`` is the arrival time (UTC ns), the default timestamp
    of its samples."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    mid: int
    received_ns: int
    generation: int = 0  # which connection delivered it (acks of older ones are skipped)


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


class MqttSession:
    """A paho-mqtt 2.x client on its own network thread; messages reach asyncio in batches.

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
    ) -> None:
        if protocol not in ("3.1.1", "5"):
            raise ConfigError(f"MQTT protocol {protocol!r}: use '3.1.1' or '5'")
        if not client_id:
            raise ConfigError("an MQTT session needs a client id (a stable one when persistent)")
        self.address = BrokerAddress.parse(url)
        self.client_id = client_id
        self.subscriptions = [(topic, int(qos)) for topic, qos in subscriptions]
        self.stats = stats
        self.persistent = persistent
        self.keepalive_s = keepalive_s
        self.protocol = protocol
        self.session_expiry_s = session_expiry_s
        self._will = will
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._reconnect = (reconnect_min_s, reconnect_max_s)

        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # paho thread -> asyncio: messages (deque + one wake-up per burst), state changes (queue)
        self._inbox: deque[Received] = deque()
        self._wake = asyncio.Event()
        self._wake_pending = False
        self._changes: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._watcher: asyncio.Task[None] | None = None
        # the connection generation: bumped (under the lock) whenever a connection ends
        self._lock = threading.Lock()
        self._generation = 1
        self._subscribe_mid: int | None = None
        # broker acknowledgements awaited, by packet id (resolved straight on the loop, not
        # through the state queue, so on_connect may await a publish or a subscribe)
        self._publishing: dict[int, asyncio.Future[Any]] = {}
        self._subscribing: dict[int, asyncio.Future[Any]] = {}
        self._connected = asyncio.Event()
        self._disconnected = asyncio.Event()
        self.session_present = False
        self._closing = False

    # -- life cycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> MqttSession:
        try:
            import paho.mqtt.client as mqtt
            from paho.mqtt.enums import CallbackAPIVersion
        except ImportError as error:
            raise MissingExtraError("paho-mqtt", "mqtt") from error
        self._loop = asyncio.get_running_loop()
        v5 = self.protocol == "5"
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=None if v5 else not self.persistent,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            manual_ack=True,
        )
        if self.address.username is not None:
            client.username_pw_set(self.address.username, self.address.password)
        if self.address.tls:
            client.tls_set(ca_certs=self.address.ca_file, cert_reqs=ssl.CERT_REQUIRED)
        client.reconnect_delay_set(*self._reconnect)  # type: ignore[arg-type]  # floats work
        client.max_inflight_messages_set(1000)  # our own publishes (Sparkplug commands, STATE)
        client.on_connect = self._paho_connect
        client.on_connect_fail = self._paho_connect_fail
        client.on_disconnect = self._paho_disconnect
        client.on_subscribe = self._paho_subscribe
        client.on_message = self._paho_message
        client.on_publish = self._paho_publish
        self._set_will(client)
        properties = None
        if v5:
            from paho.mqtt.packettypes import PacketTypes
            from paho.mqtt.properties import Properties

            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            if self.persistent:
                properties.SessionExpiryInterval = self.session_expiry_s
            properties.ReceiveMaximum = 65535  # let the broker keep many QoS 1 messages in flight
        client.connect_async(
            self.address.host,
            self.address.port,
            keepalive=max(1, round(self.keepalive_s)),
            clean_start=not self.persistent if v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=properties,
        )
        self._client = client
        self._watcher = asyncio.create_task(self._watch(), name=f"{self.stats.name}.mqtt-state")
        client.loop_start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Disconnect cleanly (the broker keeps a persistent session) and stop the thread."""
        self._closing = True  # the disconnect below is no lost connection
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()  # queued behind pending acknowledgements, sent by the thread
            await asyncio.to_thread(client.loop_stop)
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        closed = ConnectError("the MQTT session closed before the broker acknowledged")
        for waiters in (self._publishing, self._subscribing):
            self._fail(waiters, closed)

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
            self._wake_pending = False  # before looking: an append after this wakes us again
            if not inbox:
                self._wake.clear()
                if not inbox:
                    await self._wake.wait()
                continue
            if linger and len(inbox) < 2:
                # a lone message: give the burst it may belong to a moment to arrive
                await asyncio.sleep(linger)
            take = min(len(inbox), max_messages)
            popleft = inbox.popleft
            yield [popleft() for _ in range(take)]

    def ack(self, received: Iterable[Received]) -> None:
        """Acknowledge QoS 1 messages (PUBACK) of the current connection; call only after their
        samples are committed or spooled. Messages of an earlier connection are skipped: the
        broker redelivers them."""
        client = self._client
        if client is None:
            return
        with self._lock:
            generation = self._generation
            for message in received:
                if message.qos and message.generation == generation:
                    client.ack(message.mid, message.qos)

    async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        """Publish; for QoS ≥ 1 return once the broker acknowledged (paho keeps it queued across
        reconnects until then). QoS 0 while disconnected raises :class:`ConnectError`."""
        client = self._client
        if client is None:
            raise ConnectError("the MQTT session is not open")
        import paho.mqtt.client as mqtt

        info = client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN) or (
            qos == 0 and info.rc != mqtt.MQTT_ERR_SUCCESS
        ):
            raise ConnectError(f"MQTT publish to {topic!r} failed: {mqtt.error_string(info.rc)}")
        if qos == 0:
            return
        # Registered before paho's acknowledgement can reach the loop: that comes through
        # call_soon_threadsafe, so it runs after this synchronous stretch.
        assert self._loop is not None
        waiter: asyncio.Future[Any] = self._loop.create_future()
        self._publishing[info.mid] = waiter
        try:
            await waiter
        finally:
            self._publishing.pop(info.mid, None)

    async def subscribe(self, subscriptions: Sequence[tuple[str, int]]) -> None:
        """Subscribe on the current connection; return once the broker granted it.

        Unlike the constructor's ``subscriptions`` these are not renewed on a reconnect: call
        again from ``on_connect`` (the Sparkplug host publishes STATE before subscribing to data
        this way). Raises :class:`ConnectError` when refused or when the connection drops first.
        """
        client = self._client
        if client is None:
            raise ConnectError("the MQTT session is not open")
        import paho.mqtt.client as mqtt

        wanted = [(topic, int(qos)) for topic, qos in subscriptions]
        try:
            rc, mid = client.subscribe(wanted)
        except ValueError as error:  # paho checks the filters' syntax
            raise ConnectError(f"MQTT subscribe to {wanted}: {error}") from error
        if rc != mqtt.MQTT_ERR_SUCCESS or mid is None:
            raise ConnectError(f"MQTT subscribe to {wanted} failed: {mqtt.error_string(rc)}")
        assert self._loop is not None
        waiter: asyncio.Future[Any] = self._loop.create_future()
        self._subscribing[mid] = waiter
        try:
            reasons = await waiter
        finally:
            self._subscribing.pop(mid, None)
        refused = [t for (t, _), r in zip(wanted, reasons, strict=False) if r.is_failure]
        if refused:
            raise ConnectError(f"the broker refused subscriptions to {refused}")

    # -- paho's thread ---------------------------------------------------------------------------

    def _post(self, kind: str, data: Any = None) -> None:
        self._on_loop(self._changes.put_nowait, (kind, data))

    def _paho_message(self, client: Any, userdata: Any, message: Any) -> None:
        self._inbox.append(
            Received(
                message.topic,
                message.payload,
                message.qos,
                message.retain,
                message.mid,
                time.time_ns(),
                self._generation,
            )
        )
        if not self._wake_pending:
            self._wake_pending = True
            loop = self._loop
            if loop is not None:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(self._wake.set)

    def _paho_connect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            self._post("failed", f"the broker refused the connection: {reason}")
            return
        self.session_present = bool(flags.session_present)
        if self.subscriptions:
            _, mid = client.subscribe(self.subscriptions)
            self._subscribe_mid = mid
        else:
            self._post("connected", (self._generation, self.session_present))

    def _paho_subscribe(
        self, client: Any, userdata: Any, mid: int, reasons: list[Any], properties: Any
    ) -> None:
        if mid != self._subscribe_mid:
            self._on_loop(self._resolve, self._subscribing, mid, reasons)
            return
        pairs = zip(self.subscriptions, reasons, strict=False)
        refused = [topic for (topic, _), reason in pairs if reason.is_failure]
        if refused:
            log.error("%s: the broker refused subscriptions to %s", self.stats.name, refused)
        self._post("connected", (self._generation, self.session_present))

    def _paho_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        with self._lock:
            self._generation += 1  # from now on, acks of that connection's messages are dropped
        self._set_will(client)  # a will that changes per connection (Sparkplug) is renewed here
        lost = ConnectError("the connection to the MQTT broker was lost")
        self._on_loop(self._fail, self._subscribing, lost)
        text = "disconnected by request" if not reason.is_failure else str(reason)
        self._post("disconnected", f"{text} ({self.address})")

    def _paho_connect_fail(self, client: Any, userdata: Any) -> None:
        self._post("failed", f"cannot connect to {self.address}")

    def _paho_publish(
        self, client: Any, userdata: Any, mid: int, reason: Any, properties: Any
    ) -> None:
        self._on_loop(self._resolve, self._publishing, mid, None)

    def _on_loop(self, call: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(call, *args)

    @staticmethod
    def _resolve(waiters: dict[int, asyncio.Future[Any]], mid: int, result: Any) -> None:
        waiter = waiters.get(mid)
        if waiter is not None and not waiter.done():
            waiter.set_result(result)

    @staticmethod
    def _fail(waiters: dict[int, asyncio.Future[Any]], error: BaseException) -> None:
        for waiter in list(waiters.values()):
            if not waiter.done():
                waiter.set_exception(error)

    def _set_will(self, client: Any) -> None:
        will = self._will() if callable(self._will) else self._will
        if will is None:
            return
        topic, payload, qos, retain = will
        client.will_set(topic, payload, qos, retain)

    # -- the event loop's side of state changes ----------------------------------------------------

    async def _watch(self) -> None:
        """Apply state changes in the order they happened; run the callbacks one at a time."""
        while True:
            kind, data = await self._changes.get()
            if kind == "connected":
                generation, session_present = data
                if generation != self._generation:
                    continue  # that connection is already gone
                if self.persistent and not session_present and self.stats.reconnects:
                    log.warning(
                        "%s: the broker had no session for %s: messages queued while away are lost",
                        self.stats.name,
                        self.client_id,
                    )
                self.stats.connected()
                self._disconnected.clear()
                self._connected.set()
                await self._callback(self._on_connect)
            elif not self._closing:  # disconnected | failed
                self._connected.clear()
                self._disconnected.set()
                if self.stats.disconnected(data) and self._on_disconnect is not None:
                    await self._callback(self._on_disconnect, data)

    async def _callback(self, callback: Callable[..., Awaitable[None]] | None, *args: Any) -> None:
        if callback is None:
            return
        try:
            await callback(*args)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: MQTT session callback failed", self.stats.name)

"""The OPC UA client connector (``opc.tcp://``): one subscription over the bound nodes, batched
into the outlet, with reconnect, recovery and honest gaps.

Options (``[connectors.options]``, besides the security ones in ``session``):

- ``publishing_interval_ms`` (default 100): how often the server sends what changed;
- ``sampling_interval_ms`` (default 0: as fast as the server samples, or on every write);
- ``queue_size`` (default 100): values the server keeps per node between publishes and while the
  connection is down — the depth of what a short outage can recover;
- ``keepalive_s`` (default 5): the server sends an empty publish at least this often, so a dead
  subscription is noticed; ``lifetime_s`` (default 120): how long the server keeps the
  subscription (and its queues) while it hears nothing from werk;
- ``batch_ms`` (default 20) and ``max_batch`` (default 50000): how long notifications collect
  before one delivery, and the most samples in one.

Recovery: asyncua's supervisor reconnects (backoff up to ``reconnect_max_s``) and, when the
server still holds werk's session, re-activates it on a new channel, so the queued notifications
flow again, and republishes the messages lost in flight. When the server lost the session (it
restarted, or the outage outlived ``lifetime_s``), the subscription is re-created: what changed
in between is gone, and a gap marker (a value-less BAD sample just after the moment the
connection was lost) says so in history, counted in ``gaps``.

Counters: ``unknown-node`` (a bound node id the server does not have; the others run on),
``unsupported-type`` (strings, arrays...), ``server-queue-overflow`` (the server discarded values
because ``queue_size`` was too small), ``client-overflow`` (werk could not keep up; a gap).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.client.ua_client import UaClientState
from asyncua.common.subscription import (
    DataChangeEvent,
    OverflowPolicy,
    StatusChangeEvent,
    Subscription,
    SubscriptionItemData,
)
from asyncua.observer import Observer, SubscriptionEvent
from asyncua.ua.status_codes import get_name_and_doc
from asyncua.ua.uaerrors import UaError, UaStatusCodeError

from werk.connect.backoff import Backoff
from werk.connect.base import Binding, ConnectorConfig
from werk.connect.opcua.codec import Notifications, setpoint_variant
from werk.connect.opcua.session import (
    ClientOptions,
    OpcUaError,
    describe,
    new_client,
    status_name,
)
from werk.connect.outlet import Outlet
from werk.connect.stats import ConnectorStats
from werk.core import ConfigError, Quality

log = logging.getLogger(__name__)

# What a failed connect or a lost connection raises; anything else is a bug for the runner.
_CONNECTION_ERRORS = (OSError, TimeoutError, UaError, OpcUaError)
_UNKNOWN_NODE = {"BadNodeIdUnknown", "BadNodeIdInvalid", "BadAttributeIdInvalid"}
_DOWN = (UaClientState.RECONNECTING, UaClientState.DISCONNECTED)
OVERFLOW = "client-overflow"
_UNSEEN: Any = object()


def _option(options: Any, key: str, default: float, minimum: float = 0.0) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ConfigError(f"opc.tcp: option {key} must be a number >= {minimum:g}, not {value!r}")
    return float(value)


class _Watch(Observer):
    """asyncua tells its state changes and subscription re-creations here (synchronously);
    the connector reads them from a queue in its own task."""

    def __init__(self) -> None:
        self.changes: asyncio.Queue[UaClientState | SubscriptionEvent | str] = asyncio.Queue()

    def on_state_change(self, state: UaClientState) -> None:
        self.changes.put_nowait(state)

    def on_subscription_event(self, subscription_id: int | None, event: SubscriptionEvent) -> None:
        if event is SubscriptionEvent.RECREATED:
            self.changes.put_nowait(event)


class OpcUaConnector:
    def __init__(self, url: str, config: ConnectorConfig) -> None:
        options = config.options
        self.url = url
        self.name = config.name
        self.bindings: tuple[Binding, ...] = tuple(config.bindings)
        self.stats = ConnectorStats(config.name)
        self.stats.extra.update({"server_queue_overflows": 0})
        self.client_options = ClientOptions.parse(options, f"connector {config.name}")
        self.publishing_interval_ms = _option(options, "publishing_interval_ms", 100.0, 1)
        self.sampling_interval_ms = _option(options, "sampling_interval_ms", 0.0)
        self.queue_size = int(_option(options, "queue_size", 100.0, 1))
        self.keepalive_s = _option(options, "keepalive_s", 5.0, 0.01)
        self.lifetime_s = _option(options, "lifetime_s", 120.0, 0.01)
        self.batch_s = _option(options, "batch_ms", 20.0, 0) / 1000
        self.max_batch = int(_option(options, "max_batch", 50_000.0, 1))
        self.client_queue = int(_option(options, "client_queue", 200_000.0, 1000))
        # One subscription per distinct node; a node bound to several signals fans out.
        self._positions: dict[str, list[int]] = {}
        for position, binding in enumerate(self.bindings):
            self._positions.setdefault(binding.address, []).append(position)
        self._signals = [b.signal for b in self.bindings]
        self._client: Client | None = None
        self._watch = _Watch()
        self._reported: set[str] = set()  # addresses already counted as unknown
        self._variant_types: dict[str, ua.VariantType] = {}

    # -- the loop --------------------------------------------------------------------------------

    async def run(self, outlet: Outlet) -> None:
        backoff = Backoff(initial=0.5, maximum=self.client_options.reconnect_max_s)
        while True:
            try:
                await self._session(outlet, backoff)
            except _CONNECTION_ERRORS as error:
                if self.stats.disconnected(describe(error)):
                    await outlet.mark(self._signals, Quality.BAD)
            await asyncio.sleep(backoff.delay())

    async def _session(self, outlet: Outlet, backoff: Backoff) -> None:
        """Connect, subscribe, and deliver until cancelled; asyncua reconnects inside."""
        watch = self._watch = _Watch()
        client = await new_client(self.url, self.client_options)
        client.uaclient.observer = watch
        lost: list[BaseException] = []

        async def connection_lost(error: Exception) -> None:
            lost.append(error)

        client.connection_lost_callback = connection_lost
        await client.connect(
            auto_reconnect=True, reconnect_max_delay=self.client_options.reconnect_max_s
        )
        try:
            subscription = await self._subscribe(client)
            pump = _Pump(self, outlet, subscription, watch, lost)
            self._client = client
            self.stats.connected()
            backoff.reset()
            await pump.run()
        finally:
            self._client = None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), self.client_options.timeout_s)

    async def _subscribe(self, client: Client) -> Subscription:
        publishing = self.publishing_interval_ms
        params = ua.CreateSubscriptionParameters(
            RequestedPublishingInterval=publishing,
            RequestedMaxKeepAliveCount=max(1, math.ceil(self.keepalive_s * 1000 / publishing)),
            RequestedLifetimeCount=max(3, math.ceil(self.lifetime_s * 1000 / publishing)),
            MaxNotificationsPerPublish=10_000,
            PublishingEnabled=True,
            Priority=0,
        )
        params.RequestedLifetimeCount = max(
            params.RequestedLifetimeCount, 3 * params.RequestedMaxKeepAliveCount
        )
        subscription = await client.create_subscription(
            params, None, queue_maxsize=self.client_queue, overflow=OverflowPolicy.DISCONNECT
        )
        subscription.set_overflow_disconnect_handler(self._client_overflow)
        addresses, nodes = [], []
        for address in self._positions:
            try:
                nodes.append(client.get_node(ua.NodeId.from_string(address)))
                addresses.append(address)
            except (ValueError, UaError):
                self._unknown(address, "not a node id")
        if nodes:
            results = await subscription.subscribe_data_change(
                nodes,
                queuesize=self.queue_size,
                sampling_interval=ua.Double(self.sampling_interval_ms),
            )
            for address, result in zip(addresses, results, strict=True):
                if isinstance(result, ua.StatusCode):
                    name = get_name_and_doc(result.value)[0]
                    self._unknown(address, name)
        return subscription

    def _unknown(self, address: str, why: str) -> None:
        if address in self._reported:
            return
        self._reported.add(address)
        signals = [self.bindings[p].signal for p in self._positions[address]]
        reason = "unknown-node" if why in _UNKNOWN_NODE or why == "not a node id" else "refused"
        self.stats.reject(reason, len(signals), f"{address} ({why}) for {', '.join(signals)}")

    def _client_overflow(self) -> None:
        """asyncua's notification queue was full: values are lost (they were acknowledged to
        the server already), so count it and mark a gap."""
        self.stats.reject("client-overflow", 1, "notifications dropped: werk fell behind")
        self._watch.changes.put_nowait(OVERFLOW)

    # -- writes ----------------------------------------------------------------------------------

    async def write(self, binding: Binding, value: float | int | bool | str) -> None:
        """Write a setpoint in the node's own data type (read once, then cached)."""
        client = self._client
        if client is None or self.stats.state != "connected":
            raise OpcUaError(f"{self.name}: not connected to {self.url}; cannot write")
        node = client.get_node(ua.NodeId.from_string(binding.address))
        try:
            variant_type = self._variant_types.get(binding.address)
            if variant_type is None:
                variant_type = await node.read_data_type_as_variant_type()
                self._variant_types[binding.address] = variant_type
            try:
                variant = setpoint_variant(value, variant_type)
            except ValueError as error:
                raise OpcUaError(f"{binding.signal}: {error}") from error
            await node.write_value(ua.DataValue(variant))
        except UaStatusCodeError as error:
            raise OpcUaError(
                f"{binding.signal}: the server refused the write to {binding.address}: "
                f"{status_name(error)}"
            ) from error
        except (OSError, TimeoutError) as error:
            raise OpcUaError(f"{binding.signal}: write failed: {describe(error)}") from error


class _Pump:
    """One connected session's work: drain notifications into columns, deliver them in batches,
    and turn asyncua's state changes into stats, BAD marks and gap markers — in order, through
    one delivering task, so a mark never overtakes the values received before it."""

    def __init__(
        self,
        connector: OpcUaConnector,
        outlet: Outlet,
        subscription: Subscription,
        watch: _Watch,
        lost: list[BaseException],
    ) -> None:
        self.connector = connector
        self.outlet = outlet
        self.subscription = subscription
        self.watch = watch
        self.lost = lost
        self.stats = connector.stats
        self.buffer = Notifications(connector._signals)
        self.positions = connector._positions
        self.by_node: dict[ua.NodeId, list[int]] = {}
        for address, positions in connector._positions.items():
            with contextlib.suppress(ValueError, UaError):
                self.by_node[ua.NodeId.from_string(address)] = positions
        # asyncua's record of a monitored item -> its positions (None: not werk's node)
        self.by_item: dict[SubscriptionItemData, list[int] | None] = {}
        self.filled = asyncio.Event()  # the buffer has something (or a mark waits)
        self.drained = asyncio.Event()  # the buffer was delivered (backpressure)
        self.marks: list[tuple[Quality, int, bool]] = []  # (quality, timestamp, is a gap)
        self.lost_at: int | None = None
        self.last_arrival = time.time_ns()

    async def run(self) -> None:
        """Run until cancelled or one part fails (its error goes to the connector's loop)."""
        name = self.connector.name
        tasks = [
            asyncio.create_task(self._drain(), name=f"{name}.drain"),
            asyncio.create_task(self._deliver(), name=f"{name}.deliver"),
            asyncio.create_task(self._follow(), name=f"{name}.state"),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
            raise OpcUaError("the server closed the subscription")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _drain(self) -> None:
        """Take asyncua's data changes one by one into the column buffer.

        The hot path (one pass per value change): which binding positions a monitored item
        feeds is looked up by the item's own record (``event.data.subscription_data``, hashed
        by identity) and remembered; a NodeId is hashed only for an item seen for the first
        time (asyncua makes new records when it re-creates the subscription).
        """
        buffer, by_node, by_item, stats = self.buffer, self.by_node, self.by_item, self.stats
        add, filled = buffer.add, self.filled
        limit = self.connector.max_batch * 4
        async for event in self.subscription:
            if type(event) is DataChangeEvent:
                data = event.data
                item = data.subscription_data
                positions = by_item.get(item, _UNSEEN)
                if positions is _UNSEEN:
                    positions = by_item[item] = by_node.get(event.node.nodeid)
                if positions is None:
                    continue
                value = data.monitored_item.Value
                arrival = self.last_arrival = time.time_ns()
                if value is None:
                    continue
                status = value.StatusCode
                add(
                    positions,
                    event.value,
                    status.value if status is not None else 0,
                    value.SourceTimestamp,
                    value.ServerTimestamp,
                    arrival,
                )
                stats.messages += 1
                if not filled.is_set():
                    filled.set()
                if len(buffer) >= limit:  # downstream is slow: stop taking notifications
                    self.drained.clear()
                    await self.drained.wait()
            elif isinstance(event, StatusChangeEvent):
                log.info(
                    "%s: subscription status %s", self.connector.name, event.notification.Status
                )

    async def _deliver(self) -> None:
        connector, buffer, stats = self.connector, self.buffer, self.stats
        while True:
            await self.filled.wait()
            if len(buffer) < connector.max_batch and not self.marks:
                await asyncio.sleep(connector.batch_s)  # let a few ms of notifications gather
            self.filled.clear()
            if len(buffer):
                unsupported = buffer.unsupported
                buffer.unsupported = 0
                batch, overflowed = buffer.take()
                self.drained.set()
                if unsupported:
                    stats.reject("unsupported-type", unsupported, "not a number or boolean")
                if overflowed:
                    stats.extra["server_queue_overflows"] += overflowed
                    stats.reject(
                        "server-queue-overflow",
                        overflowed,
                        "the server discarded values; raise queue_size",
                    )
                await self.outlet.deliver(batch)
            while self.marks:
                quality, when, gap = self.marks.pop(0)
                if gap:
                    stats.gaps += 1
                await self.outlet.mark(connector._signals, quality, when)

    def _mark(self, quality: Quality, when: int, gap: bool = False) -> None:
        self.marks.append((quality, when, gap))
        self.filled.set()

    async def _follow(self) -> None:
        connector, stats = self.connector, self.stats
        while True:
            change = await self.watch.changes.get()
            if change is SubscriptionEvent.RECREATED:
                self.by_item.clear()  # the new subscription's item records replace the old
            if change is SubscriptionEvent.RECREATED or change == OVERFLOW:
                # The server lost the subscription (restart, or an outage longer than its
                # lifetime): values changed in between are gone. Mark the hole just after the
                # moment the connection was lost, before the fresh values.
                when = (self.lost_at or self.last_arrival) + 1
                log.warning(
                    "%s: values during the outage could not be recovered; gap marked",
                    connector.name,
                )
                self._mark(Quality.BAD, when, gap=True)
            if change in _DOWN and stats.state == "connected":
                error = self.lost[-1] if self.lost else "connection lost"
                self.lost_at = time.time_ns()
                if stats.disconnected(describe(error) if not isinstance(error, str) else error):
                    self._mark(Quality.BAD, self.lost_at)
            elif change is UaClientState.CONNECTED and stats.state != "connected":
                stats.connected()

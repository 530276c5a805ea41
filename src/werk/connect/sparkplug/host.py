"""The primary host application's memory of every edge node, without a network.

:class:`SparkplugHost` is fed every Sparkplug message as (topic, payload bytes, arrival time) and
answers with samples and actions; the async shell (``connector``) owns the MQTT session, STATE and
delivery. The rules it keeps, per Sparkplug 3.0:

- **Births name things.** An NBIRTH (a DBIRTH for a device) lists every metric with its name,
  alias and data type; later NDATA/DDATA may carry only aliases. The host keeps one alias table
  per node and device. An NBIRTH forgets the node's devices (they are born again after it).
- **Sequence numbers** (0–255, wrapping) run per edge node over NBIRTH, DBIRTH, NDATA, DDATA and
  DDEATH; the NBIRTH's number is the start. A number that is not the expected one means messages
  were lost: the gap is counted (``stats.gaps``), a rebirth is requested, and the data that
  arrives from then until the new NBIRTH is stored with quality ``UNCERTAIN`` — the values are
  real, but the node's state between them is not known (values were lost, aliases may have
  changed). The birth that answers the request brings every metric's current value, ``GOOD``.
- **Rebirth requests** (``Node Control/Rebirth`` in an NCMD) are also sent for data before any
  birth and for aliases the birth did not declare. They are rate-limited per node: one, then no
  other until the NBIRTH arrives or ``rebirth_interval_s`` passed.
- **Deaths.** An NDEATH (the node's MQTT will) is only believed when its ``bdSeq`` matches the
  current NBIRTH's: the will of an earlier session that the broker delivers late must not kill the
  session that replaced it (counted ``stale_deaths``). A believed NDEATH marks every signal of the
  node and its devices ``STALE``; a DDEATH those of the device. Marks are value-less samples
  in the same column stream as the values, so their order in history is the order of events.
- **Nulls** (``is_null``) become value-less ``BAD`` samples.

Signals: a metric becomes samples of the plant-file signal whose source is
``{ sparkplug = "Group/Node[/Device]:Metric" }``. Other metrics are counted (``unbound-metric``)
and skipped, or, with ``bind_all``, recorded as ``<device or node>.<metric>``. Protocol metrics
(``bdSeq``, ``Node Control/*``, ``Device Control/*``, ``Properties/*``) are never samples unless
bound.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from werk.connect.base import Binding, ConnectError
from werk.connect.discover import id_short
from werk.connect.sparkplug.codec import (
    BD_SEQ_METRIC,
    IGNORED,
    SPARKPLUG_TYPE,
    UNBOUND,
    Address,
    Columns,
    Counts,
    DataType,
    MessageType,
    Metric,
    Payload,
    Slot,
    SparkplugError,
    Topic,
    decode_values,
    encode_payload,
    metric_of,
    parse,
    parse_topic,
    slot,
    topic,
)
from werk.connect.sparkplug.sparkplug_b_pb2 import Payload as PbPayload
from werk.connect.stats import ConnectorStats
from werk.core import NS_PER_S, ConfigError, Quality, SampleBatch

log = logging.getLogger(__name__)

NodeKey = tuple[str, str]  # (group, edge node)
DeviceKey = tuple[str, str, str | None]  # (group, edge node, device or None for the node)

_PROTOCOL_PREFIXES = ("Node Control/", "Device Control/", "Properties/")
_GOOD, _UNCERTAIN, _STALE = int(Quality.GOOD), int(Quality.UNCERTAIN), int(Quality.STALE)
_IGNORED_KINDS = frozenset({MessageType.STATE, MessageType.NCMD, MessageType.DCMD})
_TOPIC_CACHE = 10_000
UNBOUND_NAMED = 10  # metrics named in the log line of a birth with unbound ones


@dataclass(slots=True)
class _Born:
    """What a birth said about a node or device: its metrics by name and alias."""

    table: dict[int | str, Slot]
    datatypes: dict[str, DataType]


@dataclass(slots=True)
class _Node:
    born: _Born | None = None
    devices: dict[str, _Born] = field(default_factory=dict)
    bd_seq: int | None = None
    next_seq: int | None = None
    in_sync: bool = True
    rebirth_at_ns: int | None = None  # last request, while no NBIRTH answered it
    born_once: bool = False  # werk has had an NBIRTH of it since it started


@dataclass(frozen=True, slots=True)
class HostOutput:
    """What the shell does next: deliver ``batch``, then ask these nodes for a rebirth."""

    batch: SampleBatch
    rebirths: tuple[NodeKey, ...]


class SparkplugHost:
    def __init__(
        self,
        bindings: Iterable[Binding],
        stats: ConnectorStats,
        *,
        bind_all: bool = False,
        rebirth_interval_s: float = 10.0,
    ) -> None:
        self.stats = stats
        self.bind_all = bind_all
        self.rebirth_interval_ns = int(rebirth_interval_s * NS_PER_S)
        self.rows = Columns()
        self._names: list[str] = []  # signal position -> id
        self._position: dict[str, int] = {}
        self._bound: dict[DeviceKey, dict[str, int]] = {}
        self._node_signals: dict[NodeKey, list[int]] = {}
        self._device_signals: dict[DeviceKey, list[int]] = {}
        self._nodes: dict[NodeKey, _Node] = {}
        self._topics: dict[str, Topic] = {}
        self._rebirths: list[NodeKey] = []
        for binding in bindings:
            try:
                address = Address.parse(binding.address)
            except SparkplugError as error:
                raise ConfigError(f"signal {binding.signal}: {error}") from None
            self._bind(address.group, address.node, address.device, address.metric, binding.signal)
        for name in ("rebirths_requested", "births", "deaths", "stale_deaths", "nulls"):
            stats.extra.setdefault(name, 0)

    # -- input -----------------------------------------------------------------------------------

    def receive(self, topic_name: str, payload: bytes, received_ns: int) -> None:
        """Take one message; its samples go to :attr:`rows`, its actions wait for :meth:`take`."""
        where = self._topics.get(topic_name)
        if where is None:
            try:
                where = parse_topic(topic_name)
            except SparkplugError as error:
                self.stats.reject("bad-topic", 1, str(error))
                return
            if len(self._topics) >= _TOPIC_CACHE:
                self._topics.clear()
            self._topics[topic_name] = where
        kind = where.kind
        if kind in _IGNORED_KINDS:
            return  # commands to nodes and other hosts' STATE are not data
        try:
            message = parse(payload)
        except SparkplugError as error:
            self.stats.reject("malformed", 1, f"{topic_name}: {error}")
            return  # its sequence number is lost with it: the next message shows the gap
        key = (where.group, where.node)
        node = self._nodes.get(key)
        if kind is MessageType.NBIRTH:
            self._node_birth(key, message, received_ns)
            return
        if kind is MessageType.NDEATH:
            self._node_death(key, node, message, received_ns)
            return
        if node is None or node.born is None:
            if node is not None and node.born_once:  # data after its death: worth a warning
                self.stats.reject(
                    "before-birth", 1, f"{kind} from {key[0]}/{key[1]} before its NBIRTH"
                )
                reason = "data before birth"
            else:  # werk joined a running node: normal, counted; the rebirth's line says so
                self.stats.rejected["before-birth"] += 1
                reason = "data before birth: it was running before werk"
            self._rebirth(key, received_ns, reason)
            return
        self._sequence(key, node, message, received_ns)
        quality = _GOOD if node.in_sync else _UNCERTAIN
        if kind is MessageType.NDATA:
            self._values(key, node.born, message, quality, received_ns)
            return
        device = where.device
        assert device is not None
        if kind is MessageType.DBIRTH:  # names every metric: good even out of sequence
            born = node.devices[device] = self._born(key, device, message)
            self.stats.extra["births"] += 1
            self._values(key, born, message, _GOOD, received_ns)
        elif kind is MessageType.DDEATH:
            node.devices.pop(device, None)
            self.stats.extra["deaths"] += 1
            self._mark(self._device_signals.get((*key, device), ()), _STALE, received_ns)
        else:  # DDATA
            found = node.devices.get(device)
            if found is None:
                self.stats.reject(
                    "before-birth", 1, f"DDATA from {key[0]}/{key[1]}/{device} before its DBIRTH"
                )
                self._rebirth(key, received_ns, f"device {device} not born")
                return
            self._values(key, found, message, quality, received_ns)

    def take(self) -> HostOutput:
        """The samples and rebirth requests since the last call."""
        batch = self.rows.batch(self._names)
        self.rows.clear()
        return HostOutput(batch, self.take_rebirths())

    def take_rebirths(self) -> tuple[NodeKey, ...]:
        """Only the rebirth requests since the last call (each node once)."""
        rebirths, self._rebirths = tuple(dict.fromkeys(self._rebirths)), []
        return rebirths

    def ask_rebirth(self, nodes: Iterable[NodeKey], now_ns: int, reason: str) -> None:
        """Queue rebirth requests for ``nodes`` (rate-limited like the others)."""
        for key in nodes:
            self._rebirth(key, now_ns, reason)

    @property
    def bound_signals(self) -> tuple[str, ...]:
        """Every signal this host feeds (with ``bind_all``, those seen so far)."""
        return tuple(self._names)

    def reset(self) -> tuple[NodeKey, ...]:
        """The connection was lost: births and sequence numbers may have been missed meanwhile,
        so every node must be born again. Returns the nodes that were alive, to ask them at once
        after the reconnect (others are asked when their data arrives)."""
        alive = tuple(key for key, node in self._nodes.items() if node.born is not None)
        self._nodes.clear()
        self._rebirths.clear()
        return alive

    # -- writes ----------------------------------------------------------------------------------

    def command(
        self, binding: Binding, value: float | int | bool | str, timestamp_ms: int
    ) -> tuple[str, bytes]:
        """The NCMD/DCMD (topic, payload) that sets the metric behind ``binding`` to ``value``,
        in the metric's birth data type. The node (and device) must be alive."""
        try:
            address = Address.parse(binding.address)
        except SparkplugError as error:
            raise ConnectError(f"signal {binding.signal}: {error}") from None
        node = self._nodes.get((address.group, address.node))
        born = None
        if node is not None and node.born is not None:
            born = node.born if address.device is None else node.devices.get(address.device)
        if born is None:
            where = address.group + "/" + address.node
            where += f"/{address.device}" if address.device else ""
            raise ConnectError(f"{where} is offline (no birth): cannot write {binding.signal}")
        datatype = born.datatypes.get(address.metric, DataType.UNKNOWN)
        if datatype is DataType.UNKNOWN:
            datatype = SPARKPLUG_TYPE.get(binding.data_type, DataType.DOUBLE)
        if datatype is DataType.BOOLEAN and isinstance(value, str):
            value = value.strip().lower() in {"1", "true", "on", "yes"}
        metric = Metric(address.metric, value, datatype, timestamp_ms=timestamp_ms)
        payload = encode_payload(Payload((metric,), timestamp_ms=timestamp_ms))
        kind = MessageType.NCMD if address.device is None else MessageType.DCMD
        return topic(kind, address.group, address.node, address.device), payload

    # -- inside ----------------------------------------------------------------------------------

    def _node_birth(self, key: NodeKey, message: PbPayload, received_ns: int) -> None:
        node = self._nodes.get(key)
        if node is None:
            node = self._nodes[key] = _Node()
        node.devices.clear()
        node.bd_seq = _bd_seq(message)
        if message.HasField("seq"):
            node.next_seq = (message.seq + 1) % 256
        else:
            node.next_seq = None
            self.stats.reject("missing-seq", 1, f"NBIRTH of {key[0]}/{key[1]} without seq")
        node.in_sync = True
        node.rebirth_at_ns = None
        node.born = self._born(key, None, message)
        node.born_once = True
        self.stats.extra["births"] += 1
        self._values(key, node.born, message, _GOOD, received_ns)

    def _node_death(
        self, key: NodeKey, node: _Node | None, message: PbPayload, received_ns: int
    ) -> None:
        if node is None or node.born is None:
            return  # not alive as far as we know: nothing to mark
        bd_seq = _bd_seq(message)
        if bd_seq is not None and node.bd_seq is not None and bd_seq != node.bd_seq:
            self.stats.extra["stale_deaths"] += 1
            log.info(
                "%s: ignored the NDEATH of %s/%s with bdSeq %d (the living session has %d)",
                self.stats.name,
                *key,
                bd_seq,
                node.bd_seq,
            )
            return
        node.born = None
        node.devices.clear()
        node.next_seq = None
        node.in_sync = True
        self.stats.extra["deaths"] += 1
        self._mark(self._node_signals.get(key, ()), _STALE, received_ns)

    def _sequence(self, key: NodeKey, node: _Node, message: PbPayload, received_ns: int) -> None:
        if not message.HasField("seq"):
            self.stats.reject("missing-seq", 1, f"message from {key[0]}/{key[1]} without seq")
            return
        seq = message.seq
        expected = node.next_seq
        node.next_seq = (seq + 1) % 256
        if expected is not None and seq != expected:
            self.stats.gaps += 1
            node.in_sync = False
            self._rebirth(key, received_ns, f"sequence gap: expected {expected}, got {seq}")
        elif not node.in_sync:
            self._rebirth(key, received_ns, "still out of sequence")  # rate-limited repeat

    def _values(
        self, key: NodeKey, born: _Born, message: PbPayload, quality: int, received_ns: int
    ) -> None:
        counts = Counts()
        decode_values(message, born.table, quality, received_ns, self.rows, counts)
        if counts.unknown:
            self.stats.reject(
                "unknown-alias",
                counts.unknown,
                f"{key[0]}/{key[1]}: metrics its birth did not name",
            )
            self._rebirth(key, received_ns, "unknown alias")
        if counts.unbound:  # counted, not logged: the birth said which (see _born)
            self.stats.rejected["unbound-metric"] += counts.unbound
        if counts.unsupported:
            self.stats.reject(
                "unsupported-type", counts.unsupported, "strings, bytes, arrays, data sets"
            )
        if counts.nulls:
            self.stats.extra["nulls"] += counts.nulls

    def _born(self, key: NodeKey, device: str | None, message: PbPayload) -> _Born:
        bound = self._bound.get((*key, device), {})
        table: dict[int | str, Slot] = {}
        datatypes: dict[str, DataType] = {}
        nameless = 0
        unbound: list[str] = []
        for m in message.metrics:
            name = m.name
            if not name:
                nameless += 1
                continue
            datatype = DataType.of(m.datatype)
            position = bound.get(name)
            if position is None:
                if name == BD_SEQ_METRIC or name.startswith(_PROTOCOL_PREFIXES):
                    position = IGNORED
                elif self.bind_all:
                    position = self._bind(*key, device, name, _auto_id(key, device, name))
                else:
                    position = UNBOUND
                    unbound.append(name)
            entry = slot(position, datatype)
            table[name] = entry
            if m.HasField("alias"):
                table[m.alias] = entry
            datatypes[name] = datatype
        if nameless:
            self.stats.reject("malformed", nameless, "birth metrics without a name")
        # said once a birth, not warned: an edge node publishing more than the plant reads is normal
        if unbound:
            shown = ", ".join(unbound[:UNBOUND_NAMED]) + (
                ", …" if len(unbound) > UNBOUND_NAMED else ""
            )
            log.info(
                "%s: %s/%s%s births %d metric(s) no plant-file signal binds (%s): their values are "
                "counted as unbound-metric, not stored (bind_all = true stores them)",
                self.stats.name,
                *key,
                f"/{device}" if device else "",
                len(unbound),
                shown,
            )
        return _Born(table, datatypes)

    def _bind(self, group: str, node: str, device: str | None, metric: str, signal: str) -> int:
        position = self._position.get(signal)
        if position is None:
            position = self._position[signal] = len(self._names)
            self._names.append(signal)
        metrics = self._bound.setdefault((group, node, device), {})
        first = metrics.setdefault(metric, position)
        if first != position:
            log.warning(
                "%s: %s and %s are bound to the same metric %s; %s gets its values",
                self.stats.name,
                self._names[first],
                signal,
                metric,
                self._names[first],
            )
            return first
        self._node_signals.setdefault((group, node), []).append(position)
        if device is not None:
            self._device_signals.setdefault((group, node, device), []).append(position)
        return position

    def _mark(self, positions: Sequence[int], quality: int, received_ns: int) -> None:
        for position in positions:
            self.rows.append(position, received_ns, math.nan, quality)

    def _rebirth(self, key: NodeKey, now_ns: int, reason: str) -> None:
        node = self._nodes.get(key)
        if node is None:
            node = self._nodes[key] = _Node()
        last = node.rebirth_at_ns
        if last is not None and now_ns - last < self.rebirth_interval_ns:
            return
        node.rebirth_at_ns = now_ns
        self._rebirths.append(key)
        self.stats.extra["rebirths_requested"] += 1
        log.info("%s: requesting a rebirth of %s/%s (%s)", self.stats.name, *key, reason)


def _bd_seq(message: PbPayload) -> int | None:
    for m in message.metrics:
        if m.name == BD_SEQ_METRIC:
            value = metric_of(m).value
            return value if isinstance(value, int) and not isinstance(value, bool) else None
    return None


def _auto_id(key: NodeKey, device: str | None, metric: str) -> str:
    return f"{id_short(device or key[1])}.{id_short(metric)}"

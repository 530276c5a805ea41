"""Sparkplug B without a network: topics, payloads, STATE, and metric values into sample columns.

Sparkplug 3.0 (Eclipse Sparkplug Specification 3.0.0) over MQTT. Payloads are the official
protobuf schema (``sparkplug_b.proto``, compiled to ``sparkplug_b_pb2``), never parsed by hand.

Two ways through a payload, for two kinds of message:

- :func:`decode_payload` / :func:`encode_payload` turn bytes into :class:`Payload` and
  :class:`Metric` objects and back: births, deaths, commands, tests, the virtual plant. Clear,
  one Python object per metric.
- :func:`decode_values` is the hot path for NDATA/DDATA: it walks the parsed protobuf once and
  appends ``(signal, timestamp, value, quality)`` to :class:`Columns` through an alias table the
  host built from the birth. No object per metric; a few attribute reads and four list appends.
  :func:`decode_batch` strings it together for many messages (the benchmark's codec figure).

Integer encoding: Sparkplug carries Int8/16/32 in the protobuf ``uint32`` field and Int64 in
``uint64``. Implementations disagree on the width of the two's complement (Tahu Java widens an
Int8 of -1 to 0xFFFFFFFF, Tahu Python and pysparkplug write 0xFF), so the decoder masks to the
declared width before sign-extending — both read back as -1 — and the encoder writes the declared
width, which every decoder we know reads.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from werk.connect.base import ConnectError
from werk.core import MissingExtraError, Quality, SampleBatch

try:
    from google.protobuf.message import DecodeError

    from werk.connect.sparkplug import sparkplug_b_pb2 as pb
except ImportError as error:  # pragma: no cover - the extra is installed in development
    raise MissingExtraError("protobuf", "mqtt") from error

NAMESPACE: Final = "spBv1.0"
REBIRTH_METRIC: Final = "Node Control/Rebirth"
BD_SEQ_METRIC: Final = "bdSeq"
NS_PER_MS: Final = 1_000_000

Value = bool | int | float | str | bytes | None


class SparkplugError(ConnectError):
    """A topic, payload or value that breaks the Sparkplug B specification (the text says which
    rule); also raised for a binding address that is not ``Group/Node[/Device]:Metric``."""


# -- topics ---------------------------------------------------------------------------------------


class MessageType(StrEnum):
    NBIRTH = "NBIRTH"
    NDEATH = "NDEATH"
    DBIRTH = "DBIRTH"
    DDEATH = "DDEATH"
    NDATA = "NDATA"
    DDATA = "DDATA"
    NCMD = "NCMD"
    DCMD = "DCMD"
    STATE = "STATE"


DEVICE_MESSAGES: Final = frozenset(
    {MessageType.DBIRTH, MessageType.DDEATH, MessageType.DDATA, MessageType.DCMD}
)


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed Sparkplug topic. For ``STATE`` the host application id is in ``node`` and
    ``group`` is empty."""

    kind: MessageType
    group: str
    node: str
    device: str | None = None

    def __str__(self) -> str:
        if self.kind is MessageType.STATE:
            return f"{NAMESPACE}/STATE/{self.node}"
        tail = f"/{self.device}" if self.device is not None else ""
        return f"{NAMESPACE}/{self.group}/{self.kind}/{self.node}{tail}"


def parse_topic(topic: str) -> Topic:
    """``spBv1.0/<group>/<type>/<edge node>[/<device>]`` or ``spBv1.0/STATE/<host id>``."""
    parts = topic.split("/")
    if parts[0] != NAMESPACE or len(parts) < 3:
        raise SparkplugError(
            f"{topic!r} is not a Sparkplug B topic "
            f"({NAMESPACE}/<group>/<type>/<node>[/<device>] or {NAMESPACE}/STATE/<host id>)"
        )
    if parts[1] == "STATE":
        if len(parts) != 3 or not parts[2]:
            raise SparkplugError(f"{topic!r}: a STATE topic is {NAMESPACE}/STATE/<host id>")
        return Topic(MessageType.STATE, "", parts[2])
    try:
        kind = MessageType(parts[2])
    except ValueError:
        raise SparkplugError(f"{topic!r}: unknown message type {parts[2]!r}") from None
    wanted = 5 if kind in DEVICE_MESSAGES else 4
    if kind is MessageType.STATE or len(parts) != wanted or not all(parts[1:]):
        shape = "<group>/<type>/<node>/<device>" if wanted == 5 else "<group>/<type>/<node>"
        raise SparkplugError(f"{topic!r}: a {kind} topic is {NAMESPACE}/{shape}")
    return Topic(kind, parts[1], parts[3], parts[4] if wanted == 5 else None)


def topic(kind: MessageType, group: str, node: str, device: str | None = None) -> str:
    """The topic string of a message (for ``STATE`` pass the host id as ``node``)."""
    return str(Topic(kind, group, node, device))


@dataclass(frozen=True, slots=True)
class Address:
    """Where a plant-file signal lives: ``source = { sparkplug = "Group/Node[/Device]:Metric" }``.
    The metric name may itself hold ``/`` and ``:`` (``Node Control/Rebirth``); the ids may not."""

    group: str
    node: str
    device: str | None
    metric: str

    @classmethod
    def parse(cls, address: str) -> Address:
        ids, sep, metric = address.partition(":")
        parts = ids.split("/")
        if not sep or not metric or len(parts) not in (2, 3) or not all(parts):
            raise SparkplugError(
                f"{address!r} is not a Sparkplug address Group/Node[/Device]:Metric"
            )
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None, metric)

    def __str__(self) -> str:
        device = f"/{self.device}" if self.device is not None else ""
        return f"{self.group}/{self.node}{device}:{self.metric}"


# -- data types -----------------------------------------------------------------------------------


class DataType(IntEnum):
    """Sparkplug B data types (the schema's ``DataType`` enum)."""

    UNKNOWN = 0
    INT8 = 1
    INT16 = 2
    INT32 = 3
    INT64 = 4
    UINT8 = 5
    UINT16 = 6
    UINT32 = 7
    UINT64 = 8
    FLOAT = 9
    DOUBLE = 10
    BOOLEAN = 11
    STRING = 12
    DATETIME = 13
    TEXT = 14
    UUID = 15
    DATASET = 16
    BYTES = 17
    FILE = 18
    TEMPLATE = 19
    PROPERTYSET = 20
    PROPERTYSETLIST = 21
    INT8_ARRAY = 22
    INT16_ARRAY = 23
    INT32_ARRAY = 24
    INT64_ARRAY = 25
    UINT8_ARRAY = 26
    UINT16_ARRAY = 27
    UINT32_ARRAY = 28
    UINT64_ARRAY = 29
    FLOAT_ARRAY = 30
    DOUBLE_ARRAY = 31
    BOOLEAN_ARRAY = 32
    STRING_ARRAY = 33
    DATETIME_ARRAY = 34

    @classmethod
    def of(cls, code: int) -> DataType:
        try:
            return cls(code)
        except ValueError:
            return cls.UNKNOWN


SIGNED_BITS: Final[Mapping[DataType, int]] = {
    DataType.INT8: 8,
    DataType.INT16: 16,
    DataType.INT32: 32,
    DataType.INT64: 64,
}
UNSIGNED_BITS: Final[Mapping[DataType, int]] = {
    DataType.UINT8: 8,
    DataType.UINT16: 16,
    DataType.UINT32: 32,
    DataType.UINT64: 64,
}
# Types whose value is a number werk stores as a sample (a DateTime as ms since the epoch).
NUMERIC: Final = frozenset(
    {*SIGNED_BITS, *UNSIGNED_BITS, DataType.FLOAT, DataType.DOUBLE, DataType.BOOLEAN}
    | {DataType.DATETIME}
)
_TEXT = frozenset({DataType.STRING, DataType.TEXT, DataType.UUID})

# The plant file's data types (werk.twin.plant.DataType), both ways.
PLANT_TYPE: Final[Mapping[DataType, str]] = {
    DataType.INT8: "short",
    DataType.INT16: "short",
    DataType.UINT8: "short",
    DataType.INT32: "int",
    DataType.UINT16: "int",
    DataType.INT64: "long",
    DataType.UINT32: "long",
    DataType.UINT64: "long",
    DataType.DATETIME: "long",
    DataType.FLOAT: "float",
    DataType.DOUBLE: "double",
    DataType.BOOLEAN: "boolean",
    DataType.STRING: "string",
    DataType.TEXT: "string",
    DataType.UUID: "string",
}
SPARKPLUG_TYPE: Final[Mapping[str, DataType]] = {
    "double": DataType.DOUBLE,
    "float": DataType.FLOAT,
    "long": DataType.INT64,
    "int": DataType.INT32,
    "short": DataType.INT16,
    "boolean": DataType.BOOLEAN,
    "string": DataType.STRING,
}


def infer_datatype(value: Value) -> DataType:
    """The Sparkplug type a Python value is sent as when none is given."""
    if isinstance(value, bool):
        return DataType.BOOLEAN
    if isinstance(value, int):
        return DataType.INT64
    if isinstance(value, float):
        return DataType.DOUBLE
    if isinstance(value, str):
        return DataType.STRING
    if isinstance(value, bytes):
        return DataType.BYTES
    return DataType.UNKNOWN


def _signed(raw: int, bits: int) -> int:
    raw &= (1 << bits) - 1
    return raw - (1 << bits) if raw >> (bits - 1) else raw


# -- payloads as objects --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric: births carry ``name``, ``alias`` and ``datatype``; data usually only ``alias``
    and the value. ``value`` is ``None`` for a null and for types werk does not read (data sets,
    templates, arrays: their ``datatype`` says which)."""

    name: str | None = None
    value: Value = None
    datatype: DataType = DataType.UNKNOWN
    alias: int | None = None
    timestamp_ms: int | None = None
    is_null: bool = False
    is_historical: bool = False
    is_transient: bool = False
    properties: Mapping[str, Value] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Payload:
    metrics: tuple[Metric, ...] = ()
    timestamp_ms: int | None = None
    seq: int | None = None
    uuid: str | None = None
    body: bytes | None = None

    def metric(self, name: str) -> Metric | None:
        return next((m for m in self.metrics if m.name == name), None)


def parse(data: bytes) -> pb.Payload:
    """The protobuf message of a payload; :class:`SparkplugError` when it is not one."""
    try:
        message: pb.Payload = pb.Payload.FromString(data)
    except (DecodeError, ValueError, TypeError) as error:
        raise SparkplugError(
            f"malformed Sparkplug B payload ({len(data)} bytes): {error}"
        ) from error
    return message


def decode_payload(data: bytes) -> Payload:
    return payload_of(parse(data))


def payload_of(message: pb.Payload) -> Payload:
    return Payload(
        metrics=tuple(metric_of(m) for m in message.metrics),
        timestamp_ms=message.timestamp if message.HasField("timestamp") else None,
        seq=message.seq if message.HasField("seq") else None,
        uuid=message.uuid if message.HasField("uuid") else None,
        body=message.body if message.HasField("body") else None,
    )


def metric_of(m: pb.Payload.Metric) -> Metric:
    datatype = DataType.of(m.datatype)
    field_name = m.WhichOneof("value")
    null = m.is_null or field_name is None
    value: Value = None
    if not null and field_name in _SCALAR_FIELDS:
        value = _scalar(field_name, getattr(m, field_name), datatype)
    return Metric(
        name=m.name if m.HasField("name") else None,
        value=value,
        datatype=datatype,
        alias=m.alias if m.HasField("alias") else None,
        timestamp_ms=m.timestamp if m.HasField("timestamp") else None,
        is_null=null,
        is_historical=m.is_historical,
        is_transient=m.is_transient,
        properties=_properties(m.properties) if m.HasField("properties") else {},
    )


_SCALAR_FIELDS = frozenset(
    {
        "int_value",
        "long_value",
        "float_value",
        "double_value",
        "boolean_value",
        "string_value",
        "bytes_value",
    }
)


def _scalar(field_name: str, raw: Value, datatype: DataType) -> Value:
    if field_name in ("int_value", "long_value"):
        assert isinstance(raw, int)
        bits = SIGNED_BITS.get(datatype)
        return _signed(raw, bits) if bits else raw
    if field_name == "bytes_value" and datatype not in (DataType.BYTES, DataType.FILE):
        return None  # an array (Sparkplug 3.0 packs them into bytes): not read here
    return raw


def _properties(props: pb.Payload.PropertySet) -> dict[str, Value]:
    found: dict[str, Value] = {}
    for key, prop in zip(props.keys, props.values, strict=False):
        name = prop.WhichOneof("value")
        if name is None or prop.is_null or name not in _SCALAR_FIELDS:
            found[key] = None
        else:
            found[key] = _scalar(name, getattr(prop, name), DataType.of(prop.type))
    return found


def encode_payload(payload: Payload) -> bytes:
    """Protobuf bytes of a payload (values checked against their declared types)."""
    message = pb.Payload()
    if payload.timestamp_ms is not None:
        message.timestamp = payload.timestamp_ms
    if payload.seq is not None:
        message.seq = payload.seq
    if payload.uuid is not None:
        message.uuid = payload.uuid
    if payload.body is not None:
        message.body = payload.body
    for metric in payload.metrics:
        _fill(message.metrics.add(), metric)
    data: bytes = message.SerializeToString()
    return data


def _fill(m: pb.Payload.Metric, metric: Metric) -> None:
    if metric.name is not None:
        m.name = metric.name
    if metric.alias is not None:
        m.alias = metric.alias
    if metric.timestamp_ms is not None:
        m.timestamp = metric.timestamp_ms
    if metric.is_historical:
        m.is_historical = True
    if metric.is_transient:
        m.is_transient = True
    datatype = metric.datatype or infer_datatype(metric.value)
    if datatype:
        m.datatype = datatype
    for key, value in metric.properties.items():
        m.properties.keys.append(key)
        _fill_value(m.properties.values.add(), value, infer_datatype(value), key)
    if metric.is_null or metric.value is None:
        m.is_null = True
        return
    _fill_value(m, metric.value, datatype, metric.name or f"alias {metric.alias}")


def _fill_value(
    target: pb.Payload.Metric | pb.Payload.PropertyValue,
    value: Value,
    datatype: DataType,
    what: str,
) -> None:
    if isinstance(target, pb.Payload.PropertyValue):
        target.type = datatype
        if value is None:
            target.is_null = True
            return
    try:
        if datatype in SIGNED_BITS or datatype in UNSIGNED_BITS:
            number = _integer(value, datatype)
            if datatype in (DataType.INT64, DataType.UINT64):
                target.long_value = number
            else:
                target.int_value = number
        elif datatype is DataType.DATETIME:
            target.long_value = _integer(value, DataType.UINT64)
        elif datatype is DataType.FLOAT:
            target.float_value = float(value)  # type: ignore[arg-type]
        elif datatype is DataType.DOUBLE:
            target.double_value = float(value)  # type: ignore[arg-type]
        elif datatype is DataType.BOOLEAN:
            target.boolean_value = bool(value)
        elif datatype in _TEXT and isinstance(value, str):
            target.string_value = value
        elif datatype in (DataType.BYTES, DataType.FILE) and isinstance(value, bytes):
            if isinstance(target, pb.Payload.PropertyValue):
                raise SparkplugError("a property cannot hold bytes")
            target.bytes_value = value
        else:
            raise SparkplugError(f"cannot encode {value!r} as {datatype.name}")
    except (TypeError, ValueError, OverflowError) as error:
        raise SparkplugError(
            f"metric {what}: cannot encode {value!r} as {datatype.name}"
        ) from error
    except SparkplugError as error:
        raise SparkplugError(f"metric {what}: {error}") from None


def _integer(value: Value, datatype: DataType) -> int:
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("not a whole number")
        value = int(value)
    if not isinstance(value, int):  # bool is an int: True -> 1
        raise TypeError(f"{type(value).__name__} is not an integer")
    signed = SIGNED_BITS.get(datatype)
    if signed is not None:
        half = 1 << (signed - 1)
        if not -half <= value < half:
            raise OverflowError(f"out of range for {datatype.name}")
        return value & ((1 << signed) - 1)  # two's complement in the declared width
    if not 0 <= value < 1 << UNSIGNED_BITS[datatype]:
        raise OverflowError(f"out of range for {datatype.name}")
    return value


def rebirth_payload(timestamp_ms: int) -> bytes:
    """An NCMD asking an edge node to publish its births again (``Node Control/Rebirth``)."""
    return encode_payload(
        Payload(
            (Metric(REBIRTH_METRIC, True, DataType.BOOLEAN, timestamp_ms=timestamp_ms),),
            timestamp_ms=timestamp_ms,
        )
    )


def is_rebirth_request(data: bytes) -> bool:
    metric = decode_payload(data).metric(REBIRTH_METRIC)
    return metric is not None and metric.value is True


# -- STATE (Sparkplug 3.0: JSON, retained, QoS 1) -------------------------------------------------


@dataclass(frozen=True, slots=True)
class HostState:
    online: bool
    timestamp_ms: int


def state_payload(online: bool, timestamp_ms: int) -> bytes:
    return json.dumps({"online": online, "timestamp": timestamp_ms}, separators=(",", ":")).encode()


def parse_state(data: bytes) -> HostState:
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise SparkplugError(f"a STATE payload is JSON: {error}") from error
    if not isinstance(body, dict):
        raise SparkplugError("a STATE payload is a JSON object")
    online, timestamp = body.get("online"), body.get("timestamp")
    if (
        not isinstance(online, bool)
        or not isinstance(timestamp, int)
        or isinstance(timestamp, bool)
    ):
        raise SparkplugError('a STATE payload is {"online": <bool>, "timestamp": <ms>}')
    return HostState(online, timestamp)


# -- the hot path: metric values into columns -----------------------------------------------------

# What a metric of a born node or device becomes: (signal position, signed width). The position
# is in the host's signal table; UNBOUND when the plant file does not bind the metric, IGNORED
# for protocol metrics (bdSeq, Node Control/*) that are never samples. The width is the bits to
# sign-extend an integer by (0 for everything else).
Slot = tuple[int, int]
UNBOUND: Final = -1
IGNORED: Final = -2
AliasTable = Mapping[Any, Slot]  # keys: aliases (int) and names (str)

_NUMERIC_FIELDS = frozenset(
    {"int_value", "long_value", "float_value", "double_value", "boolean_value"}
)
_INT64_MAX = np.iinfo(np.int64).max
_BAD = int(Quality.BAD)


def slot(signal: int, datatype: DataType) -> Slot:
    return (signal, SIGNED_BITS.get(datatype, 0))


class Columns:
    """Samples collected as four Python lists (appends are the cheapest per-sample work there
    is), turned into one :class:`SampleBatch` per delivery with numpy."""

    __slots__ = ("quality", "signal", "timestamp", "value")

    def __init__(self) -> None:
        self.signal: list[int] = []
        self.timestamp: list[int] = []
        self.value: list[float] = []
        self.quality: list[int] = []

    def __len__(self) -> int:
        return len(self.signal)

    def append(self, signal: int, timestamp_ns: int, value: float, quality: int) -> None:
        self.signal.append(signal)
        self.timestamp.append(timestamp_ns)
        self.value.append(value)
        self.quality.append(quality)

    def clear(self) -> None:
        self.signal.clear()
        self.timestamp.clear()
        self.value.clear()
        self.quality.clear()

    def batch(self, names: Sequence[str]) -> SampleBatch:
        """The samples so far as one batch; ``names[position]`` is a signal's id. Only the
        signals that have samples become the batch's names."""
        if not self.signal:
            return SampleBatch.empty()
        positions = np.array(self.signal, dtype=np.int32)
        used, index = np.unique(positions, return_inverse=True)
        return SampleBatch(
            tuple(names[int(p)] for p in used),
            index.astype(np.int32).reshape(-1),
            _ns_column(self.timestamp),
            np.array(self.value, dtype=np.float64),
            np.array(self.quality, dtype=np.uint8),
        )


def _ns_column(timestamps: list[int]) -> npt.NDArray[np.int64]:
    try:
        return np.array(timestamps, dtype=np.int64)
    except OverflowError:
        # a device timestamp beyond 2262 (uint64 ms): pin it to the int64 limit; the outlet
        # refuses it as clock skew with the other far-future ones
        return np.array([min(t, int(_INT64_MAX)) for t in timestamps], dtype=np.int64)


@dataclass(slots=True)
class Counts:
    """What :func:`decode_values` skipped, by reason (the shell turns them into stats)."""

    unknown: int = 0  # alias or name not in the birth: the birth is out of date
    unbound: int = 0  # a metric the plant file does not bind
    unsupported: int = 0  # strings, bytes, arrays, data sets, templates: not samples
    nulls: int = 0  # is_null: stored as a value-less BAD sample


def decode_values(
    message: pb.Payload,
    table: AliasTable,
    quality: int,
    received_ns: int,
    out: Columns,
    counts: Counts,
) -> None:
    """Append every bound metric value of ``message`` to ``out``.

    A metric's timestamp is its own, else the payload's, else ``received_ns``. A null becomes
    NaN with quality BAD (a value the device said it does not have).
    """
    default_ms = message.timestamp
    default_ns = default_ms * NS_PER_MS if default_ms else received_ns
    signals, stamps, values, qualities = out.signal, out.timestamp, out.value, out.quality
    get = table.get
    for m in message.metrics:
        key = m.name or m.alias
        if key == 0 and not m.HasField("alias"):
            counts.unknown += 1  # neither name nor alias: nothing to resolve
            continue
        found = get(key)
        if found is None:
            counts.unknown += 1
            continue
        signal, bits = found
        if signal < 0:
            if signal == UNBOUND:
                counts.unbound += 1
            continue
        field_name = m.WhichOneof("value")
        if field_name is None or m.is_null:
            value = math.nan
            q = _BAD
            counts.nulls += 1
        elif field_name in _NUMERIC_FIELDS:
            raw = getattr(m, field_name)
            if bits:
                raw &= (1 << bits) - 1
                if raw >> (bits - 1):
                    raw -= 1 << bits
            value = float(raw)
            q = quality
        else:
            counts.unsupported += 1
            continue
        ms = m.timestamp
        signals.append(signal)
        stamps.append(ms * NS_PER_MS if ms else default_ns)
        values.append(value)
        qualities.append(q)


def decode_batch(
    payloads: Iterable[bytes],
    table: AliasTable,
    names: Sequence[str],
    received_ns: int,
    quality: int = Quality.GOOD,
) -> tuple[SampleBatch, Counts]:
    """Many DATA payloads of one node or device into one batch (no sequence or state tracking:
    that is the host's; this is the codec's share of the work, measured on its own)."""
    out = Columns()
    counts = Counts()
    for data in payloads:
        decode_values(parse(data), table, quality, received_ns, out, counts)
    return out.batch(names), counts

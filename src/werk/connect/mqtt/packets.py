"""MQTT 3.1.1 and 5 packets, as bytes: the pure codec under :mod:`werk.connect.mqtt.session`.

Why werk speaks MQTT itself rather than through paho-mqtt: receiving is the hot path of ingest,
and paho spends about 35-45 µs of interpreter time on each message it delivers (packet object,
``MQTTMessage``, callback matching, its own thread fighting the event loop for the interpreter
lock; measured with py-spy in benchmarks/ingest_mqtt.py). That capped werk's MQTT ingest at
about half of what one core can receive. :func:`parse` below splits a received buffer into
messages in about 1.5 µs each. A subscriber needs little of the protocol: CONNECT, SUBSCRIBE,
PUBLISH at QoS 0 and 1 both ways, PUBACK, PINGREQ and DISCONNECT; this module has exactly that
(QoS 2 is refused: werk never subscribes or publishes with it).

Everything here is a function of bytes: tested without a network
(tests/connect/test_mqtt_packets.py) and against Mosquitto (tests/connect/test_mqtt.py).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import NamedTuple

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 12, 13, 14
PINGREQ_PACKET = b"\xc0\x00"
DISCONNECT_PACKET = b"\xe0\x00"  # 3.1.1, and 5 with reason 0 (normal) and no properties
MAX_PACKET = 16 * 1024 * 1024
"""Largest packet accepted (the protocol allows 256 MB; a broker sending more is broken)."""

# MQTT 5 property identifiers used here
SESSION_EXPIRY_INTERVAL = 0x11
RECEIVE_MAXIMUM = 0x21

_CONNACK_3 = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorised",
}
_REASONS_5 = {
    0x80: "unspecified error",
    0x81: "malformed packet",
    0x82: "protocol error",
    0x83: "implementation specific error",
    0x84: "unsupported protocol version",
    0x85: "client identifier not valid",
    0x86: "bad user name or password",
    0x87: "not authorised",
    0x88: "server unavailable",
    0x89: "server busy",
    0x8A: "banned",
    0x8B: "server shutting down",
    0x8D: "keep alive timeout",
    0x8E: "session taken over",
    0x8F: "topic filter invalid",
    0x90: "topic name invalid",
    0x93: "receive maximum exceeded",
    0x95: "packet too large",
    0x97: "quota exceeded",
    0x9C: "use another server",
    0x9D: "server moved",
    0xA2: "wildcard subscriptions not supported",
}


class ProtocolError(Exception):
    """The peer sent something that is not MQTT (or not what was asked for): drop the
    connection."""


class Received(NamedTuple):
    """One message as the broker delivered it. ``mid`` and ``generation`` identify it for
    :meth:`~werk.connect.mqtt.session.MqttSession.ack`; ``received_ns`` is the arrival time
    (UTC ns), the default timestamp of its samples. (A tuple: cheap to make 50,000 times a
    second.)"""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    mid: int
    received_ns: int
    generation: int = 0  # which connection delivered it (acks of older ones are skipped)


class Control(NamedTuple):
    """A packet other than PUBLISH: its type, the flags of its first byte and its body."""

    kind: int
    flags: int
    body: bytes


# -- encoding -------------------------------------------------------------------------------------


def varint(n: int) -> bytes:
    """MQTT's variable byte integer (remaining length, property lengths)."""
    if not 0 <= n < 268_435_456:
        raise ValueError(f"{n} does not fit an MQTT variable byte integer")
    out = bytearray()
    while True:
        digit, n = n & 0x7F, n >> 7
        out.append(digit | 0x80 if n else digit)
        if not n:
            return bytes(out)


def _text(value: str) -> bytes:
    raw = value.encode()
    return _binary(raw)


def _binary(raw: bytes) -> bytes:
    if len(raw) > 0xFFFF:
        raise ValueError(f"{len(raw)} bytes: longer than an MQTT string may be (65,535)")
    return struct.pack("!H", len(raw)) + raw


def _packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + varint(len(body)) + body


def connect(
    client_id: str,
    *,
    clean: bool,
    keepalive_s: int,
    v5: bool = False,
    username: str | None = None,
    password: str | None = None,
    will: tuple[str, bytes, int, bool] | None = None,
    session_expiry_s: int = 0,
    receive_maximum: int = 65535,
) -> bytes:
    """CONNECT. With ``v5``, ``session_expiry_s`` (kept after a disconnect; 0: ends with it)
    and ``receive_maximum`` (QoS 1 messages the broker may have unacknowledged) go along."""
    flags = 0x02 if clean else 0
    if will is not None:
        _, _, will_qos, will_retain = will
        flags |= 0x04 | (will_qos << 3) | (0x20 if will_retain else 0)
    if username is not None:
        flags |= 0x80
    if password is not None:
        flags |= 0x40
    body = bytearray(_text("MQTT"))
    body += bytes((5 if v5 else 4, flags)) + struct.pack("!H", keepalive_s)
    if v5:
        properties = bytes((RECEIVE_MAXIMUM,)) + struct.pack("!H", receive_maximum)
        if session_expiry_s:
            properties += bytes((SESSION_EXPIRY_INTERVAL,)) + struct.pack("!I", session_expiry_s)
        body += varint(len(properties)) + properties
    body += _text(client_id)
    if will is not None:
        will_topic, will_payload, _, _ = will
        if v5:
            body += b"\x00"  # no will properties
        body += _text(will_topic) + _binary(will_payload)
    if username is not None:
        body += _text(username)
    if password is not None:
        body += _binary(password.encode())
    return _packet(CONNECT << 4, bytes(body))


def subscribe(mid: int, filters: Sequence[tuple[str, int]], v5: bool = False) -> bytes:
    for topic_filter, qos in filters:
        check_filter(topic_filter)
        if qos not in (0, 1):
            raise ValueError(f"subscription QoS {qos} for {topic_filter!r}: werk uses 0 or 1")
    body = bytearray(struct.pack("!H", mid))
    if v5:
        body += b"\x00"
    for topic_filter, qos in filters:
        body += _text(topic_filter) + bytes((qos,))
    return _packet((SUBSCRIBE << 4) | 0x02, bytes(body))


def publish(
    topic: str,
    payload: bytes,
    *,
    qos: int = 0,
    retain: bool = False,
    mid: int = 0,
    v5: bool = False,
) -> bytes:
    if qos not in (0, 1):
        raise ValueError(f"publish QoS {qos}: werk publishes with 0 or 1")
    if not topic or "+" in topic or "#" in topic or "\x00" in topic:
        raise ValueError(f"{topic!r} is not a topic one can publish to")
    head = _text(topic) + (struct.pack("!H", mid) if qos else b"") + (b"\x00" if v5 else b"")
    return _packet((PUBLISH << 4) | (qos << 1) | (1 if retain else 0), head + payload)


def as_duplicate(packet: bytes) -> bytes:
    """A QoS 1 PUBLISH sent again after a reconnect carries the DUP flag."""
    return bytes((packet[0] | 0x08,)) + packet[1:]


def puback(mid: int) -> bytes:
    """PUBACK (in MQTT 5 too: reason 0 and no properties may be left out)."""
    return b"\x40\x02" + struct.pack("!H", mid)


def check_filter(topic_filter: str) -> None:
    """A subscription filter's syntax: ``+`` a whole level, ``#`` a whole last level."""
    if not topic_filter or "\x00" in topic_filter:
        raise ValueError(f"{topic_filter!r} is not a topic filter")
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            raise ValueError(f"{topic_filter!r}: '#' must be the whole last level")
        if "+" in level and level != "+":
            raise ValueError(f"{topic_filter!r}: '+' must be a whole level")


# -- decoding -------------------------------------------------------------------------------------


def parse(
    data: bytes, v5: bool, received_ns: int, generation: int
) -> tuple[list[Received], list[Control], int]:
    """Split ``data`` into whole packets: the messages (PUBLISH) in order, the other packets, and
    where the first incomplete packet starts (keep ``data[used:]`` for the next read).

    The messages of one read arrived together; they are stamped ``received_ns``,
    ``received_ns + 1``, ... so that two values of one signal without timestamps of their own
    stay two samples, in arrival order.

    Raises :class:`ProtocolError` for what no broker may send (a malformed length, QoS 2 or 3, a
    packet over :data:`MAX_PACKET`).
    """
    messages: list[Received] = []
    controls: list[Control] = []
    append = messages.append
    pos, end = 0, len(data)
    while end - pos >= 2:
        first = data[pos]
        # the remaining length: one to four bytes, seven bits each (inline rather than
        # _varint_at: this loop runs for every message)
        length, shift, i = 0, 0, pos + 1
        while True:
            if i >= end:
                return messages, controls, pos
            digit = data[i]
            i += 1
            length |= (digit & 0x7F) << shift
            if digit < 0x80:
                break
            shift += 7
            if shift > 21:
                raise ProtocolError("malformed remaining length")
        if length > MAX_PACKET:
            raise ProtocolError(f"a packet of {length} bytes (at most {MAX_PACKET} accepted)")
        stop = i + length
        if stop > end:
            return messages, controls, pos
        if first >> 4 == PUBLISH:
            qos = (first >> 1) & 3
            if length < 2:
                raise ProtocolError("PUBLISH without a topic")
            j = i + 2 + ((data[i] << 8) | data[i + 1])
            topic = data[i + 2 : j].decode("utf-8", "replace")
            mid = 0
            if qos:
                if qos > 1:
                    raise ProtocolError(f"PUBLISH with QoS {qos}: werk subscribed with at most 1")
                mid = (data[j] << 8) | data[j + 1]
                j += 2
            if v5:
                skip, j = _varint_at(data, j)
                j += skip
            if j > stop:
                raise ProtocolError("PUBLISH shorter than its own header")
            append(
                Received(topic, data[j:stop], qos, bool(first & 1), mid, received_ns, generation)
            )
            received_ns += 1
        else:
            controls.append(Control(first >> 4, first & 0x0F, data[i:stop]))
        pos = stop
    return messages, controls, pos


def _varint_at(data: bytes, i: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if i >= len(data) or shift > 21:
            raise ProtocolError("malformed variable byte integer")
        digit = data[i]
        i += 1
        value |= (digit & 0x7F) << shift
        if digit < 0x80:
            return value, i
        shift += 7


class ConnAck(NamedTuple):
    session_present: bool
    refused: str | None
    """Why the broker refused the connection; None when it accepted it."""


def connack(body: bytes, v5: bool) -> ConnAck:
    if len(body) < 2:
        raise ProtocolError("CONNACK too short")
    code = body[1]
    if not code:
        return ConnAck(bool(body[0] & 1), None)
    table = _REASONS_5 if v5 else _CONNACK_3
    return ConnAck(False, f"{table.get(code, 'refused')} (code {code:#04x})")


def packet_id(body: bytes) -> int:
    if len(body) < 2:
        raise ProtocolError("acknowledgement without a packet id")
    return (body[0] << 8) | body[1]


def suback(body: bytes, v5: bool) -> tuple[int, list[int]]:
    """The packet id and one return code per filter (0x80 and up: refused)."""
    mid = packet_id(body)
    i = 2
    if v5:
        skip, i = _varint_at(body, i)
        i += skip
    return mid, list(body[i:])


def puback_failure(body: bytes) -> str | None:
    """An MQTT 5 PUBACK may carry a failure reason (e.g. not authorised); None when it is fine."""
    if len(body) > 2 and body[2] >= 0x80:
        return f"{_REASONS_5.get(body[2], 'refused')} (code {body[2]:#04x})"
    return None


def disconnect_reason(body: bytes) -> str:
    """Why an MQTT 5 broker disconnected us (its DISCONNECT's reason code)."""
    if not body:
        return "the broker closed the connection"
    return f"the broker disconnected: {_REASONS_5.get(body[0], 'reason')} (code {body[0]:#04x})"


def refusal(code: int) -> str:
    return _REASONS_5.get(code, "refused")


def packet_size(data: bytes) -> int:
    """The whole size of the packet ``data`` starts with; 0 while its header is incomplete
    (or malformed: :func:`parse` says so when it sees the packet)."""
    try:
        length, body = _varint_at(data, 1)
    except ProtocolError:
        return 0
    return body + length

"""werk's MQTT packets, as bytes: what goes out is what the standard says, what comes in is split
into messages however the bytes were cut, and what no broker may send is refused.

The packets werk must parse are written here from the standard (not with werk's encoder), and
paho-mqtt (a test dependency, not werk's) checks the variable byte integers both ways.
"""

from __future__ import annotations

import struct

import pytest

from werk.connect.mqtt import packets
from werk.connect.mqtt.packets import ProtocolError, Received


def spec_publish(topic: str, payload: bytes, qos: int, mid: int, v5: bool) -> bytes:
    """A PUBLISH written from the standard (MQTT 3.1.1 §3.3, 5.0 §3.3), lengths by paho's
    variable byte integer encoder: independent of werk's encoder."""
    from paho.mqtt.properties import VariableByteIntegers

    raw = topic.encode()
    body = struct.pack("!H", len(raw)) + raw
    if qos:
        body += struct.pack("!H", mid)
    if v5:
        body += b"\x02\x01\x01"  # properties (2 bytes): payload format indicator = UTF-8
    body += payload
    remaining = VariableByteIntegers.encode(len(body))  # type: ignore[no-untyped-call]
    return bytes((0x30 | (qos << 1),)) + remaining + body


@pytest.mark.parametrize("v5", [False, True])
def test_publishes_from_paho_split_however_the_bytes_arrive(v5: bool) -> None:
    sent = [
        ("plant/line1/press1/temp", b'{"v": 71.5}', 0, 0),
        ("plant/line1/press1/force", b"300", 1, 17),
        ("a/\u00fcnicode/topic", b"", 1, 65535),
        ("big", bytes(range(256)) * 600, 0, 0),  # a three-byte remaining length
    ]
    stream = b"".join(spec_publish(t, p, q, m, v5) for t, p, q, m in sent)
    expected = [(t, p, q, m) for t, p, q, m in sent]
    for cut in (1, 2, 3, 7, 64, 1000, len(stream)):
        got: list[Received] = []
        rest = b""
        for start in range(0, len(stream), cut):
            data = rest + stream[start : start + cut]
            messages, controls, used = packets.parse(data, v5, 1_000, 3)
            got += messages
            assert not controls
            rest = data[used:]
        assert rest == b""
        assert [(m.topic, m.payload, m.qos, m.mid) for m in got] == expected
        assert {m.generation for m in got} == {3}


def test_messages_of_one_read_get_distinct_arrival_times_in_order() -> None:
    stream = b"".join(packets.publish("t", b"%d" % i) for i in range(5))
    messages, _, _ = packets.parse(stream, False, 1_000, 1)
    assert [m.received_ns for m in messages] == [1000, 1001, 1002, 1003, 1004]


def test_retain_flag_and_control_packets() -> None:
    retained = packets.publish("t", b"x", retain=True)
    stream = retained + b"\x90\x03\x00\x05\x01" + b"\xd0\x00" + b"\x40\x02\x00\x09"
    messages, controls, used = packets.parse(stream, False, 0, 1)
    assert used == len(stream)
    assert messages[0].retain is True
    assert [c.kind for c in controls] == [packets.SUBACK, packets.PINGRESP, packets.PUBACK]
    assert packets.suback(controls[0].body, False) == (5, [1])
    assert packets.packet_id(controls[2].body) == 9


@pytest.mark.parametrize(
    ("stream", "why"),
    [
        (b"\x34\x05\x00\x01t\x00\x01", "QoS 2"),  # werk never subscribes with QoS 2
        (b"\x30\xff\xff\xff\xff\x01", "remaining length"),
        (b"\x30" + packets.varint(packets.MAX_PACKET + 1), "at most"),
        (b"\x30\x01\x00", "without a topic"),
        (b"\x30\x03\x00\x09t", "shorter than its own header"),
    ],
)
def test_what_no_broker_may_send_is_refused(stream: bytes, why: str) -> None:
    with pytest.raises(ProtocolError, match=why):
        packets.parse(stream, False, 0, 1)


def test_variable_byte_integers_match_paho() -> None:
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import VariableByteIntegers

    for n in (0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 268_435_455):
        encoded = packets.varint(n)
        assert VariableByteIntegers.decode(encoded) == (n, len(encoded))  # type: ignore[no-untyped-call]
        assert packets.packet_size(b"\x30" + encoded) == 1 + len(encoded) + n
    with pytest.raises(ValueError):
        packets.varint(268_435_456)
    assert PacketTypes.PUBLISH == packets.PUBLISH


def test_connect_carries_what_the_session_asks_for() -> None:
    will = ("spBv1.0/STATE/werk", b'{"online": false}', 1, True)
    packet = packets.connect(
        "werk-line1",
        clean=False,
        keepalive_s=30,
        v5=True,
        username="werk",
        password="s3cret",
        will=will,
        session_expiry_s=604_800,
    )
    assert packet[0] == 0x10
    length, start = packets._varint_at(packet, 1)
    body = packet[start:]
    assert len(body) == length
    assert body[:7] == b"\x00\x04MQTT\x05"
    flags = body[7]
    assert flags == 0x80 | 0x40 | 0x20 | (1 << 3) | 0x04  # user, password, will retain/QoS 1/will
    assert struct.unpack("!H", body[8:10]) == (30,)
    properties_length, at = packets._varint_at(body, 10)
    properties = body[at : at + properties_length]
    assert properties == b"\x21\xff\xff\x11" + struct.pack("!I", 604_800)
    assert body.endswith(b"\x00\x04werk\x00\x06s3cret")
    assert b"\x00\x0awerk-line1" in body and will[1] in body

    clean = packets.connect("c", clean=True, keepalive_s=5)
    assert clean[2:12] == b"\x00\x04MQTT\x04\x02\x00\x05"


def test_subscriptions_and_topics_are_checked_before_sending() -> None:
    assert packets.subscribe(7, [("a/+/b", 1), ("c/#", 0)]) == (
        b"\x82\x10\x00\x07" + b"\x00\x05a/+/b\x01" + b"\x00\x03c/#\x00"
    )
    for bad in ("bad/#/topic", "a/b+", "", "a/#b"):
        with pytest.raises(ValueError):
            packets.subscribe(1, [(bad, 0)])
    with pytest.raises(ValueError, match="QoS 2"):
        packets.subscribe(1, [("a", 2)])
    with pytest.raises(ValueError, match="publish to"):
        packets.publish("a/+/b", b"")
    first = packets.publish("t", b"x", qos=1, mid=3)
    assert packets.as_duplicate(first)[0] == first[0] | 0x08 and first[0] == 0x32


def test_refusals_and_disconnects_say_why() -> None:
    assert packets.connack(b"\x01\x00", False) == (True, None)
    assert "bad user name or password" in str(packets.connack(b"\x00\x04", False).refused)
    assert "not authorised" in str(packets.connack(b"\x00\x87", True).refused)
    assert packets.puback_failure(b"\x00\x01\x87") is not None
    assert packets.puback_failure(b"\x00\x01\x10") is None  # no matching subscribers: fine
    assert "session taken over" in packets.disconnect_reason(b"\x8e")

"""The Sparkplug B codec without a network: topics, payloads both ways, STATE, the hot path — and
agreement with an independent implementation (pysparkplug) in both directions."""

from __future__ import annotations

import math
import time

import numpy as np
import pysparkplug as psp
import pytest
from google.protobuf.message import DecodeError

from werk.connect.sparkplug import codec, sparkplug_b_pb2
from werk.connect.sparkplug.codec import (
    Address,
    DataType,
    MessageType,
    Metric,
    Payload,
    SparkplugError,
    Topic,
    decode_batch,
    decode_payload,
    encode_payload,
    parse_state,
    parse_topic,
    rebirth_payload,
    slot,
    state_payload,
)
from werk.core import Quality

NOW_MS = time.time_ns() // 1_000_000


# -- topics and addresses -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("spBv1.0/Plant1/NBIRTH/Line1", Topic(MessageType.NBIRTH, "Plant1", "Line1")),
        ("spBv1.0/Plant1/NDATA/Line1", Topic(MessageType.NDATA, "Plant1", "Line1")),
        ("spBv1.0/Plant1/NDEATH/Line1", Topic(MessageType.NDEATH, "Plant1", "Line1")),
        ("spBv1.0/Plant1/NCMD/Line1", Topic(MessageType.NCMD, "Plant1", "Line1")),
        ("spBv1.0/P/DBIRTH/L/Press 1", Topic(MessageType.DBIRTH, "P", "L", "Press 1")),
        ("spBv1.0/P/DDATA/L/Press1", Topic(MessageType.DDATA, "P", "L", "Press1")),
        ("spBv1.0/P/DDEATH/L/Press1", Topic(MessageType.DDEATH, "P", "L", "Press1")),
        ("spBv1.0/P/DCMD/L/Press1", Topic(MessageType.DCMD, "P", "L", "Press1")),
        ("spBv1.0/STATE/scada-1", Topic(MessageType.STATE, "", "scada-1")),
    ],
)
def test_topics_parse_and_print_back(text: str, expected: Topic) -> None:
    assert parse_topic(text) == expected
    assert str(expected) == text


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("spAv1.0/P/NDATA/L", "not a Sparkplug B topic"),
        ("spBv1.0/P", "not a Sparkplug B topic"),
        ("spBv1.0/P/NDATA/L/D", "NDATA topic is spBv1.0/<group>/<type>/<node>"),
        ("spBv1.0/P/DDATA/L", "DDATA topic is spBv1.0/<group>/<type>/<node>/<device>"),
        ("spBv1.0/P/NDATA/", "NDATA topic"),
        ("spBv1.0/P/HELLO/L", "unknown message type 'HELLO'"),
        ("spBv1.0/STATE/a/b", "STATE topic is spBv1.0/STATE/<host id>"),
    ],
)
def test_bad_topics_name_the_rule(text: str, rule: str) -> None:
    with pytest.raises(SparkplugError, match=rule.replace("+", r"\+")):
        parse_topic(text)


def test_addresses_keep_slashes_and_colons_in_metric_names() -> None:
    assert Address.parse("Plant1/Line1/Press1:Temperature") == Address(
        "Plant1", "Line1", "Press1", "Temperature"
    )
    node_metric = Address.parse("G/N:Node Control/Rebirth")
    assert node_metric == Address("G", "N", None, "Node Control/Rebirth")
    assert str(node_metric) == "G/N:Node Control/Rebirth"
    assert Address.parse("G/N:a:b").metric == "a:b"
    for bad in ("G:M", "G/N/D/E:M", "G/N:", "G//D:M", "G/N"):
        with pytest.raises(SparkplugError, match="Group/Node"):
            Address.parse(bad)


# -- payloads both ways ---------------------------------------------------------------------------

EVERY_TYPE = [
    Metric("i8", -128, DataType.INT8, alias=1),
    Metric("i16", -2, DataType.INT16, alias=2),
    Metric("i32", -(2**31), DataType.INT32, alias=3),
    Metric("i64", -(2**63), DataType.INT64, alias=4),
    Metric("u8", 255, DataType.UINT8, alias=5),
    Metric("u16", 65535, DataType.UINT16, alias=6),
    Metric("u32", 2**32 - 1, DataType.UINT32, alias=7),
    Metric("u64", 2**64 - 1, DataType.UINT64, alias=8),
    Metric("f", 1.5, DataType.FLOAT, alias=9),
    Metric("d", math.pi, DataType.DOUBLE, alias=10),
    Metric("b", True, DataType.BOOLEAN, alias=11),
    Metric("s", "grün", DataType.STRING, alias=12),
    Metric("t", NOW_MS, DataType.DATETIME, alias=13),
    Metric("x", "long text", DataType.TEXT, alias=14),
    Metric("raw", b"\x00\x01", DataType.BYTES, alias=15),
    Metric("gone", None, DataType.DOUBLE, alias=16, is_null=True),
    Metric("p", 3.0, DataType.DOUBLE, alias=17, properties={"engUnit": "bar", "limit": 7}),
]


def test_every_scalar_type_round_trips() -> None:
    payload = Payload(tuple(EVERY_TYPE), timestamp_ms=NOW_MS, seq=0, uuid="u-1")
    back = decode_payload(encode_payload(payload))
    assert back.seq == 0 and back.timestamp_ms == NOW_MS and back.uuid == "u-1"
    assert back.metrics == payload.metrics


def test_signed_integers_read_back_from_either_width_of_twos_complement() -> None:
    # Tahu Java widens an Int8 of -1 to 32 bits; Tahu Python and pysparkplug write 8 bits.
    message = sparkplug_b_pb2.Payload()
    for raw in (0xFF, 0xFFFFFFFF):
        m = message.metrics.add()
        m.name, m.datatype, m.int_value = "i8", DataType.INT8, raw
    values = [m.value for m in decode_payload(message.SerializeToString()).metrics]
    assert values == [-1, -1]


@pytest.mark.parametrize(
    "metric",
    [
        Metric("a", 128, DataType.INT8),
        Metric("a", -1, DataType.UINT16),
        Metric("a", 2**64, DataType.UINT64),
        Metric("a", 1.5, DataType.INT32),
        Metric("a", "x", DataType.DOUBLE),
        Metric("a", [1, 2], DataType.INT8_ARRAY),  # type: ignore[arg-type]
    ],
)
def test_values_that_do_not_fit_their_type_are_refused_by_name(metric: Metric) -> None:
    with pytest.raises(SparkplugError, match="metric a: "):
        encode_payload(Payload((metric,)))


def test_malformed_protobuf_is_a_sparkplug_error_with_the_cause_chained() -> None:
    with pytest.raises(SparkplugError, match="malformed") as caught:
        decode_payload(b"\x0a\xff\xff\xff")
    assert isinstance(caught.value.__cause__, DecodeError)


def test_rebirth_command_and_state() -> None:
    command = decode_payload(rebirth_payload(NOW_MS))
    (metric,) = command.metrics
    assert (metric.name, metric.value, metric.datatype) == (
        "Node Control/Rebirth",
        True,
        DataType.BOOLEAN,
    )
    assert codec.is_rebirth_request(rebirth_payload(NOW_MS))
    assert state_payload(True, 5) == b'{"online":true,"timestamp":5}'
    assert parse_state(state_payload(False, NOW_MS)) == codec.HostState(False, NOW_MS)
    for bad in (b"nope", b"[]", b'{"online": 1, "timestamp": 2}', b'{"online": true}'):
        with pytest.raises(SparkplugError, match="STATE"):
            parse_state(bad)


# -- against pysparkplug --------------------------------------------------------------------------


def test_our_generated_schema_is_the_one_pysparkplug_ships() -> None:
    # Both register "sparkplug_b.proto" in protobuf's default pool, which refuses a second file of
    # that name with a different content: sharing one descriptor means byte-identical schemas.
    from pysparkplug._protobuf import sparkplug_b_pb2 as theirs

    assert sparkplug_b_pb2.DESCRIPTOR is theirs.DESCRIPTOR
    assert sparkplug_b_pb2.DESCRIPTOR.package == "org.eclipse.tahu.protobuf"


def _psp_metrics() -> tuple[psp.Metric, ...]:
    return (
        psp.Metric(NOW_MS, "bdSeq", psp.DataType.UINT64, value=3, alias=0),
        psp.Metric(NOW_MS, "Temperature", psp.DataType.DOUBLE, value=21.25, alias=1),
        psp.Metric(NOW_MS, "Offset", psp.DataType.INT16, value=-300, alias=2),
        psp.Metric(NOW_MS, "Small", psp.DataType.INT8, value=-1, alias=3),
        psp.Metric(NOW_MS, "Strokes", psp.DataType.UINT32, value=4_000_000_000, alias=4),
        psp.Metric(NOW_MS, "Delta", psp.DataType.INT64, value=-(2**40), alias=5),
        psp.Metric(NOW_MS, "Running", psp.DataType.BOOLEAN, value=True, alias=6),
        psp.Metric(NOW_MS, "Speed", psp.DataType.FLOAT, value=0.5, alias=7),
        psp.Metric(NOW_MS, "Recipe", psp.DataType.STRING, value="A-17", alias=8),
        psp.Metric(NOW_MS, "Empty", psp.DataType.DOUBLE, value=None, alias=9, is_null=True),
    )


def test_pysparkplug_births_decode_with_every_value() -> None:
    raw = psp.NBirth(NOW_MS, 0, _psp_metrics()).encode()
    ours = decode_payload(raw)
    assert ours.seq == 0 and ours.timestamp_ms == NOW_MS
    got = {m.name: (m.alias, m.datatype.value, m.value, m.is_null) for m in ours.metrics}
    want = {m.name: (m.alias, int(m.datatype), m.value, m.is_null) for m in _psp_metrics()}
    assert got == want


def test_pysparkplug_data_without_datatypes_decodes_through_the_birth_table() -> None:
    birth = psp.DBirth(NOW_MS, 1, _psp_metrics())
    data = psp.DData(
        NOW_MS + 5,
        2,
        (
            psp.Metric(None, None, psp.DataType.INT16, value=-7, alias=2),
            psp.Metric(NOW_MS + 4, None, psp.DataType.DOUBLE, value=22.5, alias=1),
            psp.Metric(None, None, psp.DataType.INT8, value=-100, alias=3),
        ),
    ).encode()  # pysparkplug leaves datatypes out of DATA, as the specification allows
    names = ["offset", "temperature", "small"]
    table = {
        m.alias: slot(names.index(m.name.lower()), DataType(int(m.datatype)))
        for m in birth.metrics
        if m.name and m.name.lower() in names and m.alias is not None
    }
    batch, counts = decode_batch([data], table, names, time.time_ns())
    assert counts == codec.Counts()
    assert [batch.names[i] for i in batch.index] == ["offset", "temperature", "small"]
    assert batch.values.tolist() == [-7.0, 22.5, -100.0]
    assert (batch.timestamps // 1_000_000).tolist() == [NOW_MS + 5, NOW_MS + 4, NOW_MS + 5]


def test_pysparkplug_deaths_commands_and_state_decode() -> None:
    death = psp.NDeath(NOW_MS, psp.Metric(None, "bdSeq", psp.DataType.UINT64, value=9))
    assert decode_payload(death.encode()).metric("bdSeq") == Metric("bdSeq", 9, DataType.UINT64)
    ddeath = decode_payload(psp.DDeath(NOW_MS, 17).encode())
    assert (ddeath.seq, ddeath.metrics) == (17, ())
    rebirth = psp.NCmd(
        NOW_MS, (psp.Metric(NOW_MS, "Node Control/Rebirth", psp.DataType.BOOLEAN, value=True),)
    )
    assert codec.is_rebirth_request(rebirth.encode())
    state = psp.State(NOW_MS, True).encode()
    assert parse_state(state) == codec.HostState(True, NOW_MS)


def test_our_payloads_decode_with_pysparkplug() -> None:
    metrics = tuple(m for m in EVERY_TYPE if m.datatype in codec.PLANT_TYPE or m.is_null)
    birth = encode_payload(Payload(metrics, timestamp_ms=NOW_MS, seq=0))
    theirs = psp.NBirth.decode(birth)
    assert theirs.seq == 0 and theirs.timestamp == NOW_MS
    by_name = {m.name: m for m in theirs.metrics}
    for ours in metrics:
        other = by_name[ours.name]
        assert (other.alias, int(other.datatype), other.is_null) == (
            ours.alias,
            ours.datatype,
            ours.is_null,
        )
        if ours.datatype is DataType.DATETIME:
            assert int(other.value.timestamp() * 1000) == ours.value  # type: ignore[union-attr]
        elif ours.datatype is DataType.FLOAT:
            assert other.value == pytest.approx(ours.value)
        elif not ours.is_null:
            assert other.value == ours.value
    data = encode_payload(
        Payload((Metric(None, -5, DataType.INT8, alias=1),), timestamp_ms=NOW_MS, seq=1)
    )
    birth_i8 = psp.NBirth(
        NOW_MS, 0, (psp.Metric(NOW_MS, "x", psp.DataType.INT8, value=0, alias=1),)
    )
    (value,) = psp.NData.decode(data, birth=birth_i8).metrics
    assert (value.name, value.value) == ("x", -5)
    command = psp.NCmd.decode(rebirth_payload(NOW_MS))
    assert command.metrics[0].name == "Node Control/Rebirth" and command.metrics[0].value is True
    assert psp.State.decode(state_payload(True, NOW_MS)) == psp.State(NOW_MS, True)


# -- the hot path ---------------------------------------------------------------------------------


def test_decode_batch_makes_one_batch_of_many_messages() -> None:
    table = {
        1: slot(0, DataType.DOUBLE),
        2: slot(1, DataType.INT32),
        3: slot(codec.UNBOUND, DataType.DOUBLE),
    }
    names = ["a", "b"]
    payloads = [
        encode_payload(
            Payload(
                (
                    Metric(None, float(i), DataType.DOUBLE, alias=1),
                    Metric(None, -i, DataType.INT32, alias=2, timestamp_ms=NOW_MS + 1),
                    Metric(None, 1.0, DataType.DOUBLE, alias=3),  # unbound
                    Metric(None, 1.0, DataType.DOUBLE, alias=99),  # not in the birth
                ),
                timestamp_ms=NOW_MS,
                seq=i,
            )
        )
        for i in range(100)
    ]
    batch, counts = decode_batch(payloads, table, names, 0)
    assert len(batch) == 200 and batch.names == ("a", "b")
    assert batch.for_signal("a").values.tolist() == [float(i) for i in range(100)]
    assert batch.for_signal("b").values.tolist() == [-float(i) for i in range(100)]
    assert set(batch.for_signal("b").timestamps.tolist()) == {(NOW_MS + 1) * 1_000_000}
    assert (counts.unbound, counts.unknown, counts.unsupported, counts.nulls) == (100, 100, 0, 0)


def test_hot_path_nulls_strings_and_absurd_timestamps() -> None:
    table = {
        "n": slot(0, DataType.DOUBLE),
        "s": slot(1, DataType.STRING),
        "t": slot(2, DataType.DOUBLE),
    }
    payload = encode_payload(
        Payload(
            (
                Metric("n", None, DataType.DOUBLE, is_null=True),
                Metric("s", "text", DataType.STRING),
                Metric("t", 1.0, DataType.DOUBLE, timestamp_ms=2**64 - 1),  # year 584 million
            )
        )
    )
    received = time.time_ns()
    batch, counts = decode_batch([payload], table, ["n", "s", "t"], received)
    assert (counts.nulls, counts.unsupported) == (1, 1)
    assert batch.names == ("n", "t")
    assert math.isnan(batch.values[0]) and batch.quality[0] == Quality.BAD
    assert batch.timestamps.tolist() == [received, np.iinfo(np.int64).max]

"""The primary host's state machine without a network: births and aliases, sequence gaps and
rebirth requests, bdSeq and deaths, bad input counted — and bad values screened by the outlet."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import pysparkplug as psp
import pytest

from tests.connect.harness import Downstream
from werk.connect import Binding, ConnectError, ConnectorStats, Outlet
from werk.connect.sparkplug.codec import (
    DataType,
    MessageType,
    Metric,
    Payload,
    decode_payload,
    encode_payload,
    parse_topic,
    topic,
)
from werk.connect.sparkplug.host import SparkplugHost
from werk.core import NS_PER_S, ConfigError, Quality, SampleBatch

GROUP, NODE, DEVICE = "Plant1", "Line1", "Press1"
BINDINGS = (
    Binding("line1.temperature", f"{GROUP}/{NODE}:Temperature"),
    Binding("press1.pressure", f"{GROUP}/{NODE}/{DEVICE}:Pressure"),
    Binding("press1.offset", f"{GROUP}/{NODE}/{DEVICE}:Offset", "short"),
    Binding("press1.running", f"{GROUP}/{NODE}/{DEVICE}:Running", "boolean"),
    Binding("press1.setpoint", f"{GROUP}/{NODE}/{DEVICE}:Setpoint", "float"),
    Binding("press1.recipe", f"{GROUP}/{NODE}/{DEVICE}:Recipe", "string"),
)
NODE_METRICS = (
    Metric("bdSeq", 0, DataType.UINT64),
    Metric("Node Control/Rebirth", False, DataType.BOOLEAN),
    Metric("Temperature", 20.0, DataType.DOUBLE, alias=1),
    Metric("Uptime", 5, DataType.UINT64, alias=2),  # not bound
)
DEVICE_METRICS = (
    Metric("Pressure", 100.0, DataType.FLOAT, alias=10),
    Metric("Offset", -3, DataType.INT16, alias=11),
    Metric("Running", True, DataType.BOOLEAN, alias=12),
    Metric("Setpoint", 7.5, DataType.FLOAT, alias=13),
    Metric("Recipe", "A-17", DataType.STRING, alias=14),
)


class Edge:
    """An edge node that numbers its messages like a real one."""

    def __init__(self, host: SparkplugHost, bd_seq: int = 0) -> None:
        self.host = host
        self.bd_seq = bd_seq
        self.seq = 0
        self.clock_ns = time.time_ns()

    def send(
        self,
        kind: MessageType,
        metrics: tuple[Metric, ...] = (),
        device: str | None = None,
        seq: int | None = None,
    ) -> None:
        if kind is MessageType.NBIRTH:
            self.seq = 0
        if kind is not MessageType.NDEATH:
            seq = self.seq if seq is None else seq
            self.seq = (seq + 1) % 256
        self.clock_ns += 1_000_000
        payload = Payload(metrics, timestamp_ms=self.clock_ns // 1_000_000, seq=seq)
        self.host.receive(topic(kind, GROUP, NODE, device), encode_payload(payload), self.clock_ns)

    def birth(self) -> None:
        metrics = (Metric("bdSeq", self.bd_seq, DataType.UINT64), *NODE_METRICS[1:])
        self.send(MessageType.NBIRTH, metrics)
        self.send(MessageType.DBIRTH, DEVICE_METRICS, DEVICE)

    def ddata(self, *values: tuple[int, float | int | bool], seq: int | None = None) -> None:
        metrics = tuple(Metric(None, v, _type(a), alias=a) for a, v in values)
        self.send(MessageType.DDATA, metrics, DEVICE, seq)

    def death(self, bd_seq: int) -> None:
        self.send(MessageType.NDEATH, (Metric("bdSeq", bd_seq, DataType.UINT64),))


def _type(alias: int) -> DataType:
    return {10: DataType.FLOAT, 11: DataType.INT16, 12: DataType.BOOLEAN}.get(
        alias, DataType.DOUBLE
    )


def host_and_edge(**options: object) -> tuple[SparkplugHost, Edge]:
    host = SparkplugHost(BINDINGS, ConnectorStats("spb"), **options)  # type: ignore[arg-type]
    return host, Edge(host)


def samples(batch: SampleBatch) -> list[tuple[str, float, int]]:
    return [(s, v, q) for s, _, v, q in batch.rows()]


def test_births_name_metrics_and_data_resolves_aliases() -> None:
    host, edge = host_and_edge()
    edge.birth()
    out = host.take()
    assert samples(out.batch) == [
        ("line1.temperature", 20.0, Quality.GOOD),
        ("press1.pressure", 100.0, Quality.GOOD),
        ("press1.offset", -3.0, Quality.GOOD),
        ("press1.running", 1.0, Quality.GOOD),
        ("press1.setpoint", 7.5, Quality.GOOD),
    ]
    assert out.rebirths == ()
    edge.ddata((10, 101.5), (11, -300), (12, False))
    edge.send(MessageType.NDATA, (Metric(None, 21.0, alias=1),))
    out = host.take()
    assert samples(out.batch) == [
        ("press1.pressure", 101.5, Quality.GOOD),
        ("press1.offset", -300.0, Quality.GOOD),
        ("press1.running", 0.0, Quality.GOOD),
        ("line1.temperature", 21.0, Quality.GOOD),
    ]
    payload_ms = (edge.clock_ns - 1_000_000) // 1_000_000  # the DDATA payload's timestamp
    assert out.batch.timestamps[0] == payload_ms * 1_000_000
    stats = host.stats
    assert stats.rejected["unbound-metric"] == 1  # Uptime (bdSeq and Node Control are protocol)
    assert stats.rejected["unsupported-type"] == 1  # Recipe: a string is no sample
    assert stats.extra["births"] == 2 and stats.gaps == 0


def test_unbound_metrics_are_named_once_at_birth_and_counted_quietly(caplog) -> None:
    caplog.set_level(logging.INFO, logger="werk")
    host, edge = host_and_edge()
    edge.birth()
    host.take()
    said = [r for r in caplog.records if "no plant-file signal binds" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.INFO
    assert "1 metric(s)" in said[0].getMessage() and "(Uptime)" in said[0].getMessage()
    caplog.clear()
    at_birth = host.stats.rejected["unbound-metric"]  # the birth's own value of Uptime
    for _ in range(3):
        edge.send(MessageType.NDATA, (Metric("Uptime", 5.0),))
    host.take()
    assert host.stats.rejected["unbound-metric"] == at_birth + 3
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_sequence_gap_requests_one_rebirth_and_marks_data_uncertain_until_the_birth() -> None:
    host, edge = host_and_edge()
    edge.birth()
    edge.ddata((10, 1.0))
    host.take()
    edge.ddata((10, 2.0), seq=edge.seq + 3)  # three messages lost
    edge.ddata((10, 3.0))
    edge.ddata((10, 4.0))
    out = host.take()
    assert out.rebirths == ((GROUP, NODE),)  # once, not once per message
    assert host.stats.gaps == 1 and host.stats.extra["rebirths_requested"] == 1
    assert samples(out.batch) == [("press1.pressure", v, Quality.UNCERTAIN) for v in (2, 3, 4)]
    edge.send(MessageType.DBIRTH, DEVICE_METRICS, DEVICE)  # names all it says: good
    assert {q for _, _, q in samples(host.take().batch)} == {Quality.GOOD}
    edge.birth()  # the answer
    edge.ddata((10, 5.0))
    out = host.take()
    assert out.rebirths == ()
    assert samples(out.batch)[-1] == ("press1.pressure", 5.0, Quality.GOOD)
    edge.ddata((10, 6.0), seq=edge.seq + 1)  # a new gap: a new request, at once
    assert host.take().rebirths == ((GROUP, NODE),)
    assert host.stats.gaps == 2


def test_an_unanswered_rebirth_is_repeated_only_after_the_interval() -> None:
    host, edge = host_and_edge(rebirth_interval_s=5.0)
    edge.birth()
    edge.ddata((10, 1.0), seq=9)
    assert host.take().rebirths == ((GROUP, NODE),)
    edge.ddata((10, 1.0))
    assert host.take().rebirths == ()
    edge.clock_ns += 5 * NS_PER_S
    edge.ddata((10, 1.0))
    assert host.take().rebirths == ((GROUP, NODE),)  # still out of sequence: asked again


def test_sequence_numbers_wrap_after_255() -> None:
    host, edge = host_and_edge()
    edge.birth()
    for _ in range(600):
        edge.ddata((10, 1.0))
    out = host.take()
    assert host.stats.gaps == 0 and out.rebirths == ()
    assert set(out.batch.quality.tolist()) == {Quality.GOOD}


def test_data_before_birth_and_unknown_aliases_ask_for_a_rebirth() -> None:
    host, edge = host_and_edge()
    edge.ddata((10, 1.0), seq=40)
    edge.send(MessageType.NDATA, (Metric(None, 1.0, alias=1),), seq=41)
    out = host.take()
    assert len(out.batch) == 0 and out.rebirths == ((GROUP, NODE),)
    assert host.stats.rejected["before-birth"] == 2
    edge.birth()
    host.take()
    edge.ddata((10, 1.0), (77, 2.0))  # alias 77 was never born
    out = host.take()
    assert samples(out.batch) == [("press1.pressure", 1.0, Quality.GOOD)]  # the rest goes on
    assert host.stats.rejected["unknown-alias"] == 1 and out.rebirths == ((GROUP, NODE),)


def test_joining_a_running_node_is_no_warning_but_data_after_its_death_is(caplog) -> None:
    caplog.set_level(logging.INFO, logger="werk")
    host, edge = host_and_edge()
    for seq in (40, 41, 42):  # werk started while the node was running
        edge.send(MessageType.NDATA, (Metric(None, 1.0, alias=1),), seq=seq)
    assert host.take().rebirths == ((GROUP, NODE),)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "data before birth: it was running before werk" in caplog.text
    edge.birth()
    edge.death(edge.bd_seq)
    host.take()
    caplog.clear()
    edge.send(MessageType.NDATA, (Metric(None, 1.0, alias=1),))
    host.take()
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "before-birth" in warned[0].getMessage()
    assert host.stats.rejected["before-birth"] == 4


def test_a_device_that_was_not_born_asks_for_a_rebirth() -> None:
    host, edge = host_and_edge()
    edge.send(MessageType.NBIRTH, NODE_METRICS)
    edge.ddata((10, 1.0))
    out = host.take()
    assert out.rebirths == ((GROUP, NODE),) and host.stats.rejected["before-birth"] == 1


def test_a_stale_ndeath_does_not_kill_the_new_session() -> None:
    host, edge = host_and_edge()
    edge.bd_seq = 4
    edge.birth()
    host.take()
    edge.death(3)  # the will of the session before, delivered late
    edge.ddata((10, 1.0))
    out = host.take()
    assert samples(out.batch) == [("press1.pressure", 1.0, Quality.GOOD)]
    assert host.stats.extra["stale_deaths"] == 1 and host.stats.extra["deaths"] == 0


def test_ndeath_marks_the_node_and_its_devices_stale() -> None:
    host, edge = host_and_edge()
    edge.bd_seq = 4
    edge.birth()
    host.take()
    edge.death(4)
    out = host.take()
    stale = samples(out.batch)
    assert {s for s, _, _ in stale} == {b.signal for b in BINDINGS}
    assert all(math.isnan(v) and q == Quality.STALE for _, v, q in stale)
    assert set(out.batch.timestamps.tolist()) == {edge.clock_ns}  # when werk learned of it
    edge.ddata((10, 1.0))  # a dead node's data: wait for its birth
    assert host.take().rebirths == ((GROUP, NODE),)


def test_ddeath_marks_only_that_device_stale_and_a_dbirth_revives_it() -> None:
    host, edge = host_and_edge()
    edge.birth()
    host.take()
    edge.send(MessageType.DDEATH, device=DEVICE)
    edge.send(MessageType.NDATA, (Metric(None, 30.0, alias=1),))
    out = host.take()
    rows = samples(out.batch)
    assert [(s, q) for s, _, q in rows[:5]] == [(b.signal, Quality.STALE) for b in BINDINGS[1:]]
    assert rows[5] == ("line1.temperature", 30.0, Quality.GOOD)
    edge.ddata((10, 1.0))
    assert host.stats.rejected["before-birth"] == 1
    edge.send(MessageType.DBIRTH, DEVICE_METRICS, DEVICE)
    edge.ddata((10, 2.0))
    assert samples(host.take().batch)[-1] == ("press1.pressure", 2.0, Quality.GOOD)
    assert host.stats.gaps == 0


def test_nbirth_forgets_the_devices_of_the_session_before() -> None:
    host, edge = host_and_edge()
    edge.birth()
    edge.send(MessageType.NBIRTH, NODE_METRICS)
    edge.ddata((10, 1.0))
    assert host.stats.rejected["before-birth"] == 1


def test_bad_input_is_counted_and_the_rest_goes_on() -> None:
    host, edge = host_and_edge()
    edge.birth()
    host.take()
    host.receive(topic(MessageType.DDATA, GROUP, NODE, DEVICE), b"\x0a\xff\xff", edge.clock_ns)
    host.receive("spBv1.0/Plant1/BOGUS/Line1", b"", edge.clock_ns)
    host.receive("plain/mqtt/topic", b"{}", edge.clock_ns)
    edge.seq += 1  # the malformed message had used a number: to the host, it was lost
    edge.ddata((10, float("nan")), (12, True))
    edge.send(MessageType.DDATA, (Metric("Pressure", None, DataType.FLOAT, is_null=True),), DEVICE)
    out = host.take()
    assert host.stats.rejected["malformed"] == 1 and host.stats.rejected["bad-topic"] == 2
    assert host.stats.gaps == 1 and out.rebirths == ((GROUP, NODE),)
    rows = samples(out.batch)
    assert math.isnan(rows[0][1]) and rows[0][2] == Quality.UNCERTAIN  # NaN: the outlet judges
    assert rows[1] == ("press1.running", 1.0, Quality.UNCERTAIN)
    assert math.isnan(rows[2][1]) and rows[2][2] == Quality.BAD  # an explicit null
    assert host.stats.extra["nulls"] == 1


def test_state_and_commands_on_the_bus_are_not_data() -> None:
    host, edge = host_and_edge()
    host.receive("spBv1.0/STATE/other-host", b'{"online":true,"timestamp":1}', edge.clock_ns)
    host.receive(topic(MessageType.NCMD, GROUP, NODE), b"\xff", edge.clock_ns)
    out = host.take()
    assert len(out.batch) == 0 and out.rebirths == () and not host.stats.rejected


def test_bind_all_records_unbound_metrics_under_their_node_or_device() -> None:
    host, edge = host_and_edge(bind_all=True)
    edge.birth()
    names = set(host.take().batch.names)
    assert {"Line1.Uptime", "line1.temperature", "press1.pressure"} <= names
    assert "Line1.bdSeq" not in names and not host.stats.rejected["unbound-metric"]


def test_a_reset_forgets_every_birth() -> None:
    host, edge = host_and_edge()
    edge.birth()
    host.take()
    assert host.reset() == ((GROUP, NODE),)  # alive before: ask at once after the reconnect
    edge.ddata((10, 1.0))
    assert host.take().rebirths == ((GROUP, NODE),)
    assert host.reset() == ()


def test_commands_use_the_birth_datatype_and_need_a_living_node() -> None:
    host, edge = host_and_edge()
    setpoint = BINDINGS[4]
    with pytest.raises(ConnectError, match="offline"):
        host.command(setpoint, 8.0, 1)
    edge.birth()
    command_topic, payload = host.command(setpoint, 8, 123)
    assert parse_topic(command_topic).kind is MessageType.DCMD
    assert decode_payload(payload).metrics == (
        Metric("Setpoint", 8.0, DataType.FLOAT, timestamp_ms=123),
    )
    _, payload = host.command(BINDINGS[3], "false", 1)
    assert decode_payload(payload).metrics[0].value is False
    node_topic, _ = host.command(BINDINGS[0], 1.0, 1)
    assert node_topic == f"spBv1.0/{GROUP}/NCMD/{NODE}"
    with pytest.raises(ConnectError, match="Offset"):
        host.command(BINDINGS[2], 1.5, 1)  # an Int16 takes whole numbers only


def test_bad_bindings_are_configuration_errors() -> None:
    with pytest.raises(ConfigError, match=r"signal x\.y"):
        SparkplugHost([Binding("x.y", "no-colon")], ConnectorStats("spb"))


def test_pysparkplug_edge_node_messages_through_the_host() -> None:
    now = time.time_ns() // 1_000_000
    host = SparkplugHost(BINDINGS, ConnectorStats("spb"))
    births = [
        (
            MessageType.NBIRTH,
            None,
            psp.NBirth(now, 0, (psp.Metric(now, "bdSeq", psp.DataType.UINT64, value=0),)),
        ),
        (
            MessageType.DBIRTH,
            DEVICE,
            psp.DBirth(
                now,
                1,
                (
                    psp.Metric(now, "Offset", psp.DataType.INT16, value=-1, alias=5),
                    psp.Metric(now, "Pressure", psp.DataType.FLOAT, value=1.5, alias=6),
                ),
            ),
        ),
        (
            MessageType.DDATA,
            DEVICE,
            psp.DData(now, 2, (psp.Metric(now, None, psp.DataType.INT16, value=-32768, alias=5),)),
        ),
    ]
    for kind, device, message in births:
        host.receive(topic(kind, GROUP, NODE, device), message.encode(), time.time_ns())
    assert samples(host.take().batch) == [
        ("press1.offset", -1.0, Quality.GOOD),
        ("press1.pressure", 1.5, Quality.GOOD),
        ("press1.offset", -32768.0, Quality.GOOD),
    ]


async def test_the_outlet_flags_not_finite_values_and_refuses_far_off_timestamps(
    tmp_path: Path,
) -> None:
    downstream = Downstream()
    host, edge = host_and_edge()
    outlet = Outlet(downstream.publish, host.stats, max_skew_s=60)
    edge.birth()
    host.take()
    now_ms = time.time_ns() // 1_000_000
    edge.send(
        MessageType.DDATA,
        (
            Metric(None, float("inf"), DataType.FLOAT, alias=10),
            Metric(None, 5, DataType.INT16, alias=11, timestamp_ms=now_ms + 86_400_000),
            Metric(None, True, DataType.BOOLEAN, alias=12, timestamp_ms=2**64 - 1),
            Metric(None, 1.0, DataType.FLOAT, alias=13, timestamp_ms=1),  # 1970
        ),
        DEVICE,
    )
    await outlet.deliver(host.take().batch)
    (batch,) = downstream.batches
    stored = {s: (v, q) for s, _, v, q in batch.rows()}
    assert np.isnan(stored["press1.pressure"][0])
    assert stored["press1.pressure"][1] == Quality.BAD
    assert "press1.offset" not in stored and "press1.running" not in stored
    assert "press1.setpoint" not in stored
    assert host.stats.rejected["not-finite"] == 1 and host.stats.rejected["clock-skew"] == 3

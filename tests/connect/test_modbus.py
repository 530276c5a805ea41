"""The Modbus TCP connector against a real pymodbus server on loopback: types and word orders,
scaling, a silent unit that marks only its own signals BAD, Modbus exceptions, writes."""

from __future__ import annotations

import asyncio
import contextlib
import math
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from tests.connect.harness import Downstream, running, wait_for
from tests.servers import free_port
from werk.connect import Binding, ConnectorConfig
from werk.connect.modbus.connector import ModbusConnector, ModbusError
from werk.core import ConfigError


def device(unit: int) -> SimDevice:
    return SimDevice(
        unit,
        simdata=(
            [SimData(0, count=64, values=False, datatype=DataType.BITS)],
            [SimData(0, values=[True, False, True], datatype=DataType.BITS)],
            [SimData(0, count=200, values=0, datatype=DataType.REGISTERS)],
            [SimData(0, values=[0x4049, 0x0FDB, 7], datatype=DataType.REGISTERS)],  # pi, 7
        ),
    )


class SilentUnitProxy:
    """Forwards Modbus TCP frames to the server but swallows requests for ``silent`` units, the
    way a gateway behaves when a device behind it is unplugged."""

    def __init__(self, target: int, silent: set[int]) -> None:
        self.target, self.silent = target, silent
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.writers: list[asyncio.StreamWriter] = []

    async def open(self) -> None:
        self.server = await asyncio.start_server(self._link, "127.0.0.1", self.port)

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        self.writers += [writer, up_writer]

        async def requests() -> None:
            with contextlib.suppress(Exception):
                while True:
                    header = await reader.readexactly(7)
                    body = await reader.readexactly(struct.unpack(">H", header[4:6])[0] - 1)
                    if header[6] not in self.silent:
                        up_writer.write(header + body)

        async def answers() -> None:
            with contextlib.suppress(Exception):
                while data := await up_reader.read(4096):
                    writer.write(data)

        for job in (requests(), answers()):
            task = asyncio.create_task(job)
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.transport.abort()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.server.wait_closed()


@pytest.fixture
async def modbus_port() -> AsyncIterator[int]:
    port = free_port()
    server = ModbusTcpServer([device(1), device(3)], address=("127.0.0.1", port))
    await server.serve_forever(background=True)
    try:
        yield port
    finally:
        await server.shutdown()


@contextlib.asynccontextmanager
async def polling(
    url: str, bindings: list[Binding], **options: Any
) -> AsyncIterator[tuple[ModbusConnector, Downstream]]:
    options = {"poll_interval_ms": 50, "timeout_s": 0.3, **options}
    connector = ModbusConnector(url, ConnectorConfig("plc", tuple(bindings), options))
    async with running(connector) as run:
        yield connector, run.downstream


async def test_types_word_orders_and_scaling_decode_what_the_device_holds(
    modbus_port: int,
) -> None:
    writer = AsyncModbusTcpClient("127.0.0.1", port=modbus_port)
    await writer.connect()
    convert = AsyncModbusTcpClient.convert_to_registers  # pymodbus' own encoding, independent
    types = AsyncModbusTcpClient.DATATYPE
    holding = {
        0: convert(-1234, types.INT16),
        1: convert(54321, types.UINT16),
        2: convert(-100000, types.INT32),
        4: convert(3_000_000_000, types.UINT32),
        6: convert(21.5, types.FLOAT32),
        8: convert(-7.25, types.FLOAT32, word_order="little"),
        10: convert(2.0**40 + 0.5, types.FLOAT64),
        14: convert(-(2**40), types.INT64, word_order="little"),
        18: convert(655, types.INT16),  # 65.5 at scale 0.1
        # register 150 and beyond: a second request (the gap is too wide to bridge)
        150: convert(42, types.UINT16),
    }
    for address, registers in holding.items():
        await writer.write_registers(address, registers, device_id=1)
    await writer.write_coil(5, True, device_id=1)
    writer.close()

    bindings = [
        Binding("m.i16", "1:holding:0:int16"),
        Binding("m.u16", "1:holding:1:uint16"),
        Binding("m.i32", "1:holding:2:int32"),
        Binding("m.u32", "1:holding:4:uint32"),
        Binding("m.f32", "1:holding:40007"),  # 1-based reference 40007 = register 6; float32
        Binding("m.f32le", "1:holding:8:float32"),
        Binding("m.f64", "1:holding:10:float64"),
        Binding("m.i64le", "1:holding:14:int64"),
        Binding("m.scaled", "1:holding:18:int16"),
        Binding("m.far", "1:holding:150:uint16"),
        Binding("m.short", "1:holding:0", data_type="short"),  # type from the data type
        Binding("m.pi", "1:input:30001:float32"),  # input registers 0-1
        Binding("m.seven", "1:input:2:uint16"),
        Binding("m.coil", "1:coil:5"),
        Binding("m.coil_ref", "1:coil:00006"),  # 1-based reference of the same coil
        Binding("m.di0", "1:discrete:0"),
        Binding("m.di1", "1:discrete:10002"),  # discrete input 1
    ]
    signals = {
        "m.f32le": {"word_order": "little"},
        "m.i64le": {"word_order": "little"},
        "m.scaled": {"scale": 0.1, "offset": 0.0},
    }
    url = f"modbus+tcp://127.0.0.1:{modbus_port}"
    async with polling(url, bindings, signals=signals) as (connector, collected):
        await wait_for(lambda: collected.last("m.di1") is not None, what="first poll")
        assert [(r.table, r.start, r.count) for r in connector.plans[1]] == [
            ("coil", 5, 1),
            ("discrete", 0, 2),
            ("holding", 0, 19),
            ("holding", 150, 1),
            ("input", 0, 3),
        ]
        expected = {
            "m.i16": -1234,
            "m.u16": 54321,
            "m.i32": -100000,
            "m.u32": 3_000_000_000,
            "m.f32": 21.5,
            "m.f32le": -7.25,
            "m.f64": 2.0**40 + 0.5,
            "m.i64le": -(2**40),
            "m.far": 42,
            "m.short": -1234,
            "m.seven": 7,
            "m.coil": 1.0,
            "m.coil_ref": 1.0,
            "m.di0": 1.0,
            "m.di1": 0.0,
        }
        for signal, value in expected.items():
            assert collected.last(signal) == value, signal
        assert collected.last("m.scaled") == pytest.approx(65.5)
        assert collected.last("m.pi") == pytest.approx(math.pi, rel=1e-6)
        assert connector.stats.state == "connected"
        assert len(collected.batches) >= 1 and len(collected.batches[0]) == len(bindings)


async def test_a_silent_unit_marks_only_its_signals_bad(modbus_port: int) -> None:
    proxy = SilentUnitProxy(modbus_port, silent={3})
    await proxy.open()
    url = f"modbus+tcp://127.0.0.1:{proxy.port}"
    bindings = [Binding("a.level", "1:input:2:uint16"), Binding("b.level", "3:input:2:uint16")]
    try:
        async with polling(url, bindings) as (connector, collected):
            await wait_for(lambda: connector.stats.extra["units"][3] != "starting", what="unit 3")
            before = len(collected.of("a.level"))
            await asyncio.sleep(1.0)  # unit 3 keeps timing out and retrying meanwhile
            polls = len(collected.of("a.level")) - before
            assert polls >= 8  # 50 ms polls of unit 1 go on undisturbed (20 in a second)
            assert collected.of("b.level") == [(pytest.approx(math.nan, nan_ok=True), 2)]
            assert collected.last("a.level") == 7
            assert connector.stats.extra["units"][1] == "connected"
            assert "no answer" in connector.stats.extra["units"][3]
            assert connector.stats.state == "disconnected"
            assert "unit 3" in connector.stats.last_error

            proxy.silent.clear()  # the device is back
            await wait_for(lambda: collected.last("b.level") == 7, what="unit 3 back")
            await wait_for(lambda: connector.stats.state == "connected", what="all units up")
    finally:
        await proxy.close()


async def test_modbus_exceptions_are_counted_and_the_rest_goes_on(modbus_port: int) -> None:
    url = f"modbus+tcp://127.0.0.1:{modbus_port}"
    bindings = [Binding("a.ok", "1:input:2:uint16"), Binding("a.nope", "1:holding:5000:uint16")]
    async with polling(url, bindings) as (connector, collected):
        await wait_for(lambda: len(collected.of("a.ok")) >= 5, what="polls")
        assert connector.stats.rejected["illegal-address"] >= 4
        assert collected.of("a.nope") == [(pytest.approx(math.nan, nan_ok=True), 2)]  # once
        assert connector.stats.state == "connected"


async def test_writes_to_coils_and_holding_registers(modbus_port: int) -> None:
    url = f"modbus+tcp://127.0.0.1:{modbus_port}"
    speed = Binding("c.speed", "1:holding:40021:float32")  # register 20
    limit = Binding("c.limit", "1:holding:30:int16")
    run = Binding("c.run", "1:coil:7")
    sensor = Binding("c.sensor", "1:input:2:uint16")
    options = {"signals": {"c.limit": {"scale": 0.5}}, "word_order": "little"}
    async with polling(url, [speed, limit, run, sensor], **options) as (connector, collected):
        await wait_for(lambda: connector.stats.state == "connected", what="connected")
        await connector.write(speed, 1.25)
        await connector.write(limit, 40)  # raw 80 at scale 0.5
        await connector.write(run, True)
        await wait_for(lambda: collected.last("c.speed") == 1.25, what="speed read back")
        await wait_for(lambda: collected.last("c.run") == 1.0, what="coil read back")
        assert collected.last("c.limit") == 40
        with pytest.raises(ModbusError, match="read-only"):
            await connector.write(sensor, 1)
        with pytest.raises(ModbusError, match="out of the range of int16"):
            await connector.write(limit, 1e6)

    reader = AsyncModbusTcpClient("127.0.0.1", port=modbus_port)
    await reader.connect()
    raw = (await reader.read_holding_registers(20, count=2, device_id=1)).registers
    assert AsyncModbusTcpClient.convert_from_registers(
        raw, AsyncModbusTcpClient.DATATYPE.FLOAT32, word_order="little"
    ) == pytest.approx(1.25)
    assert (await reader.read_holding_registers(30, count=1, device_id=1)).registers == [80]
    reader.close()


def test_bad_addresses_are_configuration_errors() -> None:
    def build(address: str, **options: Any) -> ModbusConnector:
        config = ConnectorConfig("plc", (Binding("x.y", address),), options)
        return ModbusConnector("modbus+tcp://127.0.0.1:502", config)

    with pytest.raises(ConfigError, match="type 'int128'"):
        build("1:holding:0:int128")
    with pytest.raises(ConfigError, match="must be bool"):
        build("1:coil:0:int16")
    with pytest.raises(ConfigError, match="word_order"):
        build("1:holding:0", word_order="middle")
    with pytest.raises(ConfigError, match="poll_interval_ms"):
        build("1:holding:0", poll_interval_ms=0)
    assert build("1:holding:40001", zero_based=True).points["x.y"].address == 40001

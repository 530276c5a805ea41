"""The virtual plant: as a sim:// connector into the store, served over OPC UA and Sparkplug B to
werk's own connectors, and faults injected through the API."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import require_service
from tests.servers import free_port
from tests.test_app import settings_for
from werk.app import open_runtime
from werk.connect.base import Binding, ConnectorConfig, connectors
from werk.connect.outlet import Outlet
from werk.core import Event, SampleBatch
from werk.sim.virtual import FAULT_EVENT, VirtualPlant, demo_bindings

SIGNALS = """
[plant]
id = "v"
name = "virtual"
[assets.site]
level = "site"
[assets.area]
level = "area"
parent = "site"
[assets.line1]
level = "line"
parent = "area"
[assets.press1]
level = "machine"
parent = "line1"
[assets.press1.signals.temperature]
source = { sim = "press1:temperature" }
[assets.press1.signals.state]
data_type = "long"
source = { sim = "press1:state" }
"""


async def test_sim_connector_delivers_into_the_store(tmp_path: Path) -> None:
    plant = tmp_path / "plant.toml"
    plant.write_text(SIGNALS)
    settings = settings_for(
        tmp_path,
        plant=str(plant),
        connectors=[{"url": "sim://?speed=60", "options": {"every_s": 0.1}}],
    )
    async with open_runtime(settings) as runtime:
        for _ in range(100):
            if runtime.store.count("press1.state") >= 3:
                break
            await asyncio.sleep(0.05)
        temps = runtime.store.read("press1.temperature", 0, 2**62).values
        # a configured sim:// connector follows injected faults too
        assert runtime.connectors is not None
        plant_connector = runtime.connectors.running[0][0]
        assert isinstance(plant_connector, VirtualPlant)
        fault = {"machine": "press1", "fault": "overheating"}
        await runtime.emit(Event(FAULT_EVENT, "press1", fault), confirm=True)
        for _ in range(100):
            if plant_connector.bank.faults[0]:
                break
            await asyncio.sleep(0.02)
    assert len(temps) >= 3 and 20 < temps.mean() < 70
    assert plant_connector.bank.faults[0] == {"overheating"}


@contextlib.asynccontextmanager
async def plant_running(**options: object) -> AsyncIterator[VirtualPlant]:
    plant = VirtualPlant(
        "sim://?speed=1", ConnectorConfig("sim", options={"every_s": 0.2, **options})
    )
    task = asyncio.create_task(plant.run())
    try:
        await asyncio.wait_for(plant.ready.wait(), 20)
        yield plant
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def read_through(url: str, bindings: list[Binding], options: dict[str, object],
                       want: int) -> list[SampleBatch]:  # fmt: skip
    got: list[SampleBatch] = []

    async def publish(batch: SampleBatch) -> None:
        got.append(batch)

    connector = connectors.open(url, ConnectorConfig("reader", tuple(bindings), options))
    task = asyncio.create_task(connector.run(Outlet(publish, connector.stats)))
    try:
        async with asyncio.timeout(15):
            while sum(len(b) for b in got) < want:
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return got


async def test_opcua_connector_reads_the_virtual_plant() -> None:
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/werk-sim"
    async with plant_running(opcua_endpoint=endpoint, machines=["press1", "oven1"]) as plant:
        plant.inject("press1", "overheating")
        bindings = demo_bindings(["press1", "oven1"], ["temperature", "parts"])
        got = await read_through(endpoint, bindings, {}, want=20)
    names = {b.names[i] for b in got for i in b.index.tolist()}
    assert names == {"press1.temperature", "oven1.temperature", "press1.parts", "oven1.parts"}
    assert all(b.quality.max() == 0 for b in got)


async def test_sparkplug_connector_reads_the_virtual_plant() -> None:
    url = "mqtt://127.0.0.1:1883"
    require_service("mqtt", url)
    node = f"vp-{free_port()}"
    async with plant_running(mqtt_url=url, node=node, machines=["press1"]) as plant:
        assert plant._sparkplug is not None
        bindings = [Binding("press1.vibration", f"werk/{node}/press1:vibration", "double")]
        got = await read_through("spb://127.0.0.1:1883", bindings,
                                 {"host_id": node, "groups": ["werk"]}, want=5)  # fmt: skip
    values = [
        v for b in got for v, q in zip(b.values.tolist(), b.quality.tolist(), strict=True) if q == 0
    ]
    assert len(values) >= 3 and all(0 < v < 50 for v in values)


@pytest.mark.parametrize("role_ok", [True, False])
async def test_fault_injection_through_the_api(tmp_path: Path, role_ok: bool) -> None:
    import httpx

    from werk.api.app import create_api
    from werk.api.tokens import Role
    from werk.sim.virtual import follow_faults

    async with open_runtime(settings_for(tmp_path)) as runtime:
        plant = VirtualPlant("sim://", ConnectorConfig("sim", options={"machines": ["press1"]}))
        follower = asyncio.create_task(follow_faults(runtime.bus))
        await asyncio.sleep(0)
        token = runtime.tokens.create(Role.engineer if role_ok else Role.operator, "t")[1]
        transport = httpx.ASGITransport(app=create_api(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://werk") as client:
            answer = await client.post(
                "/api/v1/sim/faults",
                json={"machine": "press1", "fault": "bearing-wear"},
                headers={"Authorization": f"Bearer {token}"},
            )
            bad = await client.post(
                "/api/v1/sim/faults",
                json={"machine": "press1", "fault": "meteor"},
                headers={"Authorization": f"Bearer {token}"},
            )
        for _ in range(50):
            if plant.bank.faults[0] or not role_ok:
                break
            await asyncio.sleep(0.02)
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
    if role_ok:
        assert answer.status_code == 202 and bad.status_code == 422
        assert plant.bank.faults[0] == {"bearing-wear"}
    else:
        assert answer.status_code == 403 and plant.bank.faults[0] == set()

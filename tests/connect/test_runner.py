"""Connectors run inside werk: configured in settings, supervised, reachable through the API."""

import asyncio
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.connect.harness import plant_text, wait_for
from werk.api.tokens import Role
from werk.app import open_runtime
from werk.connect import Binding, ConnectError, ConnectorConfig, ConnectorStats, Outlet, connectors
from werk.connect.runner import bindings_for
from werk.core import ConfigError, SampleBatch
from werk.settings import ConnectorSettings, Settings
from werk.twin.plant import parse_plant


class CountingDevice:
    """A connector over an in-process device: emits a counter, crashes once, takes writes."""

    instances: ClassVar[list["CountingDevice"]] = []

    def __init__(self, url: str, config: ConnectorConfig) -> None:
        self.name = config.name
        self.stats = ConnectorStats(config.name)
        self.bindings = (Binding("dev.counter", "counter"), Binding("dev.setpoint", "sp"))
        self.crash_once = bool(config.option("crash_once", False))
        self.written: list[Any] = []
        CountingDevice.instances.append(self)

    async def run(self, outlet: Outlet) -> None:
        self.stats.connected()
        n = 0
        while True:
            n += 1
            await outlet.deliver(SampleBatch.of("dev.counter", [time.time_ns()], [float(n)]))
            if self.crash_once and n == 3:
                self.crash_once = False
                raise RuntimeError("a bug in the connector")
            await asyncio.sleep(0.01)

    async def write(self, binding: Binding, value: Any) -> None:
        if binding.signal != "dev.setpoint":
            raise ConnectError(f"{binding.signal} is read-only")
        self.written.append(value)


connectors.register("counting", CountingDevice)


def settings_for(tmp_path: Path, **connector: Any) -> Settings:
    return Settings(
        store={"url": "memory://"},
        api={"tokens_file": str(tmp_path / "tokens.json"), "anonymous_read": False},
        recorder={"max_delay_ms": 5},
        signals=[{"id": "dev.counter"}, {"id": "dev.setpoint"}],
        connectors=[{"url": "counting://device", "name": "dev", **connector}],
        spool_directory=str(tmp_path / "spool"),
    )


async def test_a_crashing_connector_is_restarted_and_its_data_recorded(tmp_path: Path) -> None:
    CountingDevice.instances.clear()
    settings = settings_for(tmp_path, options={"crash_once": True})
    async with asyncio.timeout(120), open_runtime(settings) as runtime:
        assert runtime.connectors is not None
        await wait_for(lambda: runtime.store.count("dev.counter") >= 6, timeout=10)
        # the recorder commits before the outlet counts what it delivered: wait for both
        await wait_for(lambda: runtime.connectors.stats()[0]["samples"] >= 6, timeout=10)
        (stats,) = runtime.connectors.stats()
        assert stats["name"] == "dev" and stats["state"] == "connected"
        assert stats["samples"] >= 6 and stats["pending"] == 0
    (device,) = CountingDevice.instances  # restarted in place, not rebuilt
    assert device.stats.state == "stopped"


async def test_writes_go_through_the_api_bus_and_connector_with_an_audit_trail(
    tmp_path: Path,
) -> None:
    import httpx

    from werk.api.app import create_api

    CountingDevice.instances.clear()
    async with asyncio.timeout(120), open_runtime(settings_for(tmp_path)) as runtime:
        app = create_api(runtime)
        operator = runtime.tokens.create(Role.operator, "anna")[1]
        viewer = runtime.tokens.create(Role.viewer, "victor")[1]
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
        ):
            url = "/api/v1/signals/dev.setpoint/write"
            refused = await http.post(
                url, json={"value": 42.5}, headers={"Authorization": f"Bearer {viewer}"}
            )
            assert refused.status_code == 403
            done = await http.post(
                url, json={"value": 42.5}, headers={"Authorization": f"Bearer {operator}"}
            )
            assert done.status_code == 200, done.text
            assert done.json()["user"] == "anna"
            failed = await http.post(
                "/api/v1/signals/dev.counter/write",
                json={"value": 1},
                headers={"Authorization": f"Bearer {operator}"},
            )
            assert failed.status_code == 502 and "read-only" in failed.text
            unknown = await http.post(
                "/api/v1/signals/nope/write",
                json={"value": 1},
                headers={"Authorization": f"Bearer {operator}"},
            )
            assert unknown.status_code == 404
            listed = await http.get(
                "/api/v1/connectors", headers={"Authorization": f"Bearer {viewer}"}
            )
            assert [c["name"] for c in listed.json()["connectors"]] == ["dev"]
        (device,) = CountingDevice.instances
        assert device.written == [42.5]

        def audit() -> list[tuple[str, str, Any]]:
            found = runtime.store.events(0, time.time_ns() + 10**9, kind="command")
            return sorted((e.kind, e.source, e.context.user) for e in found)

        await wait_for(lambda: len(audit()) == 4)
        assert audit() == [
            ("command.failed", "dev.counter", "anna"),
            ("command.write", "dev.counter", "anna"),
            ("command.write", "dev.setpoint", "anna"),
            ("command.written", "dev.setpoint", "anna"),
        ]


def test_bindings_come_from_the_plant_file_by_protocol_and_asset() -> None:
    plant = parse_plant(
        plant_text(
            """
[assets.m1]
level = "machine"
parent = "area"
[assets.m1.signals.temp]
source = { opcua = "ns=2;s=M1.Temp" }
[assets.m1.signals.level]
source = { mqtt = "plant/m1/level" }
[assets.m2]
level = "machine"
parent = "area"
[assets.m2.signals.temp]
data_type = "float"
source = { opcua = "ns=2;s=M2.Temp" }
""",
            plant_id="p",
            name="test plant",
        ),
        name="plant.toml",
        fmt="toml",
    )
    assert bindings_for("opcua", plant, None) == [
        Binding("m1.temp", "ns=2;s=M1.Temp", "double", "m1"),
        Binding("m2.temp", "ns=2;s=M2.Temp", "float", "m2"),
    ]
    assert [b.signal for b in bindings_for("opcua", plant, ["m2"])] == ["m2.temp"]
    assert [b.address for b in bindings_for("mqtt", plant, None)] == ["plant/m1/level"]


async def test_a_bad_connector_setting_fails_the_start_and_leaves_nothing_running(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path).model_copy(
        update={"connectors": [ConnectorSettings(url="nope://device")]}
    )
    with pytest.raises(ConfigError, match="unknown connector scheme nope://"):
        async with open_runtime(settings):
            pass
    await asyncio.sleep(0)
    names = {t.get_name() for t in asyncio.all_tasks()}
    assert not names & {"recorder", "twin.state", "twin.freshness"}

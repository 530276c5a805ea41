"""The OPC UA connector against a real asyncua server on loopback: values into the store, unknown
nodes, a server restart (gap marked), a short network cut (nothing lost), writes through the API.

The server runs in a thread with its own event loop, so one server serves a whole module and a
test can stop and restart it while werk's loop goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
import pytest
from asyncua import Server, ua
from asyncua.crypto.permission_rules import User, UserRole

from tests.connect import harness
from tests.connect.harness import plant_text
from tests.connect.proxy import CuttableProxy
from tests.servers import free_port
from tests.test_app import settings_for
from werk.api.app import create_api
from werk.api.tokens import Role
from werk.app import open_runtime
from werk.core import Quality
from werk.runtime import Runtime

T = TypeVar("T")

# name -> (initial value, type, writable)
VARIABLES: dict[str, tuple[Any, ua.VariantType, bool]] = {
    "Press1.Temperature": (20.0, ua.VariantType.Double, False),
    "Press1.Pressure": (1.0, ua.VariantType.Float, False),
    "Press1.Strokes": (0, ua.VariantType.Int64, False),
    "Press1.Running": (False, ua.VariantType.Boolean, False),
    "Press1.Recipe": ("A", ua.VariantType.String, False),
    "Press1.Setpoint": (50, ua.VariantType.Int16, True),
    "Press1.Limit": (10.0, ua.VariantType.Double, False),
}
UNITS = {"Press1.Temperature": "°C", "Press1.Pressure": "bar"}


class PasswordUsers:
    """asyncua's user manager with one user and password."""

    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username, password

    def get_user(
        self, iserver: Any, username: str | None = None, password: str | None = None, **_: Any
    ) -> User | None:
        if username == self.username and password == self.password:
            return User(role=UserRole.User, name=username)
        return None


class OpcUaServer:
    """An asyncua server on 127.0.0.1 in a thread of its own; ``write`` changes a variable the
    way a PLC would (with a source timestamp)."""

    def __init__(
        self,
        port: int | None = None,
        variables: dict[str, tuple[Any, ua.VariantType, bool]] | None = None,
        *,
        certificate: Path | None = None,
        private_key: Path | None = None,
        users: PasswordUsers | None = None,
    ) -> None:
        self.port = port or free_port()
        self.url = f"opc.tcp://127.0.0.1:{self.port}/werk"
        self.variables = variables or VARIABLES
        self.certificate, self.private_key, self.users = certificate, private_key, users
        self.nodes: dict[str, Any] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.server: Server | None = None

    @staticmethod
    def address(name: str) -> str:
        return f"ns=2;s={name}"

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def start(self) -> OpcUaServer:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.call(self._start())
        return self

    async def _start(self) -> None:
        server = Server(user_manager=self.users) if self.users else Server()
        await server.init()
        server.set_endpoint(self.url)
        server.set_server_name("werk test server")
        if self.certificate is not None:
            assert self.private_key is not None
            await server.load_certificate(str(self.certificate))
            await server.load_private_key(str(self.private_key))
            server.set_security_policy(
                [
                    ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
                    ua.SecurityPolicyType.Basic256Sha256_Sign,
                ]
            )
        else:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        if self.users is not None:
            server.set_identity_tokens([ua.UserNameIdentityToken])
        namespace = await server.register_namespace("urn:werk:test")
        objects: dict[str, Any] = {}
        for name, (value, variant_type, writable) in self.variables.items():
            folder, _, short = name.rpartition(".")
            if folder not in objects:
                objects[folder] = await server.nodes.objects.add_object(namespace, folder)
            node = await objects[folder].add_variable(
                ua.NodeId(name, namespace), short, ua.Variant(value, variant_type)
            )
            await node.write_attribute(
                ua.AttributeIds.Description,
                ua.DataValue(ua.Variant(ua.LocalizedText(f"{short} of {folder}"))),
            )
            if writable:
                await node.set_writable()
            if name in UNITS:
                unit = ua.EUInformation(DisplayName=ua.LocalizedText(UNITS[name]))
                await node.add_property(0, "EngineeringUnits", unit)
            self.nodes[name] = node
        await server.start()
        self.server = server

    def stop(self) -> None:
        if self.server is not None:
            self.call(self.server.stop())
            self.server = None
        if self.loop is not None and self.thread is not None:

            async def cancel_all() -> None:
                current = asyncio.current_task()
                tasks = [t for t in asyncio.all_tasks() if t is not current]
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

            self.call(cancel_all())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()
            self.loop = self.thread = None

    def write(self, name: str, value: Any) -> None:
        self.call(self._write(name, value))

    async def _write(self, name: str, value: Any) -> None:
        assert self.server is not None
        _, variant_type, _ = self.variables[name]
        await self.server.write_attribute_value(
            self.nodes[name].nodeid,
            ua.DataValue(ua.Variant(value, variant_type), SourceTimestamp=datetime.now(UTC)),
        )

    def read(self, name: str) -> Any:
        async def read() -> Any:
            return await self.nodes[name].read_value()

        return self.call(read())


@contextlib.contextmanager
def serving(server: OpcUaServer) -> Iterator[OpcUaServer]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def opcua_server() -> Iterator[OpcUaServer]:
    with serving(OpcUaServer()) as server:
        yield server


PLANT_HEAD = plant_text(
    """
[assets.press1]
level = "machine"
parent = "area"
name = "Press 1"
"""
)


def plant_file(tmp_path: Path, sources: dict[str, str], data_types: dict[str, str]) -> Path:
    lines = [PLANT_HEAD]
    for signal, address in sources.items():
        lines.append(f"[assets.press1.signals.{signal}]")
        if signal in data_types:
            lines.append(f'data_type = "{data_types[signal]}"')
        lines.append(f'source = {{ opcua = "{address}" }}\n')
    path = tmp_path / "plant.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


SOURCES = {
    "temperature": OpcUaServer.address("Press1.Temperature"),
    "pressure": OpcUaServer.address("Press1.Pressure"),
    "strokes": OpcUaServer.address("Press1.Strokes"),
    "running": OpcUaServer.address("Press1.Running"),
    "recipe": OpcUaServer.address("Press1.Recipe"),
    "setpoint": OpcUaServer.address("Press1.Setpoint"),
    "limit": OpcUaServer.address("Press1.Limit"),
    "ghost": "ns=2;s=Press1.DoesNotExist",
}
TYPES = {"strokes": "long", "running": "boolean", "recipe": "string", "setpoint": "short"}
FAST = {"publishing_interval_ms": 20, "batch_ms": 5, "watchdog_s": 0.3, "reconnect_max_s": 1}


def opcua_settings(tmp_path: Path, url: str, sources: dict[str, str] = SOURCES, **options: Any):  # type: ignore[no-untyped-def]
    return settings_for(
        tmp_path,
        plant=str(plant_file(tmp_path, sources, TYPES)),
        connectors=[{"url": url, "name": "plc", "options": {**FAST, **options}}],
        spool_directory=str(tmp_path / "spool"),
        recorder={"max_delay_ms": 5},
    )


# The conditions here read the store: poll it less often than the harness would.
wait_for = functools.partial(harness.wait_for, interval=0.05)


def samples(runtime: Runtime, signal: str) -> tuple[list[float], list[int]]:
    batch = runtime.store.read(signal, 0, 2**62)
    return batch.values.tolist(), batch.quality.tolist()


def stats(runtime: Runtime) -> dict[str, Any]:
    assert runtime.connectors is not None
    (found,) = runtime.connectors.stats()
    return found


async def background(write: Callable[[], None]) -> None:
    await asyncio.to_thread(write)


# -- the tests ---------------------------------------------------------------------------------


async def test_values_flow_into_the_store_with_quality_and_counters(
    tmp_path: Path, opcua_server: OpcUaServer
) -> None:
    server = opcua_server
    async with open_runtime(opcua_settings(tmp_path, server.url)) as runtime:
        await wait_for(lambda: stats(runtime)["state"] == "connected", what="connected")
        for i in range(1, 6):
            await background(lambda i=i: server.write("Press1.Temperature", 20.0 + i))
            await asyncio.sleep(0.03)
        await background(lambda: server.write("Press1.Strokes", 2**40))
        await background(lambda: server.write("Press1.Running", True))
        await background(lambda: server.write("Press1.Recipe", "B"))
        await background(lambda: server.write("Press1.Pressure", 2.5))
        await wait_for(
            lambda: samples(runtime, "press1.temperature")[0][-1:] == [25.0], what="temperature"
        )
        await wait_for(lambda: samples(runtime, "press1.running")[0][-1:] == [1.0], what="bool")
        temperatures, quality = samples(runtime, "press1.temperature")
        assert temperatures[-5:] == [21.0, 22.0, 23.0, 24.0, 25.0]  # every change, in order
        assert set(quality) == {Quality.GOOD}
        assert samples(runtime, "press1.strokes")[0][-1] == float(2**40)
        assert samples(runtime, "press1.pressure")[0][-1] == 2.5
        assert samples(runtime, "press1.recipe")[0] == []  # strings are not samples
        assert samples(runtime, "press1.ghost")[0] == []
        found = stats(runtime)
        assert found["rejected"]["unknown-node"] == 1  # counted once, the others run on
        assert found["rejected"]["unsupported-type"] >= 2  # initial "A" and "B"
        assert found["messages"] >= 10 and found["gaps"] == 0
        # Source timestamps are kept: the stored time is the PLC's, within this test's minute.
        stamp = runtime.store.read("press1.temperature", 0, 2**62).timestamps[-1]
        assert abs(int(stamp) - time.time_ns()) < 60 * 10**9


async def test_server_restart_marks_bad_counts_a_gap_and_recovers(tmp_path: Path) -> None:
    server = OpcUaServer().start()
    try:
        settings = opcua_settings(tmp_path, server.url, {"temperature": SOURCES["temperature"]})
        async with open_runtime(settings) as runtime:
            await wait_for(lambda: stats(runtime)["state"] == "connected", what="connected")
            await background(lambda: server.write("Press1.Temperature", 30.0))
            await wait_for(lambda: 30.0 in samples(runtime, "press1.temperature")[0])

            await asyncio.to_thread(server.stop)  # the PLC restarts: its session is gone
            await wait_for(lambda: stats(runtime)["state"] == "disconnected", what="loss seen")
            await asyncio.sleep(1.0)
            await asyncio.to_thread(server.start)
            await wait_for(lambda: stats(runtime)["state"] == "connected", what="reconnected")
            await wait_for(lambda: stats(runtime)["gaps"] == 1, what="gap counted")
            await background(lambda: server.write("Press1.Temperature", 31.0))
            await wait_for(lambda: samples(runtime, "press1.temperature")[0][-1:] == [31.0])

            values, quality = samples(runtime, "press1.temperature")
            bad = [i for i, q in enumerate(quality) if q == Quality.BAD]
            assert len(bad) == 2  # the BAD mark on loss, then the gap marker
            assert all(np.isnan(values[i]) for i in bad)
            assert values.index(30.0) < bad[0] < bad[1] < values.index(31.0)
            assert quality[-1] == Quality.GOOD
            found = stats(runtime)
            assert found["reconnects"] == 1 and found["gaps"] == 1
    finally:
        server.stop()


async def test_a_short_network_cut_loses_nothing(tmp_path: Path, opcua_server: OpcUaServer) -> None:
    server = opcua_server
    proxy = CuttableProxy("127.0.0.1", server.port)
    await proxy.restore()
    url = f"opc.tcp://127.0.0.1:{proxy.port}/werk"
    settings = opcua_settings(
        tmp_path, url, {"limit": SOURCES["limit"]}, queue_size=1000, lifetime_s=60
    )
    written: list[float] = []

    def writer(stop: threading.Event) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            server.write("Press1.Limit", float(i))
            written.append(float(i))
            time.sleep(0.01)

    stop = threading.Event()
    try:
        async with open_runtime(settings) as runtime:
            await wait_for(lambda: stats(runtime)["state"] == "connected", what="connected")
            feeding = asyncio.create_task(asyncio.to_thread(writer, stop))
            await wait_for(lambda: len(samples(runtime, "press1.limit")[0]) > 20)
            await proxy.cut()
            await wait_for(lambda: stats(runtime)["state"] == "disconnected", what="loss seen")
            await asyncio.sleep(1.5)  # values keep changing on the server meanwhile
            await proxy.restore()
            await wait_for(lambda: stats(runtime)["state"] == "connected", what="reconnected")
            await asyncio.sleep(0.3)
            stop.set()
            await feeding
            last = written[-1]
            await wait_for(lambda: last in samples(runtime, "press1.limit")[0], what="caught up")
            values, quality = samples(runtime, "press1.limit")
            good = [v for v, q in zip(values, quality, strict=True) if q == Quality.GOOD]
            missing = sorted(set(written) - set(good))
            found = stats(runtime)
            print(
                f"network cut: {len(written)} changes written, {len(set(good))} stored, "
                f"{len(missing)} missing, gaps {found['gaps']}, reconnects {found['reconnects']}"
            )
            assert missing == []
            assert found["gaps"] == 0 and found["reconnects"] == 1
            assert Quality.BAD in quality  # the outage itself is visible
    finally:
        stop.set()  # never leave the writer thread running: the loop would wait for it
        await proxy.cut()


# -- writes through the API --------------------------------------------------------------------


@contextlib.asynccontextmanager
async def api_for(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_api(runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://werk.test") as client:
            yield client


async def test_operator_writes_a_setpoint_through_the_api(
    tmp_path: Path, opcua_server: OpcUaServer
) -> None:
    server = opcua_server
    settings = opcua_settings(tmp_path, server.url)
    async with open_runtime(settings) as runtime, api_for(runtime) as client:
        _, operator = runtime.tokens.create(Role.operator, "shift-lead")
        _, viewer = runtime.tokens.create(Role.viewer, "screen")
        await wait_for(lambda: stats(runtime)["state"] == "connected", what="connected")

        def post(signal: str, value: Any, token: str) -> Awaitable[httpx.Response]:
            return client.post(
                f"/api/v1/signals/{signal}/write",
                json={"value": value},
                headers={"Authorization": f"Bearer {token}"},
            )

        answer = await post("press1.setpoint", 77, viewer)
        assert answer.status_code == 403
        answer = await post("press1.setpoint", 77.0, operator)  # a float into an Int16 node
        assert answer.status_code == 200, answer.text
        assert answer.json()["user"] == "shift-lead"
        assert await asyncio.to_thread(server.read, "Press1.Setpoint") == 77
        await wait_for(lambda: samples(runtime, "press1.setpoint")[0][-1:] == [77.0])

        limit = await asyncio.to_thread(server.read, "Press1.Limit")
        refused = await post("press1.setpoint", 1e6, operator)  # out of Int16's range
        assert refused.status_code == 502 and "Int16" in refused.text
        read_only = await post("press1.limit", 5.0, operator)
        assert read_only.status_code == 502
        assert "BadUserAccessDenied" in read_only.text or "BadNotWritable" in read_only.text
        assert await asyncio.to_thread(server.read, "Press1.Limit") == limit

        await wait_for(lambda: _audited(runtime), what="audit events stored")
        events = runtime.store.events(0, 2**62)
        writes = [e for e in events if e.kind == "command.write"]
        written = [e for e in events if e.kind == "command.written"]
        assert {e.context.user for e in writes} == {"shift-lead"}
        assert len(writes) == 3 and len(written) == 1
        (answered,) = [w for w in writes if w.id == written[0].context.parent_id]
        assert answered.data["value"] == 77.0 and answered.source == "press1.setpoint"


def _audited(runtime: Runtime) -> bool:
    kinds = [e.kind for e in runtime.store.events(0, 2**62)]
    return kinds.count("command.write") == 3 and kinds.count("command.failed") == 2

"""The alarm manager over a real MemoryBus, MemoryStore and recorder; webhooks to real servers."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from werk.analytics.alarms import (
    AlarmManager,
    AlarmPolicy,
    AlarmState,
    Priority,
    Webhook,
    alarm_id,
)
from werk.analytics.alarms.webhooks import SIGNATURE_HEADER
from werk.core import NS_PER_S, Clock, Event, MemoryBus, SimulatedClock, WallClock
from werk.store.memory import MemoryStore
from werk.store.recorder import Recorder

T0 = 1_800_000_000 * NS_PER_S
TEMP = "press1.temperature"
HIGH = alarm_id(TEMP, "high")


@dataclass
class Plant:
    """A bus with a recorder into a store, as the runtime wires them, and the manager on top."""

    bus: MemoryBus
    store: MemoryStore
    clock: Clock
    manager: AlarmManager

    async def condition(
        self, change: str, source: str = TEMP, name: str = "high", **data: Any
    ) -> Event:
        family = data.pop("family", "limit")
        payload = {"condition": name, "priority": "high", "message": f"{name} on {source}", **data}
        event = Event(f"{family}.{change}", source, payload, timestamp=self.clock.now_ns())
        await self.bus.publish(f"events.{event.kind}", event, event.context)
        return event

    def stored(self, kind: str = "alarm") -> list[Event]:
        return self.store.events(0, 2**62, kind=kind)


async def eventually(check: Callable[[], Any], timeout_s: float = 5.0) -> Any:
    async with asyncio.timeout(timeout_s):
        while not (result := check()):
            await asyncio.sleep(0.005)
    return result


@contextlib.asynccontextmanager
async def running(
    store: MemoryStore, clock: Clock, policy: AlarmPolicy | None = None
) -> AsyncIterator[Plant]:
    bus = MemoryBus()
    recorder = Recorder(bus, store, max_delay_s=0.005)
    recording = asyncio.create_task(recorder.run())

    async def emit(event: Event, *, confirm: bool = False) -> None:
        await bus.publish(f"events.{event.kind}", event, event.context, confirm=confirm)

    manager = AlarmManager(bus, store, clock, emit, policy or AlarmPolicy(poll_s=0.05))
    task = asyncio.create_task(manager.run())
    try:
        await asyncio.wait_for(manager.ready.wait(), 5)
        yield Plant(bus, store, clock, manager)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await bus.close()
        await recording


async def test_conditions_on_the_bus_become_stored_alarm_events_with_their_cause():
    store, clock = MemoryStore(), SimulatedClock(T0)
    async with running(store, clock) as plant:
        cause = await plant.condition("raised", value=190.0)
        (raised,) = await eventually(lambda: plant.stored("alarm.raised"))
        assert raised.context.parent_id == cause.id and raised.data["alarm_id"] == HIGH
        assert plant.manager.get(HIGH).state is AlarmState.UNACK
        assert [a.id for a in plant.manager.alarms()] == [HIGH]

        clock.advance(42)
        acked = await plant.manager.acknowledge(HIGH, "olga", "real", "cooling water off")
        assert acked.state is AlarmState.ACKED
        # Confirmed: stored before acknowledge returned, with who and when.
        (record,) = plant.stored("alarm.acknowledged")
        assert record.context.user == "olga" and record.timestamp == T0 + 42 * NS_PER_S

        await plant.condition("cleared")
        await eventually(lambda: plant.stored("alarm.cleared"))
        assert plant.manager.alarms() == []
        assert plant.manager.alarms(states=["normal"])[0].id == HIGH
        stats = plant.manager.stats()
        assert stats["conditions"] == 2 and stats["emitted"] == 3


async def test_filters_by_priority_source_and_asset():
    store, clock = MemoryStore(), SimulatedClock(T0)
    async with running(store, clock) as plant:
        await plant.condition("raised", priority="low", asset="press1")
        await plant.condition("raised", source="oven.temp", priority="urgent", asset="oven")
        await eventually(lambda: len(plant.manager.alarms()) == 2)
        assert [a.source for a in plant.manager.alarms()] == ["oven.temp", TEMP]  # urgent first
        assert [a.source for a in plant.manager.alarms(priority=Priority.high)] == ["oven.temp"]
        assert [a.source for a in plant.manager.alarms(asset="press1")] == [TEMP]
        assert plant.manager.alarms(source="nothing") == []


async def test_on_delay_and_shelf_expiry_fire_on_the_timer_with_a_wall_clock():
    policy = AlarmPolicy(on_delay_s=0.1, poll_s=0.02, max_shelve_s=0.15)
    async with running(MemoryStore(), WallClock(), policy) as plant:
        await plant.condition("raised")
        await eventually(lambda: plant.stored("alarm.raised"))  # nobody called tick()
        shelved = await plant.manager.shelve(HIGH, "olga", 3600, "known fault")
        assert shelved.capped and shelved.alarm.state is AlarmState.SHELVED
        (back,) = await eventually(lambda: plant.stored("alarm.unshelved"))
        assert back.data["expired"] is True and back.context.user is None
        assert plant.manager.get(HIGH).state is AlarmState.UNACK


async def test_a_restart_rebuilds_every_alarm_and_catches_up_on_conditions():
    store, clock = MemoryStore(), SimulatedClock(T0)
    policy = AlarmPolicy(on_delay_s=5, off_delay_s=5, poll_s=0.05)
    async with running(store, clock, policy) as plant:
        await plant.condition("raised")  # -> acked
        await plant.condition("raised", source="a.flow", name="robust-z", family="anomaly")
        await plant.condition("raised", source="b.level", name="flatline", family="quality")
        await eventually(lambda: plant.manager.conditions == 3)
        clock.advance(6)
        await plant.manager.tick()
        await plant.manager.acknowledge(HIGH, "olga", "false")
        await plant.manager.shelve(alarm_id("a.flow", "robust-z"), "ivan", 60, "recalibrating")
        await plant.condition("cleared", source="b.level", name="flatline", family="quality")
        await plant.condition("raised", source="c.speed", name="low")  # within its on-delay
        await eventually(lambda: plant.manager.conditions == 5)
        before = {a.id: a.snapshot() for a in plant.manager.book}
        await eventually(lambda: len(store.events(0, 2**62, kind="limit")) == 2)

    clock.advance(1)
    async with running(store, clock, policy) as plant:
        after = {a.id: a.snapshot() for a in plant.manager.book}
        assert after[HIGH] == before[HIGH]
        flow = plant.manager.get(alarm_id("a.flow", "robust-z"))
        assert flow.state is AlarmState.SHELVED and flow.shelved_by == "ivan"
        # The pending off-delay and on-delay were rebuilt from the stored condition events.
        level = plant.manager.get(alarm_id("b.level", "flatline"))
        speed = plant.manager.get(alarm_id("c.speed", "low"))
        assert level.state is AlarmState.UNACK and level.off_due is not None
        assert speed.state is AlarmState.NORMAL and speed.on_due is not None

        clock.advance(5)
        await plant.manager.tick()
        assert level.state is AlarmState.RTNUNACK and speed.state is AlarmState.UNACK
        clock.advance(60)
        await plant.manager.tick()
        assert flow.state is AlarmState.UNACK
        assert plant.manager.stats()["conditions"] == 0  # nothing was delivered twice

    clock.advance(1)
    async with running(store, clock, policy) as plant:  # and once more: nothing replays twice
        assert plant.manager.emitted == 0
        assert plant.manager.get(alarm_id("c.speed", "low")).state is AlarmState.UNACK


# -- webhooks -------------------------------------------------------------------------------------


@dataclass
class HookServer:
    """A tiny real HTTP server: records each request and answers with ``status``."""

    status: int = 204
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")[1:]
        headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines if h)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append((headers, body))
        writer.write(
            f"HTTP/1.1 {self.status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        writer.close()

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[HookServer]:
        server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        async with server:
            yield self


async def test_webhooks_get_signed_notifications_and_failures_are_retried_and_logged_once(
    caplog: pytest.LogCaptureFixture,
):
    secret = "s3cr3t-value"
    async with HookServer().serving() as good, HookServer(status=500).serving() as bad:
        dead = HookServer()
        async with dead.serving():
            pass  # closed again: its port now refuses connections
        fast = {"retries": 2, "backoff_s": 0.01, "timeout_s": 2.0}
        policy = AlarmPolicy(
            poll_s=0.05,
            webhooks=(
                Webhook(f"http://127.0.0.1:{good.port}/hook", secret=secret),
                Webhook(f"http://127.0.0.1:{bad.port}/hook?token=xyz", **fast),  # type: ignore[arg-type]
                Webhook(f"http://user:pw-hidden@127.0.0.1:{dead.port}/x", **fast),  # type: ignore[arg-type]
                Webhook(f"http://127.0.0.1:{good.port}/urgent", min_priority=Priority.urgent),
            ),
        )
        caplog.set_level(logging.INFO, logger="werk.analytics.alarms")
        async with running(MemoryStore(), SimulatedClock(T0), policy) as plant:
            await plant.condition("raised")  # high: the urgent-only hook is not told
            await plant.condition("raised", source="x", priority="low")  # told nowhere
            await eventually(lambda: plant.manager.emitted == 2)
            await plant.manager.acknowledge(HIGH, "olga", "real")
            async with asyncio.timeout(10):
                await plant.manager.notifier.drain()
            stats = {s["url"]: s for s in plant.manager.stats()["webhooks"]}

    assert [json.loads(body)["kind"] for _, body in good.requests] == [
        "alarm.raised",
        "alarm.acknowledged",
    ]
    headers, body = good.requests[0]
    assert json.loads(body)["data"]["alarm_id"] == HIGH
    stamp, digest = (part.split("=", 1)[1] for part in headers[SIGNATURE_HEADER.lower()].split(","))
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(digest, expected)
    assert "x-werk-signature" not in bad.requests[0][0]

    assert len(bad.requests) == 2 * 3  # two notifications, each tried three times
    bad_stats = stats[f"http://127.0.0.1:{bad.port}/hook"]
    assert bad_stats["failed"] == 2 and bad_stats["retried"] == 4 and bad_stats["sent"] == 0
    dead_stats = stats[f"http://127.0.0.1:{dead.port}/x"]
    assert dead_stats["failed"] == 2 and dead_stats["failing"]
    assert stats[f"http://127.0.0.1:{good.port}/hook"]["sent"] == 2

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2  # once per failing URL, not once per attempt
    assert any("HTTP 500" in w for w in warnings)
    text = caplog.text
    assert "xyz" not in text and "pw-hidden" not in text and secret not in text


def test_webhook_urls_are_checked():
    from werk.core import ValidationError

    with pytest.raises(ValidationError, match="http"):
        Webhook("ftp://example.org/x")
    with pytest.raises(ValidationError, match="transition"):
        Webhook("http://example.org/x", transitions=("exploded",))

"""Alarms on an API replica of a scaled-out werk: a read model of worker 0's alarms, and the
operator's actions forwarded to it as ``alarm.request`` events.

In one process first (the leader's AlarmManager and an AlarmReplica over one MemoryBus, one
MemoryStore and a recorder): the read model follows, a request is applied once, refusals come
back as 404/409, a leader that does not answer gives 504. Then for real: 1 ingest + 1 worker + 1
API replica on NATS JetStream and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import Api, api_client, make_settings
from tests.bus import nats_test_url
from tests.servers import WerkProcess, free_port
from werk.analytics.alarms import (
    AlarmConflict,
    AlarmManager,
    AlarmPolicy,
    AlarmReplica,
    AlarmState,
    NoAnswer,
    UnknownAlarm,
    alarm_id,
    alarm_kpis,
)
from werk.analytics.alarms.history import read_events
from werk.api.tokens import Role, TokenStore
from werk.core import NS_PER_S, Event, MemoryBus, SimulatedClock
from werk.settings import AlarmSettings
from werk.store.memory import MemoryStore
from werk.store.recorder import Recorder

T0 = 1_800_000_000 * NS_PER_S
TEMP = "press1.temperature"
HIGH = alarm_id(TEMP, "high")


async def eventually(check: Callable[[], Any], timeout_s: float = 5.0) -> Any:
    async with asyncio.timeout(timeout_s):
        while not (result := check()):
            await asyncio.sleep(0.005)
    return result


@dataclass
class Cluster:
    """One bus, one store with its recorder; the leader's manager and a replica on top."""

    bus: MemoryBus
    store: MemoryStore
    clock: SimulatedClock
    leader: AlarmManager | None
    replica: AlarmReplica

    async def condition(self, change: str, source: str = TEMP, name: str = "high") -> Event:
        payload = {"condition": name, "priority": "high", "message": f"{name} on {source}"}
        event = Event(f"limit.{change}", source, payload, timestamp=self.clock.now_ns())
        await self.bus.publish(f"events.{event.kind}", event, event.context)
        return event

    def stored(self, kind: str = "alarm") -> list[Event]:
        return self.store.events(0, 2**62, kind=kind)


async def _start(task: asyncio.Task[None], ready: asyncio.Event) -> None:
    async with asyncio.timeout(5):
        while not ready.is_set():
            if task.done():
                task.result()
            await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def cluster(
    store: MemoryStore | None = None,
    *,
    leader: bool = True,
    answer_timeout_s: float = 5.0,
) -> AsyncIterator[Cluster]:
    store = store or MemoryStore()
    clock = SimulatedClock(T0)
    bus = MemoryBus()
    recorder = Recorder(bus, store, max_delay_s=0.005)
    recording = asyncio.create_task(recorder.run())

    async def emit(event: Event, *, confirm: bool = False) -> None:
        await bus.publish(f"events.{event.kind}", event, event.context, confirm=confirm)

    policy = AlarmPolicy(poll_s=0.05, max_shelve_s=600)
    tasks = []
    manager = None
    if leader:
        manager = AlarmManager(bus, store, clock, emit, policy)
        tasks.append(asyncio.create_task(manager.run()))
        await _start(tasks[-1], manager.ready)
    replica = AlarmReplica(bus, store, clock, emit, policy, answer_timeout_s=answer_timeout_s)
    tasks.append(asyncio.create_task(replica.run()))
    try:
        await _start(tasks[-1], replica.ready)
        yield Cluster(bus, store, clock, manager, replica)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await bus.close()
        await recording


# -- in one process ------------------------------------------------------------------------------


async def test_the_replica_follows_the_leader_and_its_acknowledgement_is_applied_once() -> None:
    async with cluster() as c:
        assert c.leader is not None
        cause = await c.condition("raised")
        await eventually(lambda: c.replica.book.find(HIGH))
        assert c.replica.get(HIGH).state is AlarmState.UNACK
        assert [a.id for a in c.replica.alarms()] == [HIGH]

        c.clock.advance(30)
        acked = await c.replica.acknowledge(HIGH, "olga", "real", "coolant pump tripped")
        assert acked.state is AlarmState.ACKED and acked.acked_by == "olga"
        assert acked.verdict == "real" and acked.acked_at == T0 + 30 * NS_PER_S
        assert c.leader.get(HIGH).state is AlarmState.ACKED  # the leader's book: the truth
        # Stored before the replica answered (confirmed), naming the operator and the request.
        (record,) = c.stored("alarm.acknowledged")
        (request,) = c.stored("alarm.request")
        assert record.context.user == "olga" and request.context.user == "olga"
        assert record.context.parent_id == request.id and record.data["cause_id"] == cause.id
        assert request.data == {
            "action": "acknowledge",
            "alarm_id": HIGH,
            "verdict": "real",
            "comment": "coolant pump tripped",
            "duration_s": None,
            "reason": None,
        }
        assert c.replica.get(HIGH).state is AlarmState.ACKED  # and the read model followed

        # A redelivery of the request (JetStream may deliver twice) is not applied again: a
        # second acknowledgement would be a conflict, answered with an alarm.refused.
        await c.bus.publish("events.alarm.request", request, request.context)
        await asyncio.sleep(0.1)
        assert c.leader.stats()["requests"] == 1 and c.leader.stats()["refused"] == 0
        assert len(c.stored("alarm.acknowledged")) == 1 and c.stored("alarm.refused") == []

        # The clear reaches the replica too; requests are not alarms in the KPIs.
        await c.condition("cleared")
        await eventually(lambda: c.replica.get(HIGH).state is AlarmState.NORMAL)
        kpis = alarm_kpis(c.stored(), 0, 2**62)
        assert kpis["rates"]["alarms"] == 1 and kpis["time_to_acknowledge"]["count"] == 1


async def test_refusals_come_back_as_the_leaders_errors() -> None:
    async with cluster() as c:
        await c.condition("raised")
        await eventually(lambda: c.replica.book.find(HIGH))
        with pytest.raises(UnknownAlarm, match="nothing@high"):
            await c.replica.acknowledge("nothing@high", "olga")
        with pytest.raises(AlarmConflict, match="not shelved"):
            await c.replica.unshelve(HIGH, "olga")
        await c.replica.acknowledge(HIGH, "olga")
        with pytest.raises(AlarmConflict, match="already acknowledged"):
            await c.replica.acknowledge(HIGH, "piet")
        refused = c.stored("alarm.refused")
        assert sorted(e.data["status"] for e in refused) == [404, 409, 409]
        requests = {e.id for e in c.stored("alarm.request")}
        assert {e.context.parent_id for e in refused} <= requests

        shelved = await c.replica.shelve(HIGH, "olga", 3600, "sensor under repair")
        assert shelved.capped and shelved.alarm.state is AlarmState.SHELVED  # policy: 600 s
        assert shelved.alarm.shelved_until == c.clock.now_ns() + 600 * NS_PER_S
        await eventually(lambda: c.replica.get(HIGH).state is AlarmState.SHELVED)
        back = await c.replica.unshelve(HIGH, "olga")
        assert back.state is AlarmState.ACKED and back.shelved_by is None
        # The stored requests do not become alarms when the leader rebuilds.
        assert c.leader is not None and len(c.leader.book) == 1


async def test_a_replica_started_later_reads_the_alarms_from_the_store() -> None:
    store = MemoryStore()
    async with cluster(store) as c:
        await c.condition("raised")
        await c.condition("raised", source="oven.temp")
        await eventually(lambda: len(c.stored("alarm.raised")) == 2)
        await c.replica.acknowledge(HIGH, "olga")
    # The leader and a replica start again over the same store: both rebuild; nothing is
    # applied twice (the stored request is not a snapshot, nor a request to apply).
    async with cluster(store) as again:
        assert again.replica.get(HIGH).state is AlarmState.ACKED
        assert again.replica.get(alarm_id("oven.temp", "high")).state is AlarmState.UNACK
        assert again.leader is not None and again.leader.get(HIGH).state is AlarmState.ACKED
        assert len(again.stored("alarm.acknowledged")) == 1


async def test_without_a_leader_the_replica_says_so_in_time() -> None:
    async with cluster(leader=False, answer_timeout_s=0.2) as c:
        started = time.monotonic()
        with pytest.raises(NoAnswer, match="did not answer the acknowledge"):
            await c.replica.acknowledge(HIGH, "olga")
        assert time.monotonic() - started < 2
        assert c.replica.stats()["unanswered"] == 1


async def test_the_api_of_a_replica_answers_like_the_leaders(tmp_path: Path) -> None:
    """The routes over an AlarmReplica, its leader in the same process (the embedded runtime's)."""
    settings = make_settings(tmp_path).model_copy(update={"alarms": AlarmSettings(off_delay_s=0.0)})
    async with api_client(settings) as parts:
        api = Api(*parts)
        runtime = api.runtime
        leader = runtime.alarms
        assert leader is not None
        await asyncio.wait_for(leader.ready.wait(), 5)
        replica = AlarmReplica(runtime.bus, runtime.store, runtime.clock, runtime.emit)
        task = asyncio.create_task(replica.run())
        try:
            await asyncio.wait_for(replica.ready.wait(), 5)
            runtime.alarms = replica  # what the composition root does on an API replica
            payload = {"condition": "high", "priority": "high", "value": 212.0}
            await runtime.emit(Event("limit.raised", TEMP, payload))
            await eventually(lambda: replica.book.find(HIGH))

            viewer, operator = api.auth(Role.viewer), api.auth(Role.operator)
            listed = (await api.client.get("/api/v1/alarms", headers=viewer)).json()
            assert [a["id"] for a in listed["alarms"]] == [HIGH]
            path = f"/api/v1/alarms/{HIGH}/acknowledge"
            refused = await api.client.post(path, json={"verdict": "real"}, headers=viewer)
            assert refused.status_code == 403
            acked = await api.client.post(path, json={"verdict": "real"}, headers=operator)
            assert acked.status_code == 200, acked.text
            assert acked.json()["state"] == "acked" and acked.json()["acked_by"] == "test-operator"
            assert "seq" not in acked.json()
            again = await api.client.post(path, json={}, headers=operator)
            assert again.status_code == 409 and "already acknowledged" in again.json()["detail"]
            unknown = await api.client.post(
                "/api/v1/alarms/nothing@high/acknowledge", json={}, headers=operator
            )
            assert unknown.status_code == 404
            shelf = await api.client.post(
                f"/api/v1/alarms/{HIGH}/shelve", json={"duration_s": 60}, headers=operator
            )
            assert shelf.status_code == 200 and shelf.json()["capped"] is False
            one = await api.client.get(f"/api/v1/alarms/{HIGH}", headers=viewer)
            assert one.json()["state"] == "shelved"
            history = await api.client.get(
                "/api/v1/alarms/history", params={"alarm": HIGH}, headers=viewer
            )
            kinds = [e["kind"] for e in history.json()["events"]]
            assert kinds == ["alarm.shelved", "alarm.acknowledged", "alarm.raised"]
            everything = await api.client.get("/api/v1/alarms/history", headers=viewer)
            assert [e["kind"] for e in everything.json()["events"]] == kinds
            kpis = await api.client.get("/api/v1/alarms/kpis", headers=viewer)
            assert kpis.status_code == 200 and kpis.json()["rates"]["alarms"] == 1

            # A leader that never answers (its requests go nowhere): 504, in time.
            async def nowhere(event: Event, *, confirm: bool = False) -> None:
                pass

            deaf = AlarmReplica(
                runtime.bus, runtime.store, runtime.clock, nowhere, answer_timeout_s=0.2
            )
            deaf_task = asyncio.create_task(deaf.run())
            try:
                await asyncio.wait_for(deaf.ready.wait(), 5)
                runtime.alarms = deaf
                lost = await api.client.post(
                    f"/api/v1/alarms/{HIGH}/unshelve", json={}, headers=operator
                )
                assert lost.status_code == 504, lost.text
                assert "did not answer the unshelve" in lost.json()["detail"]
            finally:
                deaf_task.cancel()
                await asyncio.gather(deaf_task, return_exceptions=True)
            # A replica that stopped (or has not read the store yet) does not pretend.
            assert (await api.client.get("/api/v1/alarms", headers=viewer)).status_code == 503
        finally:
            runtime.alarms = leader
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


# -- for real: 1 ingest + 1 worker + 1 API replica on NATS and PostgreSQL ------------------------

PLANT = """
[plant]
id = "p"
name = "replica alarms"

[assets.site]
level = "site"

[assets.area]
level = "area"
parent = "site"

[assets.line]
level = "line"
parent = "area"

[assets.m1]
level = "machine"
parent = "line"

[assets.m1.signals.a]
analytics = { limits = { high = 80, deadband = 5, priority = "urgent" } }
"""


@pytest.fixture
async def nats_url() -> AsyncIterator[str]:
    async for made in nats_test_url():
        yield made


async def test_an_operator_acknowledges_worker_0s_alarm_through_an_api_replica(
    tmp_path: Path, postgres_url: str, nats_url: str
) -> None:
    tokens_file = tmp_path / "tokens.json"
    (tmp_path / "plant.toml").write_text(PLANT)
    config = tmp_path / "werk.toml"
    config.write_text(
        f'plant = "{tmp_path / "plant.toml"}"\n'
        f'[store]\nurl = "{postgres_url}"\n'
        f'[bus]\nurl = "{nats_url}"\n'
        f'[api]\ntokens_file = "{tokens_file}"\n'
        f'[twin]\ndirectory = "{tmp_path / "twin"}"\n'
        "[recorder]\nmax_delay_ms = 20\n"
        "[alarms]\noff_delay_s = 0\n"
    )
    tokens = TokenStore(tokens_file)
    _, producer = tokens.create(Role.operator, "producer")
    _, operator = tokens.create(Role.operator, "olga")
    _, viewer = tokens.create(Role.viewer, "vera")

    def proc(args: list[str], name: str) -> WerkProcess:
        port = free_port()  # WERK_API__PORT: `werk serve` has no --port
        command = [*args, "--config", str(config)]
        env = {"WERK_API__PORT": str(port)}
        return WerkProcess(command, tmp_path, port, env=env, name=name)

    ingest = proc(["ingest"], "ingest")
    worker = proc(["worker", "--partition", "0/1"], "worker0")
    api = proc(["serve", "--role", "api"], "api")
    with contextlib.ExitStack() as stack:
        for p in (ingest, worker, api):
            stack.enter_context(p)
            p.start()
        for p in (ingest, worker, api):
            await asyncio.to_thread(p.wait_ready, 60)
        async with httpx.AsyncClient(timeout=15) as client:
            alarm = alarm_id("m1.a", "high")
            # 503 until the replica has read the alarms from the store (and follows the bus)
            await _until(
                lambda: client.get(f"{api.url}/api/v1/alarms", headers=_bearer(viewer)),
                lambda r: r.status_code == 200,
                what="the replica's alarm list",
            )
            now = time.time_ns()
            written = await client.post(
                f"{ingest.url}/api/v1/samples",
                json={
                    "samples": [
                        {"signal": "m1.a", "timestamp": now - 2 * NS_PER_S, "value": 20.0},
                        {"signal": "m1.a", "timestamp": now - NS_PER_S, "value": 95.0},
                    ]
                },
                headers=_bearer(producer),
            )
            assert written.status_code == 200, written.text

            listed = await _until(
                lambda: client.get(f"{api.url}/api/v1/alarms", headers=_bearer(viewer)),
                lambda r: any(a["id"] == alarm for a in r.json()["alarms"]),
                what=f"{alarm} listed on the replica",
                logs=(worker, api),
            )
            (shown,) = [a for a in listed.json()["alarms"] if a["id"] == alarm]
            assert shown["state"] == "unack" and shown["priority"] == "urgent"

            path = f"{api.url}/api/v1/alarms/{alarm}/acknowledge"
            refused = await client.post(path, json={}, headers=_bearer(viewer))
            assert refused.status_code == 403, refused.text
            acked = await client.post(
                path,
                json={"verdict": "real", "comment": "m1 overheated"},
                headers=_bearer(operator),
            )
            assert acked.status_code == 200, f"{acked.text}\n{worker.log_tail()}"
            assert acked.json()["state"] == "acked" and acked.json()["acked_by"] == "olga"

            # worker 0's PostgreSQL has the acknowledgement, naming the operator and the request
            # (the answer came over the bus; the recorder commits the same events on its own
            # time, so they are in the store soon after, not necessarily before the answer)
            from werk.store.postgres import PostgresStore

            def recorded() -> tuple[list[Event], list[Event]]:
                acks = [
                    e
                    for e in read_events(store, "alarm.acknowledged", 0, 2**62)
                    if e.data["alarm_id"] == alarm
                ]
                return acks, read_events(store, "alarm.request", 0, 2**62)

            store = PostgresStore.from_url(postgres_url)
            try:
                deadline = time.monotonic() + 15
                acks, requests = await asyncio.to_thread(recorded)
                while not (acks and requests) and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                    acks, requests = await asyncio.to_thread(recorded)
                (record,) = acks
                (request,) = requests
            finally:
                store.close()
            assert record.context.user == "olga" and record.data["acked_by"] == "olga"
            assert record.data["comment"] == "m1 overheated"
            assert record.context.parent_id == request.id and request.context.user == "olga"

            one = await client.get(f"{api.url}/api/v1/alarms/{alarm}", headers=_bearer(viewer))
            assert one.json()["state"] == "acked"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _until(
    call: Callable[[], Any],
    done: Callable[[httpx.Response], bool],
    *,
    what: str,
    timeout_s: float = 15.0,
    logs: tuple[WerkProcess, ...] = (),
) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:
        response: httpx.Response = await call()
        if done(response):
            return response
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {p.name}\n{p.log_tail()}" for p in logs)
            raise AssertionError(f"never: {what}; last answer {response.text}\n{tails}")
        await asyncio.sleep(0.1)

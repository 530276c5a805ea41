"""The live feed: a real uvicorn server and a real WebSocket client, plus the hub on its own."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.api.conftest import T0, Api, ApiFactory
from werk.api.live import Interest, LiveClient, LiveHub
from werk.api.tokens import Role
from werk.core import Event, MemoryBus, SampleBatch

TIMEOUT = 5.0


@contextlib.asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """The app on a free loopback port; yields its ws:// base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(TIMEOUT):
            while not server.started:
                await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/api/v1/live"
    finally:
        server.should_exit = True
        await task


async def receive(ws: ClientConnection, kind: str) -> dict[str, Any]:
    """The next message of type ``kind`` (others are skipped)."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            message: dict[str, Any] = json.loads(await ws.recv())
            if message["type"] == kind:
                return message


async def test_pushes_samples_ingested_after_subscribing_and_events(api: Api) -> None:
    await api.runtime.ingest(SampleBatch.of("press.temp", [T0 - 1], [20.0]))
    async with serve(api.app) as url, connect(f"{url}?token={api.tokens[Role.viewer]}") as ws:
        await ws.send(json.dumps({"subscribe": ["press.temp", "nope"], "events": True}))
        subscribed = await receive(ws, "subscribed")
        assert subscribed["signals"] == ["nope", "press.temp"]
        assert subscribed["events"] is True
        assert subscribed["unknown"] == ["nope"]
        assert [s["value"] for s in subscribed["snapshot"]] == [20.0]

        batch = SampleBatch.from_columns(
            ["press.temp", "press.pressure", "press.temp"], [T0, T0, T0 + 1], [71.5, 3.0, 72.0]
        )
        await api.runtime.ingest(batch)
        samples = (await receive(ws, "samples"))["samples"]
        assert [(s["signal"], s["ns"], s["value"], s["quality"]) for s in samples] == [
            ("press.temp", T0, 71.5, "good"),
            ("press.temp", T0 + 1, 72.0, "good"),
        ]

        await api.runtime.emit(Event("alarm.raised", "press.temp", {"value": 72.0}))
        event = await receive(ws, "event")
        assert (event["kind"], event["source"], event["data"]) == (
            "alarm.raised",
            "press.temp",
            {"value": 72.0},
        )

        # Resubscribing changes what comes: now every signal, no events.
        await ws.send(json.dumps({"subscribe": "*", "events": False}))
        assert (await receive(ws, "subscribed"))["signals"] == "*"
        await api.runtime.emit(Event("alarm.cleared", "press.temp"))
        await api.runtime.ingest(SampleBatch.of("line.speed", [T0], [1.25]))
        message = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert message["type"] == "samples"  # the event was not sent
        assert message["samples"][0]["signal"] == "line.speed"


async def test_refuses_a_missing_or_bad_token(api: Api) -> None:
    async with serve(api.app) as url:
        async with connect(url) as ws:
            await ws.send(json.dumps({"subscribe": "*"}))  # no token in the first message
            error = json.loads(await ws.recv())
            assert error["type"] == "error" and error["error"] == "unauthorized"
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401

        async with connect(f"{url}?token=werk_1_2") as ws:
            assert json.loads(await ws.recv())["error"] == "unauthorized"

        # The token may come in the first message, with the subscription.
        token = api.tokens[Role.viewer]
        async with connect(url) as ws:
            await ws.send(json.dumps({"token": token, "subscribe": ["press.temp"]}))
            assert (await receive(ws, "subscribed"))["signals"] == ["press.temp"]
            await ws.send("not json")
            assert (await receive(ws, "error"))["error"] == "validation failed"
            await ws.send(json.dumps({"subscribe": 5}))
            assert (await receive(ws, "error"))["field"] == "subscribe"


async def test_anonymous_feed_when_anonymous_read_is_on(open_api: ApiFactory) -> None:
    async with open_api(anonymous_read=True) as api, serve(api.app) as url, connect(url) as ws:
        await ws.send(json.dumps({"subscribe": ["line.speed"]}))
        await receive(ws, "subscribed")
        await api.runtime.ingest(SampleBatch.of("line.speed", [T0], [2.0]))
        assert (await receive(ws, "samples"))["samples"][0]["value"] == 2.0


async def test_a_client_that_falls_behind_is_told_and_gets_the_latest(
    open_api: ApiFactory,
) -> None:
    options = {"live_buffer_size": 5, "live_interval_s": 0.2}
    async with (
        open_api(live_options=options) as api,
        serve(api.app) as url,
        connect(f"{url}?token={api.tokens[Role.viewer]}") as ws,
    ):
        await ws.send(json.dumps({"subscribe": "*"}))
        await receive(ws, "subscribed")
        ts = T0 + np.arange(20)
        batch = SampleBatch.concat(
            SampleBatch.of(name, ts, np.arange(20, dtype=float) + offset)
            for name, offset in [
                ("press.temp", 0),
                ("press.pressure", 100),
                ("line.speed", 200),
            ]
        )
        await api.runtime.ingest(batch)  # 60 samples into a buffer of 5
        lagged = await receive(ws, "lagged")
        assert lagged == {"type": "lagged", "skipped": 57, "samples": 57, "events": 0}
        samples = (await receive(ws, "samples"))["samples"]
        assert sorted((s["signal"], s["value"]) for s in samples) == [
            ("line.speed", 219.0),
            ("press.pressure", 119.0),
            ("press.temp", 19.0),
        ]


async def test_a_stuck_client_never_stalls_the_bus() -> None:
    bus = MemoryBus(queue_size=4)
    hub = LiveHub(bus)
    await hub.start()
    release = asyncio.Event()
    sent: list[dict[str, Any]] = []

    async def stuck_send(message: dict[str, Any]) -> None:
        await release.wait()  # a client whose socket does not drain
        sent.append(message)

    client = LiveClient(stuck_send, buffer_size=10, interval_s=0.01)
    client.interest = Interest(frozenset({"a"}), events=True)
    hub.clients.add(client)
    sender = asyncio.create_task(client.run())
    try:
        async with asyncio.timeout(TIMEOUT):  # would hang if publishers waited on the client
            for i in range(500):
                await bus.publish("samples.test", SampleBatch.of("a", [i], [float(i)]))
                await bus.publish("samples.test", SampleBatch.of("b", [i], [0.0]))
            for i in range(1_005):
                await bus.publish("events.tick", Event("tick", data={"i": i}))
            while bus.stats()[0]["queued"] or bus.stats()[1]["queued"]:
                await asyncio.sleep(0.001)
        release.set()
        async with asyncio.timeout(TIMEOUT):
            while not any(m["type"] == "samples" and m["samples"][-1]["ns"] == 499 for m in sent):
                await asyncio.sleep(0.01)
    finally:
        sender.cancel()
        await hub.stop()
        await bus.close()
    lagged = [m for m in sent if m["type"] == "lagged"]
    delivered = sum(len(m["samples"]) for m in sent if m["type"] == "samples")
    events = [m for m in sent if m["type"] == "event"]
    # Every sample of "a" was delivered or counted as skipped; "b" was never wanted.
    assert delivered + sum(m["samples"] for m in lagged) == 500
    assert sum(m["events"] for m in lagged) + len(events) == 1_005
    assert sum(m["events"] for m in lagged) >= 5  # the event buffer holds 1000
    assert events[-1]["data"] == {"i": 1_004}
    assert all(s["signal"] == "a" for m in sent if m["type"] == "samples" for s in m["samples"])


async def test_pushes_are_throttled_and_batched() -> None:
    sent: list[tuple[float, dict[str, Any]]] = []
    loop = asyncio.get_running_loop()

    async def send(message: dict[str, Any]) -> None:
        sent.append((loop.time(), message))

    client = LiveClient(send, interval_s=0.1)
    client.interest = Interest(None)
    sender = asyncio.create_task(client.run())
    try:
        for i in range(30):
            client.offer_samples(SampleBatch.of("a", [i], [float(i)]))
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.15)
    finally:
        sender.cancel()
    times = [t for t, _ in sent]
    # 30 offers over at least 0.3 s: a handful of pushes, each carrying several samples.
    assert 2 <= len(sent) <= 10
    assert all(b - a >= 0.099 for a, b in itertools.pairwise(times))
    assert [s["ns"] for _, m in sent for s in m["samples"]] == list(range(30))


async def test_a_client_that_never_reads_cannot_pile_up_replies() -> None:
    release = asyncio.Event()

    async def stuck_send(message: dict[str, Any]) -> None:
        await release.wait()

    client = LiveClient(stuck_send)
    sender = asyncio.create_task(client.run())
    try:
        for i in range(LiveClient.MAX_CONTROL):
            client.post({"type": "subscribed", "n": i})
        with pytest.raises(TimeoutError):  # the reader now waits instead of taking more requests
            await asyncio.wait_for(client.room_for_control(), 0.05)
        release.set()
        await asyncio.wait_for(client.room_for_control(), TIMEOUT)
    finally:
        sender.cancel()


async def test_a_large_push_is_split_into_messages_clients_accept() -> None:
    """10,000 samples in one push would exceed the 1 MiB a WebSocket client accepts by default:
    they go out as several messages of at most MAX_ROWS samples, all of them, in order."""
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    client = LiveClient(send, interval_s=0.01)
    client.interest = Interest(None)
    n = 9_999
    client.offer_samples(
        SampleBatch.from_columns(
            [f"line1.press{i % 50}.temperature" for i in range(n)],
            list(range(n)),
            [float(i) for i in range(n)],
        )
    )
    sender = asyncio.create_task(client.run())
    try:
        await asyncio.sleep(0.1)
    finally:
        sender.cancel()
    assert len(sent) == -(-n // LiveClient.MAX_ROWS)
    assert all(len(m["samples"]) <= LiveClient.MAX_ROWS for m in sent)
    assert [s["ns"] for m in sent for s in m["samples"]] == list(range(n))
    assert max(len(json.dumps(m)) for m in sent) < 1 << 20

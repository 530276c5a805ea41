"""Analytics inside a running werk: ingest → quality screen → store, detectors → conditions →
alarms, and what the API says about coverage and detectors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pytest

from werk.api.app import create_api
from werk.app import open_runtime
from werk.core import NS_PER_S, Event, Quality, SampleBatch
from werk.runtime import Runtime
from werk.settings import Settings

from .test_service import PLANT


def settings(tmp_path: Path, **analytics: object) -> Settings:
    plant = tmp_path / "plant.toml"
    plant.write_text(PLANT)
    return Settings(
        store={"url": "memory://"},
        api={"tokens_file": str(tmp_path / "tokens.json"), "anonymous_read": True},
        twin={"directory": str(tmp_path / "twin")},
        recorder={"max_delay_ms": 5},
        plant=str(plant),
        analytics=analytics,
        alarms={"off_delay_s": 0},
    )


async def events_of(
    runtime: Runtime,
    kind: str,
    where: Callable[[Event], bool] = lambda e: True,
    timeout_s: float = 10.0,
) -> list[Event]:
    """The stored events of ``kind`` that match ``where``, once there is at least one."""
    async with asyncio.timeout(timeout_s):
        while True:
            found = await runtime.query(runtime.store.events, 0, 2**62, kind=kind)
            if matching := [e for e in found if where(e)]:
                return matching
            await asyncio.sleep(0.02)


async def test_an_out_of_range_sample_is_stored_bad_and_raises_an_alarm(tmp_path: Path) -> None:
    async with open_runtime(settings(tmp_path)) as runtime:
        now = runtime.clock.now_ns()
        ts = now - np.arange(30, 0, -1) * NS_PER_S
        values = np.full(30, 20.0)
        values[-1] = 1e6  # no minimum/maximum in the plant file: a limit alarm, not a range
        values[-2] = float("nan")
        await runtime.ingest(SampleBatch.of("m1.a", ts, values), source="test")
        stored = await runtime.query(runtime.store.read, "m1.a", 0, 2**62)
        assert len(stored) == 30  # the NaN kept, flagged BAD; nothing lost
        assert stored.quality[np.isnan(stored.values)].tolist() == [Quality.BAD]
        limit = await events_of(runtime, "limit.raised")
        assert limit[0].source == "m1.a" and limit[0].data["condition"] == "high"
        alarms = await events_of(
            runtime, "alarm.raised", lambda e: e.data["alarm_id"] == "m1.a@high"
        )
        assert alarms[0].context.parent_id == limit[0].id  # traceable to its condition


async def test_the_screen_flags_what_it_stores(tmp_path: Path) -> None:
    async with open_runtime(settings(tmp_path)) as runtime:
        now = runtime.clock.now_ns()
        ts = now - np.arange(100, 0, -1) * NS_PER_S
        values = 50 + np.random.default_rng(1).normal(0, 1, 100)
        values[70] = 90  # a spike
        await runtime.ingest(SampleBatch.of("m1.c", ts, values), source="test")
        stored = await runtime.query(runtime.store.read, "m1.c", 0, 2**62)
        latest = {ts: q for _, ts, _, q in stored.rows()}
        assert latest[int(ts[70])] == Quality.UNCERTAIN
        assert sum(q != Quality.GOOD for q in latest.values()) == 1
        spikes = await events_of(
            runtime, "quality.raised", lambda e: e.data["condition"] == "spike"
        )
        assert [e.source for e in spikes] == ["m1.c"]
        assert spikes[0].data["asset"] == "m1" and spikes[0].data["value"] == 90


async def test_api_shows_coverage_and_detectors(tmp_path: Path) -> None:
    async with open_runtime(settings(tmp_path)) as runtime:
        now = runtime.clock.now_ns()
        ts = now - np.arange(5, 0, -1) * NS_PER_S
        await runtime.ingest(SampleBatch.of("m1.a", ts, np.full(5, 20.0)), source="test")
        await runtime.ingest(SampleBatch.of("m1.b", ts, np.full(5, 1.0), Quality.BAD), source="t")
        app = create_api(runtime)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://werk.test"
        ) as client:
            answer = (await client.get("/api/v1/quality", params={"asset": "m1"})).json()
            row = answer["assets"]["m1"]
            assert row["signals"] == 5 and row["covered"] == 1 and row["coverage"] == 0.2
            assert row["problems"]["m1.b"] == ["newest sample bad"]
            assert row["problems"]["m1.count"] == ["never reported"]
            detectors = (await client.get("/api/v1/detectors")).json()
            assert detectors["enabled"] is True
            assert {d["signal"] for d in detectors["signals"]} == {"m1.a", "m1.b"}
            assert detectors["machines"][0]["signals"] == ["m1.a", "m1.b", "m1.c"]


async def test_analytics_can_be_switched_off(tmp_path: Path) -> None:
    async with open_runtime(settings(tmp_path, enabled=False)) as runtime:
        assert runtime.quality is None and runtime.analytics is None
        now = runtime.clock.now_ns()
        batch = SampleBatch.of("m1.a", [now - NS_PER_S], [1e6])
        await runtime.ingest(batch, source="test")
        stored = await runtime.query(runtime.store.read, "m1.a", 0, 2**62)
        assert stored.quality.tolist() == [Quality.GOOD]


async def test_oee_reads_the_signals_and_ideal_cycle_the_plant_file_names(tmp_path: Path) -> None:
    async with open_runtime(settings(tmp_path)) as runtime:
        now = runtime.clock.now_ns()
        start = now - 3600 * NS_PER_S
        ts = start + np.arange(0, 3600, 4) * NS_PER_S  # one part every 4 s, always running
        await runtime.ingest(SampleBatch.of("m1.machine-state", ts, np.zeros(len(ts))), source="t")
        await runtime.ingest(SampleBatch.of("m1.count", ts, np.arange(len(ts))), source="t")
        app = create_api(runtime)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://werk.test"
        ) as client:
            params = {"asset": "m1", "start": str(start), "end": str(ts[-1]), "by": "total"}
            answer = await client.get("/api/v1/oee", params=params)
    assert answer.status_code == 200, answer.text
    [machine] = answer.json()["assets"]
    assert machine["ideal_cycle_s"] == 4.0  # the plant file's, not the default 2 s
    assert machine["total"]["performance"] == pytest.approx(1.0, abs=0.01)

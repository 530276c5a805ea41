"""``GET /api/v1/plant``: the tree the dashboard's plant view draws, with states and alarms."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np

from werk.api.app import create_api
from werk.app import open_runtime
from werk.core import NS_PER_S, SampleBatch
from werk.settings import Settings

from ..analytics.test_pipeline import events_of, settings


async def test_tree_with_states_and_open_alarms(tmp_path: Path) -> None:
    async with open_runtime(settings(tmp_path)) as runtime:
        now = runtime.clock.now_ns()
        ts = now - np.arange(3, 0, -1) * NS_PER_S
        await runtime.ingest(SampleBatch.of("m1.machine-state", ts, [0.0, 0.0, 4.0]), source="t")
        await runtime.ingest(SampleBatch.of("m1.a", ts, [10.0, 95.0, 96.0]), source="t")
        await events_of(runtime, "alarm.raised", lambda e: e.data["alarm_id"] == "m1.a@high")
        app = create_api(runtime)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://werk.test"
        ) as client:
            answer = (await client.get("/api/v1/plant")).json()
    assert answer["plant"] == {"id": "p", "name": "test plant"}
    by_id = {a["id"]: a for a in answer["assets"]}
    assert [by_id[i]["level"] for i in ("site", "area", "line", "m1")] == [
        "site",
        "area",
        "line",
        "machine",
    ]
    assert by_id["line"]["parent"] == "area"
    m1 = by_id["m1"]
    assert m1["state"] == "down" and m1["has_oee"] is True
    assert m1["alarms"] >= 1 and m1["worst_priority"] in ("high", "urgent")
    assert {s["id"] for s in m1["signals"]} >= {"m1.a", "m1.count", "m1.machine-state"}
    assert by_id["site"]["alarms"] == 0 and by_id["site"]["state"] is None


async def test_without_a_plant_file_assets_come_from_the_signals(tmp_path: Path) -> None:
    config = Settings(
        store={"url": "memory://"},
        api={"tokens_file": str(tmp_path / "tokens.json"), "anonymous_read": True},
        twin={"directory": str(tmp_path / "twin")},
        signals=[{"id": "p.t", "asset": "p"}, {"id": "q"}],
    )
    async with open_runtime(config) as runtime:
        app = create_api(runtime)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://werk.test"
        ) as client:
            answer = (await client.get("/api/v1/plant")).json()
    assert answer["plant"] is None
    assert [(a["id"], [s["id"] for s in a["signals"]]) for a in answer["assets"]] == [
        ("(no asset)", ["q"]),
        ("p", ["p.t"]),
    ]

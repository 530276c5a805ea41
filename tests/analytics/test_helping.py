"""``GET /api/v1/helping``: the figures that say whether the analytics help, side by side."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
from rich.console import Console

from werk.api.app import create_api
from werk.app import open_runtime
from werk.cli.analytics import render_helping, render_quality
from werk.core import NS_PER_S, SampleBatch

from .test_pipeline import events_of, settings


async def test_a_dismissed_alarm_shows_as_low_precision_with_a_finding(tmp_path: Path) -> None:
    async with open_runtime(settings(tmp_path)) as runtime:
        now = runtime.clock.now_ns()
        ts = now - np.arange(10, 0, -1) * NS_PER_S
        values = np.r_[np.full(5, 20.0), np.full(5, 95.0)]  # above the high limit of 80
        await runtime.ingest(SampleBatch.of("m1.a", ts, values), source="test")
        [raised] = await events_of(
            runtime, "alarm.raised", lambda e: e.data["alarm_id"] == "m1.a@high"
        )
        assert runtime.alarms is not None
        await runtime.alarms.acknowledge(raised.data["alarm_id"], "olga", verdict="false")
        app = create_api(runtime)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://werk.test"
        ) as client:
            answer = (await client.get("/api/v1/helping")).json()
            quality = (await client.get("/api/v1/quality")).json()
    assert answer["alarms"]["precision"]["precision"] == 0.0
    assert answer["alarms"]["precision"]["false"] == 1
    # m1.a's limit alarm, and stale-data alarms of the signals that never reported
    assert answer["alarms"]["rates"]["alarms"] >= 1
    assert any("precision 0%" in f for f in answer["findings"])
    assert answer["quality"]["m1"]["signals"] == 5
    assert any("m1: only" in f for f in answer["findings"])  # three of its signals never reported
    assert {d["source"] for d in answer["detectors"]} == {"m1.a", "m1"}
    assert answer["changes"] == [] and answer["predictions"]["outcomes"] == 0

    out = Console(record=True, width=200)
    render_helping(answer, out)
    render_quality(quality["assets"], out)
    text = out.export_text()
    assert "alarm precision 0%" in text and "precision 0.0 %" in text
    assert "robust-z" in text and "m1.count: never reported" in text

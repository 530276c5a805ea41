"""POST /samples: JSON and Arrow, good rows stored, bad rows reported, store failures as 503."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from tests.api.conftest import Api
from werk.api.tokens import Role
from werk.core import NS_PER_S, SampleBatch, StoreUnavailable, iso

ARROW = "application/vnd.apache.arrow.stream"


def recent() -> int:
    """A whole second a minute ago: inside every default window, never 'in the future'."""
    return (time.time_ns() // NS_PER_S - 60) * NS_PER_S


async def history(api: Api, signal: str, start: int) -> list[tuple[int, float | None]]:
    params: dict[str, Any] = {"signal": signal, "start": start, "end": "now"}
    response = await api.client.get("/api/v1/history", params=params, headers=api.auth(Role.viewer))
    assert response.status_code == 200, response.text
    return [(s["ns"], s["value"]) for s in response.json()["samples"]]


async def rejected_events(api: Api) -> list[dict[str, Any]]:
    params = {"kind": "ingest.rejected", "start": "1h"}
    # The event is published without waiting for the store; give the recorder a moment.
    for _ in range(100):
        response = await api.client.get(
            "/api/v1/events", params=params, headers=api.auth(Role.viewer)
        )
        events: list[dict[str, Any]] = response.json()["events"]
        if events:
            return events
        await asyncio.sleep(0.01)
    return []


async def test_json_keeps_good_rows_and_reports_bad_ones(api: Api) -> None:
    t = recent()
    body = {
        "samples": [
            {"signal": "press.temp", "timestamp": iso(t), "value": 70.5},
            {"signal": "press.temp", "timestamp": t + NS_PER_S, "value": 71},
            {"signal": "no.such.signal", "timestamp": iso(t), "value": 1.0},
            {"signal": "press.pressure", "timestamp": "half past ten", "value": 1.0},
            {"signal": "press.pressure", "timestamp": t, "value": "high"},
            {"signal": "line.speed", "timestamp": t, "value": 3.5, "quality": "uncertain"},
        ]
    }
    response = await api.client.post("/api/v1/samples", json=body, headers=api.auth(Role.operator))
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows"], report["accepted"], report["rejected"]) == (6, 3, 3)
    assert [(e["row"], e["field"]) for e in report["errors"]] == [
        (2, "signal"),
        (3, "timestamp"),
        (4, "value"),
    ]
    assert sum(report["rejected_by_rule"].values()) == 3

    # Stored by the time the answer came: no waiting needed.
    assert await history(api, "press.temp", t) == [(t, 70.5), (t + NS_PER_S, 71.0)]
    assert await history(api, "press.pressure", t) == []
    latest = (
        await api.client.get("/api/v1/latest?signal=line.speed", headers=api.auth(Role.viewer))
    ).json()
    assert latest["samples"][0]["quality"] == "uncertain"

    # Bad data is visible as an event, traceable to the request and its sender.
    [event] = await rejected_events(api)
    assert event["source"] == "api"
    assert event["user"] == "test-operator"
    assert event["parent_id"] == report["context"]
    assert event["data"]["rejected"] == 3 and event["data"]["accepted"] == 3
    assert event["data"]["rejected_by_rule"] == report["rejected_by_rule"]
    assert [e["row"] for e in event["data"]["errors"]] == [2, 3, 4]


async def test_arrow_keeps_good_rows_and_reports_bad_ones(api: Api) -> None:
    t = recent()
    table = pa.table(
        {
            "signal": ["press.temp", "press.temp", "nope", "press.pressure"],
            "timestamp": pa.array([t, t + 1, t + 2, t + 3], pa.timestamp("ns", tz="UTC")),
            "value": [1.0, 2.0, 3.0, math.nan],  # NaN with good quality is refused
        }
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    response = await api.client.post(
        "/api/v1/samples",
        content=sink.getvalue().to_pybytes(),
        headers={**api.auth(Role.engineer), "Content-Type": ARROW},  # a higher role may too
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["accepted"], report["rejected"]) == (2, 2)
    assert [e["row"] for e in report["errors"]] == [2, 3]
    assert await history(api, "press.temp", t) == [(t, 1.0), (t + 1, 2.0)]


async def test_history_as_arrow_posts_back_unchanged(api: Api) -> None:
    t = recent()
    await api.runtime.ingest(SampleBatch.of("line.speed", t + np.arange(5), np.arange(5.0)))
    exported = await api.client.get(
        "/api/v1/history",
        params={"signal": "line.speed", "start": t, "format": "arrow"},
        headers=api.auth(Role.viewer),
    )
    response = await api.client.post(
        "/api/v1/samples",
        content=exported.content,
        headers={**api.auth(Role.operator), "Content-Type": ARROW},
    )
    assert response.json()["accepted"] == 5
    assert len(await history(api, "line.speed", t)) == 5  # idempotent: stored once


async def test_nothing_accepted_is_422_with_the_report(api: Api) -> None:
    body = {"samples": [{"signal": "nope", "timestamp": recent(), "value": 1.0}]}
    response = await api.client.post("/api/v1/samples", json=body, headers=api.auth(Role.operator))
    assert response.status_code == 422
    report = response.json()
    assert report["error"] == "validation failed"
    assert report["detail"] == "all 1 samples were rejected; see errors"
    assert report["accepted"] == 0 and report["errors"][0]["field"] == "signal"


async def test_unreadable_body_is_422_naming_field_and_rule(api: Api) -> None:
    headers = {**api.auth(Role.operator), "Content-Type": "application/json; charset=utf-8"}
    response = await api.client.post("/api/v1/samples", content=b"{not json", headers=headers)
    assert response.status_code == 422
    body = response.json()
    assert (body["error"], body["field"], body["rule"]) == ("validation failed", "body", "json")
    headers["Content-Type"] = ARROW
    response = await api.client.post("/api/v1/samples", content=b"not arrow", headers=headers)
    assert response.status_code == 422


async def test_other_media_types_are_415(api: Api) -> None:
    response = await api.client.post(
        "/api/v1/samples",
        content=b"signal,timestamp,value\n",
        headers={**api.auth(Role.operator), "Content-Type": "text/csv"},
    )
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported media type"


async def test_store_down_is_503_and_a_retry_stores_once(
    open_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_api(ingest_timeout_s=0.2) as api:

        def down(batch: SampleBatch) -> int:
            raise StoreUnavailable("database restarting")

        monkeypatch.setattr(api.runtime.store, "write", down)
        t = recent()
        body = {"signal": "press.temp", "timestamps": [t, t + 1], "values": [1.0, 2.0]}
        headers = api.auth(Role.operator)
        response = await api.client.post("/api/v1/samples", json=body, headers=headers)
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert response.json()["error"] == "store unavailable"

        monkeypatch.undo()  # the database is back; the client retries until it is told 200
        statuses = []
        for _ in range(20):  # the recorder is still in its backoff: a few tries may be 503
            response = await api.client.post("/api/v1/samples", json=body, headers=headers)
            statuses.append(response.status_code)
            if response.status_code != 503:
                break
        assert statuses[-1] == 200, statuses
        assert await history(api, "press.temp", t) == [(t, 1.0), (t + 1, 2.0)]

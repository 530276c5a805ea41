"""Signals, latest, history (raw, paged, rollups; JSON, CSV, Arrow) and events."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pyarrow as pa
import pytest

from tests.api.conftest import T0, Api
from werk.api.tokens import Role
from werk.core import NS_PER_S, Context, Event, Quality, SampleBatch, iso

MINUTE = 60 * NS_PER_S


@pytest.fixture
def viewer(api: Api) -> dict[str, str]:
    return api.auth(Role.viewer)


async def seed(api: Api) -> None:
    """press.temp: one sample every 10 s for 5 minutes from T0, value = its index."""
    ts = T0 + np.arange(30) * 10 * NS_PER_S
    await api.runtime.ingest(SampleBatch.of("press.temp", ts, np.arange(30, dtype=float)))
    await api.runtime.ingest(SampleBatch.of("press.pressure", [T0, T0 + MINUTE], [2.0, 4.0]))


def window(minutes: int = 5) -> dict[str, str]:
    return {"start": str(T0), "end": iso(T0 + minutes * MINUTE)}


async def test_signals_lists_catalog_and_stored_only(api: Api, viewer: dict[str, str]) -> None:
    # A signal with history that the catalog does not (or no longer) describe.
    await api.runtime.ingest(SampleBatch.of("old.signal", [T0], [1.0]))
    response = await api.client.get("/api/v1/signals", headers=viewer)
    signals = {s["id"]: s for s in response.json()["signals"]}
    assert set(signals) == {"press.temp", "press.pressure", "line.speed", "old.signal"}
    assert signals["press.temp"] == {
        "id": "press.temp",
        "unit": "Cel",
        "description": "",
        "minimum": 0.0,
        "maximum": 200.0,
        "asset": "press",
        "expected_interval_s": None,
        "in_catalog": True,
        "stored": False,
    }
    assert signals["line.speed"]["minimum"] is None  # unbounded
    assert signals["old.signal"]["in_catalog"] is False
    assert signals["old.signal"]["stored"] is True


async def test_one_signal_and_404(api: Api, viewer: dict[str, str]) -> None:
    await seed(api)
    body = (await api.client.get("/api/v1/signals/press.temp", headers=viewer)).json()
    assert body["unit"] == "Cel"
    assert body["latest"]["value"] == 29.0
    response = await api.client.get("/api/v1/signals/no/such/thing", headers=viewer)
    assert response.status_code == 404
    assert response.json() == {
        "error": "not found",
        "detail": "unknown signal 'no/such/thing': not in the catalog and no history stored",
    }


async def test_latest_from_live_state(api: Api, viewer: dict[str, str]) -> None:
    await seed(api)
    await api.runtime.ingest(SampleBatch.of("line.speed", [T0], [math.nan], Quality.BAD))
    params = [("signal", "press.temp"), ("signal", "line.speed"), ("signal", "nope")]
    body = (await api.client.get("/api/v1/latest", params=params, headers=viewer)).json()
    assert body["missing"] == ["nope"]
    by_signal = {s["signal"]: s for s in body["samples"]}
    assert by_signal["press.temp"] == {
        "signal": "press.temp",
        "timestamp": iso(T0 + 290 * NS_PER_S),
        "ns": T0 + 290 * NS_PER_S,
        "value": 29.0,
        "quality": "good",
        "stale": False,
    }
    assert by_signal["line.speed"]["value"] is None  # NaN: JSON has none
    assert by_signal["line.speed"]["quality"] == "bad"
    everything = (await api.client.get("/api/v1/latest", headers=viewer)).json()
    assert {s["signal"] for s in everything["samples"]} == {
        "press.temp",
        "press.pressure",
        "line.speed",
    }


async def test_raw_history_pages_with_a_cursor(api: Api, viewer: dict[str, str]) -> None:
    await seed(api)
    seen: list[float] = []
    cursor = None
    pages = 0
    while True:
        params = {"signal": "press.temp", **window(), "limit": 12}
        if cursor is not None:
            params["cursor"] = cursor
        response = await api.client.get("/api/v1/history", params=params, headers=viewer)
        assert response.status_code == 200, response.text
        body = response.json()
        pages += 1
        seen += [s["value"] for s in body["samples"]]
        cursor = body["next_cursor"]
        if cursor is None:
            assert "X-Next-Cursor" not in response.headers
            break
        assert response.headers["X-Next-Cursor"] == str(cursor)
        assert cursor == body["samples"][-1]["ns"]
    assert pages == 3
    assert seen == [float(i) for i in range(30)]


async def test_raw_history_window_and_time_formats(api: Api, viewer: dict[str, str]) -> None:
    await seed(api)
    params = {"signal": "press.temp", "start": iso(T0 + MINUTE), "end": str(T0 + 2 * MINUTE)}
    body = (await api.client.get("/api/v1/history", params=params, headers=viewer)).json()
    assert [s["value"] for s in body["samples"]] == [6.0, 7.0, 8.0, 9.0, 10.0, 11.0]
    assert body["start_ns"] == T0 + MINUTE

    # Defaults: end = now, start = an hour before; durations count back from now.
    body = (await api.client.get("/api/v1/history?signal=press.temp", headers=viewer)).json()
    assert body["end_ns"] - body["start_ns"] == 3_600 * NS_PER_S
    body = (
        await api.client.get("/api/v1/history?signal=press.temp&start=2h&end=now", headers=viewer)
    ).json()
    assert body["end_ns"] - body["start_ns"] == pytest.approx(7_200 * NS_PER_S, rel=1e-6)


@pytest.mark.parametrize(
    ("query", "field", "rule"),
    [
        ("signal=press.temp&start=yesterday", "start", "time"),
        ("signal=press.temp&start=now&end=1h", "start", "start-before-end"),
        ("signal=press.temp&signal=press.pressure", "signal", "one-signal-raw"),
        ("signal=press.temp&format=xml", "format", "one-of"),
        ("signal=press.temp&bucket=1m&agg=median", "agg", "one-of"),
        ("signal=press.temp&bucket=fortnight", "bucket", "duration"),
        ("signal=press.temp&bucket=1ns&start=7d", "bucket", "max-buckets"),
        ("signal=press.temp&limit=0", "limit", "greater_than_equal"),
        ("start=1h", "signal", "missing"),
    ],
)
async def test_bad_history_queries_name_field_and_rule(
    api: Api, viewer: dict[str, str], query: str, field: str, rule: str
) -> None:
    response = await api.client.get(f"/api/v1/history?{query}", headers=viewer)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation failed"
    assert (body["field"], body["rule"]) == (field, rule)
    assert body["detail"]


async def test_rollup_of_several_signals(api: Api, viewer: dict[str, str]) -> None:
    await seed(api)
    params = [
        ("signal", "press.temp"),
        ("signal", "press.pressure"),
        ("start", str(T0)),
        ("end", str(T0 + 2 * MINUTE)),
        ("bucket", "1m"),
    ]
    body = (await api.client.get("/api/v1/history", params=params, headers=viewer)).json()
    assert body["bucket_ns"] == MINUTE
    assert body["aggregates"] == ["min", "max", "mean", "last", "count"]
    rows = {(r["signal"], r["ns"]): r for r in body["rows"]}
    assert rows["press.temp", T0] == {
        "signal": "press.temp",
        "bucket": iso(T0),
        "ns": T0,
        "min": 0.0,
        "max": 5.0,
        "mean": 2.5,
        "last": 5.0,
        "count": 6,
    }
    assert rows["press.temp", T0 + MINUTE]["mean"] == 8.5
    assert rows["press.pressure", T0 + MINUTE]["last"] == 4.0
    assert len(rows) == 4


async def test_rollup_picks_aggregates(api: Api, viewer: dict[str, str]) -> None:
    await seed(api)
    params = {"signal": "press.temp", **window(), "bucket": "5m", "agg": "max,count"}
    body = (await api.client.get("/api/v1/history", params=params, headers=viewer)).json()
    assert body["rows"] == [
        {"signal": "press.temp", "bucket": iso(T0), "ns": T0, "max": 29.0, "count": 30}
    ]


async def test_history_as_csv(api: Api, viewer: dict[str, str]) -> None:
    await seed(api)
    params = {"signal": "press.temp", **window(1), "format": "csv"}
    response = await api.client.get("/api/v1/history", params=params, headers=viewer)
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["value"] for r in rows] == ["0.0", "1.0", "2.0", "3.0", "4.0", "5.0"]
    assert rows[0] == {
        "signal": "press.temp",
        "timestamp": iso(T0),
        "ns": str(T0),
        "value": "0.0",
        "quality": "good",
    }
    # The Accept header works as well as format=, for rollups too.
    params = {"signal": "press.temp", **window(), "bucket": "1m", "agg": "mean"}
    response = await api.client.get(
        "/api/v1/history", params=params, headers={**viewer, "Accept": "text/csv"}
    )
    lines = response.text.splitlines()
    assert lines[0] == "signal,bucket,ns,mean"
    assert lines[1] == f"press.temp,{iso(T0)},{T0},2.5"


async def test_history_as_arrow(api: Api, viewer: dict[str, str]) -> None:
    await seed(api)
    params = {"signal": "press.temp", **window(1), "limit": 4}
    response = await api.client.get(
        "/api/v1/history",
        params=params,
        headers={**viewer, "Accept": "application/vnd.apache.arrow.stream"},
    )
    assert response.headers["content-type"] == "application/vnd.apache.arrow.stream"
    assert response.headers["X-Next-Cursor"] == str(T0 + 30 * NS_PER_S)
    table = pa.ipc.open_stream(response.content).read_all()
    assert table.column_names == ["signal", "timestamp", "value", "quality"]
    assert table.schema.field("timestamp").type == pa.timestamp("ns", tz="UTC")
    assert table.column("value").to_pylist() == [0.0, 1.0, 2.0, 3.0]
    assert table.column("signal").to_pylist() == ["press.temp"] * 4
    assert table.column("timestamp").cast(pa.int64()).to_pylist()[0] == T0

    params = {"signal": "press.temp", **window(), "bucket": "1m", "format": "arrow"}
    response = await api.client.get("/api/v1/history", params=params, headers=viewer)
    rollup = pa.ipc.open_stream(response.content).read_all()
    assert rollup.column_names == ["signal", "bucket", "min", "max", "mean", "last", "count"]
    assert rollup.column("count").to_pylist() == [6, 6, 6, 6, 6]


async def test_bad_samples_read_raw_but_never_averaged(api: Api, viewer: dict[str, str]) -> None:
    quality = np.array([Quality.GOOD, Quality.BAD, Quality.GOOD], dtype=np.uint8)
    batch = SampleBatch.of("line.speed", [T0, T0 + 1, T0 + 2], [1.0, math.nan, 3.0], quality)
    await api.runtime.ingest(batch)
    params = {"signal": "line.speed", **window(1)}
    raw = (await api.client.get("/api/v1/history", params=params, headers=viewer)).json()
    assert [s["value"] for s in raw["samples"]] == [1.0, None, 3.0]
    assert [s["quality"] for s in raw["samples"]] == ["good", "bad", "good"]
    params["bucket"] = "1m"
    rollup = (await api.client.get("/api/v1/history", params=params, headers=viewer)).json()
    assert rollup["rows"][0]["mean"] == 2.0
    assert rollup["rows"][0]["count"] == 2


async def test_events_filtered_by_kind_and_source(api: Api, viewer: dict[str, str]) -> None:
    parent = Context()
    await api.runtime.emit(Event("alarm.raised", "press.temp", {"limit": 150}, parent.child(), T0))
    await api.runtime.emit(Event("alarm.cleared", "press.temp", {}, timestamp=T0 + 1))
    await api.runtime.emit(Event("plan.created", "line", {"x": [1, 2]}, timestamp=T0 + 2))
    await api.runtime.emit(Event("alarm.raised", "line.speed", {}, timestamp=T0 + 3), confirm=True)
    params = {**window(), "kind": "alarm", "source": "press.temp"}
    events = (await api.client.get("/api/v1/events", params=params, headers=viewer)).json()[
        "events"
    ]
    assert [e["kind"] for e in events] == ["alarm.cleared", "alarm.raised"]  # newest first
    raised = events[1]
    assert raised["parent_id"] == parent.id
    assert raised["timestamp"] == iso(T0)
    assert raised["ns"] == T0
    assert raised["data"] == {"limit": 150}
    everything = (await api.client.get("/api/v1/events", params=window(), headers=viewer)).json()
    assert len(everything["events"]) == 4
    plan = next(e for e in everything["events"] if e["kind"] == "plan.created")
    assert plan["data"] == {"x": [1, 2]}
    limited = {**window(), "limit": 1}
    events = (await api.client.get("/api/v1/events", params=limited, headers=viewer)).json()
    assert [e["ns"] for e in events["events"]] == [T0 + 3]

"""SPC, OEE, changes and before/after comparison through the real app, with real tokens."""

from __future__ import annotations

import numpy as np
import pytest

from tests.api.conftest import T0, Api
from werk.api.tokens import Role
from werk.core import NS_PER_S, SampleBatch, iso

MINUTE = 60 * NS_PER_S
HOUR = 60 * MINUTE
DAY = 24 * HOUR


@pytest.fixture
def viewer(api: Api) -> dict[str, str]:
    return api.auth(Role.viewer)


# -- SPC ------------------------------------------------------------------------------------------


async def _seed_spc(api: Api) -> np.ndarray:
    """press.temp every 10 s: 100 in control around 100, then 40 with the mean 3 sigma up."""
    rng = np.random.default_rng(21)
    values = np.concatenate([rng.normal(100, 1, 100), rng.normal(103, 1, 40)])
    ts = T0 + np.arange(len(values)) * 10 * NS_PER_S
    await api.runtime.ingest(SampleBatch.of("press.temp", ts, values))
    return values


def _spc_window(**extra: object) -> dict[str, object]:
    return {"start": str(T0), "end": iso(T0 + HOUR), **extra}


async def test_spc_chart_limits_violations_and_capability(api: Api, viewer: dict[str, str]) -> None:
    values = await _seed_spc(api)
    params = _spc_window(baseline_end=str(T0 + 100 * 10 * NS_PER_S), lsl=96, usl=106)
    assert (await api.client.get("/api/v1/spc/press.temp", params=params)).status_code == 401
    answer = await api.client.get("/api/v1/spc/press.temp", params=params, headers=viewer)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["values"] == 140
    limits = body["limits"]
    assert limits["chart"] == "individuals" and limits["baseline"] == 100
    assert limits["center"] == pytest.approx(values[:100].mean())
    assert limits["range_center"] == pytest.approx(np.abs(np.diff(values[:100])).mean())
    assert len(body["points"]) == 140 and body["points"][0]["range"] is None
    late = [v for v in body["violations"] if v["index"] >= 100]
    assert len(late) > 10 and {"nelson-1", "nelson-2"} <= {v["rule"] for v in late}
    assert body["counts"]["nelson-1"] >= 1 and len(body["rules"]) == 8
    cap = body["capability"]
    assert cap["lsl"] == 96 and cap["count"] == 100
    assert cap["cp"] == pytest.approx(10 / (6 * limits["sigma"]))


async def test_spc_subgroups_and_western_electric_rules(api: Api, viewer: dict[str, str]) -> None:
    await _seed_spc(api)
    params = _spc_window(subgroup=5, rules="we", points="false")
    body = (await api.client.get("/api/v1/spc/press.temp", params=params, headers=viewer)).json()
    assert body["limits"]["chart"] == "xbar-r" and body["limits"]["baseline"] == 28
    assert [r["western_electric"] for r in body["rules"]] == [1, 4, 2, 3]
    assert set(body["counts"]) == {"nelson-1", "nelson-2", "nelson-5", "nelson-6"}
    assert "points" not in body and body["capability"] is None


async def test_spc_errors(api: Api, viewer: dict[str, str]) -> None:
    await _seed_spc(api)
    get = api.client.get
    unknown = await get("/api/v1/spc/press.nothing", params=_spc_window(), headers=viewer)
    assert unknown.status_code == 404 and "press.nothing" in unknown.json()["detail"]
    later = {"start": iso(T0 + 2 * HOUR), "end": iso(T0 + 3 * HOUR)}
    empty = await get("/api/v1/spc/press.temp", params=later, headers=viewer)
    assert empty.status_code == 422 and empty.json()["rule"] == "empty-window"
    # press.pressure is in the catalog but has no samples: known, so an empty window, not a 404
    none_yet = await get("/api/v1/spc/press.pressure", params=_spc_window(), headers=viewer)
    assert none_yet.status_code == 422
    no_limits = await get(
        "/api/v1/spc/press.temp", params=_spc_window(capability="true"), headers=viewer
    )
    assert no_limits.status_code == 422 and no_limits.json()["rule"] == "spec-limits"
    crossed = await get("/api/v1/spc/press.temp", params=_spc_window(lsl=5, usl=1), headers=viewer)
    assert crossed.status_code == 422 and crossed.json()["rule"] == "lsl-below-usl"
    short = await get(
        "/api/v1/spc/press.temp", params=_spc_window(baseline_end=str(T0)), headers=viewer
    )
    assert short.status_code == 422 and short.json()["rule"] == "too-short"
    bad_rule = await get("/api/v1/spc/press.temp", params=_spc_window(rules="9"), headers=viewer)
    assert bad_rule.status_code == 422 and bad_rule.json()["field"] == "rules"


# -- OEE ------------------------------------------------------------------------------------------


def _yesterday(clock: str) -> int:
    """Yesterday (UTC) at HH:MM, in ns: OEE only counts time that has passed."""
    import time

    midnight = time.time_ns() // DAY * DAY - DAY
    hours, minutes = clock.split(":")
    return midnight + int(hours) * HOUR + int(minutes) * MINUTE


async def _seed_machine(api: Api) -> None:
    """m1 from 13:00 to 15:00 yesterday, across the 14:00 shift change; ideal cycle 1 min.

    states: running (since 12:30), down 13:30-13:40, running, setup 14:20-14:30, running;
    parts: 0 at 12:59, 30 at 13:30, 40 at 13:59, reset to 5 at 14:10, 25 at 14:59;
    scrap: 0 at 12:59, 2 at 14:40.
    """
    rows = {
        "m1.state": [("12:30", 0), ("13:30", 4), ("13:40", 0), ("14:20", 5), ("14:30", 0)],
        "m1.parts": [("12:59", 0), ("13:30", 30), ("13:59", 40), ("14:10", 5), ("14:59", 25)],
        "m1.scrap": [("12:59", 0), ("14:40", 2)],
    }
    for signal, samples in rows.items():
        ts = [_yesterday(t) for t, _ in samples]
        await api.runtime.ingest(SampleBatch.of(signal, ts, [float(v) for _, v in samples]))


async def test_oee_per_shift_with_losses_mtbf_and_mttr(api: Api, viewer: dict[str, str]) -> None:
    await _seed_machine(api)
    params = {
        "asset": "m1",
        "start": str(_yesterday("13:00")),
        "end": str(_yesterday("15:00")),
        "ideal_cycle_s": 60,
    }
    assert (await api.client.get("/api/v1/oee", params=params)).status_code == 401
    answer = await api.client.get("/api/v1/oee", params=params, headers=viewer)
    assert answer.status_code == 200, answer.text
    [m1] = answer.json()["assets"]
    assert m1["scrap_counter"] is True
    early, late = m1["periods"]
    # early (13:00-14:00 of the 06:00-14:00 shift): run 50 min, down 10; good 30 + 10 = 40
    assert early["shift"] == "early" and early["planned_s"] == 3600
    assert early["availability"] == pytest.approx(50 / 60)
    assert early["performance"] == pytest.approx(40 / 50)
    assert early["quality"] == 1 and early["oee"] == pytest.approx(40 / 60)
    assert early["failures"] == 1
    assert early["mtbf_s"] == 50 * 60 and early["mttr_s"] == 10 * 60
    # late (14:00-15:00): run 50, setup 10; good 5 (after the reset) + 20, scrap 2
    assert late["shift"] == "late"
    assert (late["good"], late["scrap"]) == (25, 2)
    assert late["losses"]["setup_s"] == 600 and late["losses"]["process_defects_s"] == 120
    assert late["oee"] == pytest.approx(25 / 60) and late["mtbf_s"] is None
    assert m1["total"]["oee"] == pytest.approx(65 / 120)


async def test_oee_by_day_with_a_custom_calendar(api: Api, viewer: dict[str, str]) -> None:
    await _seed_machine(api)
    params = {
        "asset": "m1",
        "start": str(_yesterday("13:00")),
        "end": str(_yesterday("15:00")),
        "ideal_cycle_s": 60,
        "by": "day",
        "shifts": "day=08:00-16:00",
        "breaks": "14:00-14:30",
    }
    body = (await api.client.get("/api/v1/oee", params=params, headers=viewer)).json()
    [day] = body["assets"][0]["periods"]
    assert body["calendar"]["shifts"] == [{"name": "day", "start": "08:00", "end": "16:00"}]
    assert day["planned_s"] == 90 * 60  # two hours less the break
    assert day["losses"]["setup_s"] == 0  # the setup fell in the break


async def test_oee_plans_against_the_assets_calendar_in_the_plant_file(
    api: Api, viewer: dict[str, str]
) -> None:
    """Without shifts in the request, an asset works to the calendar it inherits in the plant
    file (here its line's: one shift, 14:30-23:00 UTC, every day); shifts in the request win."""
    from werk.twin.plant import parse_plant

    api.runtime.plant = parse_plant(
        """
[plant]
id = "p"
name = "P"
[assets.site]
level = "site"
[assets.hall]
level = "area"
parent = "site"
[assets.line]
level = "line"
parent = "hall"
[assets.line.calendar]
shifts = [["14:30", "23:00"]]
[assets.m1]
level = "machine"
parent = "line"
"""
    )
    await _seed_machine(api)
    params = {
        "asset": "m1",
        "start": str(_yesterday("13:00")),
        "end": str(_yesterday("15:00")),
        "ideal_cycle_s": 60,
    }
    body = (await api.client.get("/api/v1/oee", params=params, headers=viewer)).json()
    [m1] = body["assets"]
    assert m1["calendar"]["source"] == "plant" and body["calendar"] == m1["calendar"]
    assert m1["calendar"]["shifts"] == [{"name": "shift1", "start": "14:30", "end": "23:00"}]
    [period] = m1["periods"]
    assert period["planned_s"] == 30 * 60  # 14:30-15:00: the only planned time in the window
    own = (
        await api.client.get(
            "/api/v1/oee", params={**params, "shifts": "day=08:00-16:00"}, headers=viewer
        )
    ).json()
    assert own["calendar"]["source"] == "request"
    assert own["assets"][0]["periods"][0]["planned_s"] == 2 * 3600


async def test_oee_errors(api: Api, viewer: dict[str, str]) -> None:
    await _seed_machine(api)
    get = api.client.get
    window = {"start": str(_yesterday("13:00")), "end": str(_yesterday("15:00"))}
    unknown = await get("/api/v1/oee", params={"asset": "nope", **window}, headers=viewer)
    assert unknown.status_code == 404
    bad_shifts = await get(
        "/api/v1/oee",
        params={"asset": "m1", "shifts": "06:00-14:00,12:00-18:00", **window},
        headers=viewer,
    )
    assert bad_shifts.status_code == 422 and bad_shifts.json()["rule"] == "overlap"
    bad_zone = await get(
        "/api/v1/oee", params={"asset": "m1", "tz": "Nowhere", **window}, headers=viewer
    )
    assert bad_zone.status_code == 422 and bad_zone.json()["field"] == "tz"
    long_ago = {
        "start": str(_yesterday("13:00") - 30 * DAY),
        "end": str(_yesterday("13:00") - 20 * DAY),
    }
    empty = await get("/api/v1/oee", params={"asset": "m1", **long_ago}, headers=viewer)
    assert empty.status_code == 422 and empty.json()["rule"] == "empty-window"
    zero = await get(
        "/api/v1/oee", params={"asset": "m1", "ideal_cycle_s": 0, **window}, headers=viewer
    )
    assert zero.status_code == 422


# -- changes and before/after --------------------------------------------------------------------


async def test_changes_are_marked_by_engineers_and_read_by_viewers(
    api: Api, viewer: dict[str, str]
) -> None:
    body = {
        "title": "new detector thresholds",
        "description": "z 4 -> 5",
        "at": "1d",
        "asset": "m1",
    }
    denied = await api.client.post("/api/v1/changes", json=body, headers=api.auth(Role.operator))
    assert denied.status_code == 403 and denied.json()["required_role"] == "engineer"
    assert (await api.client.post("/api/v1/changes", json=body)).status_code == 401
    made = await api.client.post("/api/v1/changes", json=body, headers=api.auth(Role.engineer))
    assert made.status_code == 201, made.text
    change = made.json()
    assert change["title"] == "new detector thresholds" and change["user"] == "test-engineer"
    assert change["event"]["kind"] == "change.marked"
    assert change["event"]["data"]["at"] == change["at_ns"]
    listed = (await api.client.get("/api/v1/changes", headers=viewer)).json()["changes"]
    assert [c["id"] for c in listed] == [change["id"]]
    assert listed[0]["asset"] == "m1" and listed[0]["description"] == "z 4 -> 5"
    other = await api.client.get("/api/v1/changes", params={"asset": "m2"}, headers=viewer)
    assert other.json()["changes"] == []
    untitled = await api.client.post(
        "/api/v1/changes", json={"title": ""}, headers=api.auth(Role.engineer)
    )
    assert untitled.status_code == 422


async def _seed_days(api: Api, at: int, before: float, after: float) -> None:
    """m2 runs all day, every day for 14 days on each side of ``at``; the parts counter grows
    by ``share`` of its ideal output a day (ideal cycle 60 s: 1440 a day), with some noise."""
    rng = np.random.default_rng(22)
    await api.runtime.ingest(SampleBatch.of("m2.state", [at - 14 * DAY], [0.0]))
    made = np.concatenate([rng.normal(before, 0.03, 14), rng.normal(after, 0.03, 14)]) * 1440
    ts = at - 14 * DAY + np.arange(28) * DAY + 12 * HOUR
    await api.runtime.ingest(SampleBatch.of("m2.parts", ts, np.cumsum(np.round(made))))
    # the counter's starting point, just inside the first day
    await api.runtime.ingest(SampleBatch.of("m2.parts", [at - 14 * DAY], [0.0]))


async def test_compare_oee_before_and_after_a_change(api: Api, viewer: dict[str, str]) -> None:
    import time

    at = time.time_ns() // DAY * DAY - 15 * DAY
    await _seed_days(api, at, before=0.60, after=0.70)
    engineer = api.auth(Role.engineer)
    change = (
        await api.client.post(
            "/api/v1/changes", json={"title": "faster feeder", "at": str(at)}, headers=engineer
        )
    ).json()
    params = {"asset": "m2", "change": change["id"], "shifts": "00:00-00:00", "ideal_cycle_s": 60}
    answer = await api.client.get("/api/v1/kpis/compare", params=params, headers=viewer)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["change"]["title"] == "faster feeder"
    assert body["before"]["n"] == 14 and body["after"]["n"] == 14
    assert body["before"]["mean"] == pytest.approx(0.60, abs=0.03)
    assert body["difference"] == pytest.approx(0.10, abs=0.04)
    assert body["interval"][0] > 0 and body["verdict"] == "better"
    assert len(body["samples"]["before"]) == 14

    by_time = {"asset": "m2", "at": str(at), "shifts": "00:00-00:00", "kpi": "downtime"}
    flat = (await api.client.get("/api/v1/kpis/compare", params=by_time, headers=viewer)).json()
    assert flat["unit"] == "min" and flat["higher_is_better"] is False
    assert flat["difference"] == 0 and flat["verdict"] == "no significant change"

    boot = {**params, "method": "bootstrap"}
    booted = (await api.client.get("/api/v1/kpis/compare", params=boot, headers=viewer)).json()
    assert booted["method"] == "bootstrap" and booted["verdict"] == "better"


async def test_compare_errors(api: Api, viewer: dict[str, str]) -> None:
    import time

    at = time.time_ns() // DAY * DAY - 15 * DAY
    await _seed_days(api, at, before=0.6, after=0.6)
    get = api.client.get
    neither = await get("/api/v1/kpis/compare", params={"asset": "m2"}, headers=viewer)
    assert neither.status_code == 422
    missing = await get(
        "/api/v1/kpis/compare", params={"asset": "m2", "change": "abc"}, headers=viewer
    )
    assert missing.status_code == 404
    bad_kpi = await get(
        "/api/v1/kpis/compare", params={"asset": "m2", "at": str(at), "kpi": "mood"}, headers=viewer
    )
    assert bad_kpi.status_code == 422
    future = await get(
        "/api/v1/kpis/compare",
        params={"asset": "m2", "at": iso(time.time_ns() + DAY)},
        headers=viewer,
    )
    assert future.status_code == 422


# -- the CLI's rendering of these answers ---------------------------------------------------------


async def test_cli_renders_the_answers(api: Api, viewer: dict[str, str]) -> None:
    import time

    from rich.console import Console

    from werk.cli.analytics import render_compare, render_oee, render_spc

    await _seed_spc(api)
    await _seed_machine(api)
    at = time.time_ns() // DAY * DAY - 15 * DAY
    await _seed_days(api, at, before=0.6, after=0.7)
    out = Console(record=True, width=200)

    spc = await api.client.get(
        "/api/v1/spc/press.temp", params=_spc_window(lsl=96, usl=106), headers=viewer
    )
    render_spc(spc.json(), out)
    window = {"start": str(_yesterday("13:00")), "end": str(_yesterday("15:00"))}
    oee = await api.client.get(
        "/api/v1/oee", params={"asset": "m1", "ideal_cycle_s": 60, **window}, headers=viewer
    )
    render_oee(oee.json(), out)
    params = {"asset": "m2", "at": str(at), "shifts": "00:00-00:00", "ideal_cycle_s": 60}
    compared = await api.client.get("/api/v1/kpis/compare", params=params, headers=viewer)
    render_compare(compared.json(), out)

    text = out.export_text()
    assert "press.temp: I-MR from 140 values" in text and "Cpk" in text and "nelson-1" in text
    assert "m1: OEE by shift" in text and "66.7 %" in text and "total" in text
    assert "oee of m2" in text and "better" in text


def test_cli_says_when_werk_cannot_be_reached() -> None:
    from typer.testing import CliRunner

    from werk.cli import app

    result = CliRunner().invoke(
        app, ["analytics", "oee", "m1", "--api", "http://127.0.0.1:9", "--token", "x"]
    )
    assert result.exit_code == 1
    assert "cannot reach werk at http://127.0.0.1:9" in result.output
    both = CliRunner().invoke(app, ["analytics", "compare", "m1", "--api", "http://127.0.0.1:9"])
    assert both.exit_code == 1 and "--change" in both.output


async def test_compare_alarms_per_day(api: Api, viewer: dict[str, str]) -> None:
    import time

    from werk.core import Event

    at = time.time_ns() // DAY * DAY - 15 * DAY
    events = []
    for day in range(-14, 14):
        shown = 6 if day < 0 else 2  # new thresholds: fewer alarms a day
        for k in range(shown):
            ts = at + day * DAY + (k + 1) * HOUR
            events.append(Event("alarm.raised", "m2.temp", {"asset": "m2"}, timestamp=ts))
        shelved = {"asset": "m2", "annunciated": False}  # shelved: the operator never saw it
        events.append(Event("alarm.raised", "m2.temp", shelved, timestamp=at + day * DAY + 1))
        events.append(Event("alarm.raised", "m3.temp", {"asset": "m3"}, timestamp=at + day * DAY))
    for event in events:
        await api.runtime.emit(event, confirm=True)
    params = {"asset": "m2", "at": str(at), "kpi": "alarms"}
    body = (await api.client.get("/api/v1/kpis/compare", params=params, headers=viewer)).json()
    assert body["before"] == {"n": 14, "mean": 6.0} and body["after"] == {"n": 14, "mean": 2.0}
    assert body["verdict"] == "better" and body["unit"] == "{alarms}"

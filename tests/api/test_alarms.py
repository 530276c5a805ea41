"""Alarms through the API with real tokens: operators act, viewers read, strangers are refused;
and the ``werk alarms`` CLI against a real server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from werk.analytics.alarms import alarm_id
from werk.api.tokens import Role
from werk.cli import app as cli
from werk.core import Event
from werk.settings import AlarmSettings

from .conftest import Api, api_client, make_settings

TEMP = "press.temp"
HIGH = alarm_id(TEMP, "high")


@contextlib.asynccontextmanager
async def alarm_api(tmp_path: Path, **alarms: Any) -> AsyncIterator[Api]:
    """A werk whose composition root started the alarm manager with these alarm settings."""
    settings = make_settings(tmp_path)
    policy = AlarmSettings(**{"off_delay_s": 0.0, **alarms})
    async with api_client(settings.model_copy(update={"alarms": policy})) as parts:
        api = Api(*parts)
        if api.runtime.alarms is not None:
            await asyncio.wait_for(api.runtime.alarms.ready.wait(), 5)
        yield api


async def raise_condition(api: Api, source: str = TEMP, name: str = "high", **data: Any) -> Event:
    payload = {
        "condition": name,
        "priority": "high",
        "message": f"{source} too hot",
        "asset": "press",
        "value": 212.0,
        **data,
    }
    event = Event("limit.raised", source, payload)
    await api.runtime.emit(event)
    return event


async def listed(api: Api, count: int, **params: Any) -> list[dict[str, Any]]:
    for _ in range(500):
        answer = await api.client.get(
            "/api/v1/alarms", params=params, headers=api.auth(Role.viewer)
        )
        assert answer.status_code == 200, answer.text
        if len(answer.json()["alarms"]) == count:
            return list(answer.json()["alarms"])
        await asyncio.sleep(0.01)
    raise AssertionError(f"never {count} alarms")


async def test_operator_acknowledges_viewer_cannot_and_the_audit_trail_says_who_and_when(
    tmp_path: Path,
):
    async with alarm_api(tmp_path) as api:
        cause = await raise_condition(api)
        (alarm,) = await listed(api, 1)
        assert alarm["id"] == HIGH and alarm["state"] == "unack" and alarm["priority"] == "high"
        assert "seq" not in alarm and "on_due" not in alarm  # bookkeeping stays inside

        path = f"/api/v1/alarms/{HIGH}/acknowledge"
        no_token = await api.client.post(path, json={"verdict": "real"})
        assert no_token.status_code == 401 and no_token.headers["www-authenticate"] == "Bearer"
        viewer = await api.client.post(
            path, json={"verdict": "real"}, headers=api.auth(Role.viewer)
        )
        assert viewer.status_code == 403 and viewer.json()["required_role"] == "operator"
        for write in ("shelve", "unshelve"):
            refused = await api.client.post(
                f"/api/v1/alarms/{HIGH}/{write}",
                json={"duration_s": 60},
                headers=api.auth(Role.viewer),
            )
            assert refused.status_code == 403, write
        bad = await api.client.post(
            path, json={"verdict": "maybe"}, headers=api.auth(Role.operator)
        )
        assert bad.status_code == 422 and bad.json()["field"] == "verdict"

        before = api.runtime.clock.now_ns()
        acked = await api.client.post(
            path,
            json={"verdict": "real", "comment": "coolant pump tripped"},
            headers=api.auth(Role.operator),
        )
        assert acked.status_code == 200, acked.text
        body = acked.json()
        assert body["state"] == "acked" and body["acked_by"] == "test-operator"
        assert body["verdict"] == "real" and body["acked_at"] >= before

        again = await api.client.post(path, json={}, headers=api.auth(Role.engineer))
        assert again.status_code == 409 and "already acknowledged" in again.json()["detail"]

        trail = await api.client.get(
            "/api/v1/alarms/history", params={"alarm": HIGH}, headers=api.auth(Role.viewer)
        )
        events = trail.json()["events"]  # stored before the acknowledgement was answered
        assert [e["kind"] for e in events] == ["alarm.acknowledged", "alarm.raised"]
        assert events[0]["user"] == "test-operator" and events[0]["ns"] == body["acked_at"]
        assert events[0]["data"]["comment"] == "coolant pump tripped"
        assert events[1]["user"] is None and events[1]["parent_id"] == cause.id
        assert all(e["parent_id"] == cause.id for e in events)


async def test_get_shelve_unshelve_and_the_errors(tmp_path: Path):
    async with alarm_api(tmp_path, max_shelve_h=600 / 3600) as api:
        operator = api.auth(Role.operator)
        await raise_condition(api)
        await raise_condition(api, "oven.temp", priority="low", asset="oven")
        await listed(api, 2)
        assert [a["source"] for a in await listed(api, 1, priority="high")] == [TEMP]
        assert [a["source"] for a in await listed(api, 1, asset="oven")] == ["oven.temp"]

        one = await api.client.get(f"/api/v1/alarms/{HIGH}", headers=api.auth(Role.viewer))
        assert one.status_code == 200 and one.json()["value"] == 212.0
        missing = await api.client.get("/api/v1/alarms/nope@x", headers=api.auth(Role.viewer))
        assert missing.status_code == 404 and "nope@x" in missing.json()["detail"]
        ack_missing = await api.client.post("/api/v1/alarms/nope@x/acknowledge", headers=operator)
        assert ack_missing.status_code == 404

        shelved = await api.client.post(
            f"/api/v1/alarms/{HIGH}/shelve",
            json={"duration_s": 86_400, "reason": "sensor swap"},
            headers=operator,
        )
        body = shelved.json()
        assert shelved.status_code == 200 and body["state"] == "shelved" and body["capped"]
        assert body["shelved_until"] - body["shelved_at"] == 600 * 10**9
        assert body["shelve_reason"] == "sensor swap" and body["shelved_by"] == "test-operator"
        assert [a["id"] for a in await listed(api, 1, state="shelved")] == [HIGH]
        refused = await api.client.post(f"/api/v1/alarms/{HIGH}/acknowledge", headers=operator)
        assert refused.status_code == 409 and "shelved" in refused.json()["detail"]
        bad = await api.client.post(
            f"/api/v1/alarms/{HIGH}/shelve", json={"duration_s": 0}, headers=operator
        )
        assert bad.status_code == 422

        back = await api.client.post(f"/api/v1/alarms/{HIGH}/unshelve", headers=operator)
        assert back.status_code == 200 and back.json()["state"] == "unack"
        twice = await api.client.post(f"/api/v1/alarms/{HIGH}/unshelve", headers=operator)
        assert twice.status_code == 409


async def test_kpis_report_precision_and_rates(tmp_path: Path):
    async with alarm_api(tmp_path) as api:
        operator = api.auth(Role.operator)
        for i, verdict in enumerate(("real", "real", "false")):
            await raise_condition(api, f"s{i}")
            await listed(api, i + 1)
            answer = await api.client.post(
                f"/api/v1/alarms/{alarm_id(f's{i}', 'high')}/acknowledge",
                json={"verdict": verdict},
                headers=operator,
            )
            assert answer.status_code == 200
        figures = (
            await api.client.get("/api/v1/alarms/kpis", params={"start": "1h"}, headers=operator)
        ).json()
    assert figures["rates"]["alarms"] == 3 and figures["rates"]["per_operator_hour"] == 3.0
    assert figures["rates"]["benchmark"] == "very likely acceptable"
    assert figures["precision"]["precision"] == pytest.approx(0.6667)
    assert figures["precision"]["by_source"]["s2"]["false"] == 1
    assert figures["time_to_acknowledge"]["count"] == 3 and figures["stale"] == []


async def test_reads_need_a_token_and_a_werk_without_alarms_says_so(tmp_path: Path):
    async with alarm_api(tmp_path, enabled=False) as api:
        assert (await api.client.get("/api/v1/alarms")).status_code == 401
        down = await api.client.get("/api/v1/alarms", headers=api.auth(Role.viewer))
        assert down.status_code == 503 and "alarm service" in down.json()["detail"]
        kpis = await api.client.get("/api/v1/alarms/kpis", headers=api.auth(Role.viewer))
        assert kpis.status_code == 200 and kpis.json()["rates"]["alarms"] == 0


# -- the CLI, against a real server ---------------------------------------------------------------


async def test_cli_lists_acknowledges_shelves_and_reports(tmp_path: Path):
    runner = CliRunner()
    async with alarm_api(tmp_path) as api:
        config = uvicorn.Config(
            api.app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        try:
            while not server.started:
                await asyncio.sleep(0.01)
            port = server.servers[0].sockets[0].getsockname()[1]
            base = ["--api", f"http://127.0.0.1:{port}"]
            await raise_condition(api)
            await listed(api, 1)

            def werk(*args: str, role: Role = Role.operator) -> Any:
                env = {"WERK_TOKEN": api.tokens[role], "COLUMNS": "200"}
                return runner.invoke(cli, ["alarms", *args, *base], env=env)

            listing = await asyncio.to_thread(werk, "list", role=Role.viewer)
            assert listing.exit_code == 0, listing.output
            assert HIGH in listing.output and "unack" in listing.output
            refused = await asyncio.to_thread(werk, "ack", HIGH, role=Role.viewer)
            assert refused.exit_code == 1 and "403" in refused.output
            acked = await asyncio.to_thread(werk, "ack", HIGH, "--verdict", "real")
            assert acked.exit_code == 0 and "acknowledged by test-operator" in acked.output
            shelved = await asyncio.to_thread(werk, "shelve", HIGH, "--for", "30m")
            assert shelved.exit_code == 0 and "shelved until" in shelved.output
            unshelved = await asyncio.to_thread(werk, "unshelve", HIGH)
            assert unshelved.exit_code == 0 and "acked" in unshelved.output
            trail = await asyncio.to_thread(werk, "history", HIGH, role=Role.viewer)
            assert trail.exit_code == 0 and "test-operator" in trail.output
            kpis = await asyncio.to_thread(werk, "kpis", "--since", "1h", role=Role.viewer)
            assert kpis.exit_code == 0 and "100%" in kpis.output
        finally:
            server.should_exit = True
            await serving

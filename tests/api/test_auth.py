from __future__ import annotations

import logging

import pytest

from tests.api.conftest import Api, ApiFactory
from werk.api.tokens import Role


async def test_write_without_token_is_401_naming_the_role(api: Api) -> None:
    response = await api.client.post("/api/v1/samples", json={"samples": []})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    body = response.json()
    assert body["error"] == "unauthorized"
    assert body["required_role"] == "operator"
    assert "operator" in body["detail"]


async def test_write_with_viewer_token_is_403(api: Api) -> None:
    response = await api.client.post(
        "/api/v1/samples", json={"samples": []}, headers=api.auth(Role.viewer)
    )
    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "forbidden"
    assert body["required_role"] == "operator"
    assert "viewer" in body["detail"]


async def test_unknown_or_revoked_token_is_401(api: Api) -> None:
    headers = {"Authorization": "Bearer werk_000000000000_nope"}
    response = await api.client.get("/api/v1/signals", headers=headers)
    assert response.status_code == 401

    info = api.runtime.tokens.verify(api.tokens[Role.viewer])
    assert info is not None
    api.runtime.tokens.revoke(info.id)
    response = await api.client.get("/api/v1/signals", headers=api.auth(Role.viewer))
    assert response.status_code == 401
    assert response.json()["detail"] == "the token is unknown or revoked"


async def test_reads_need_a_viewer_token_when_anonymous_read_is_off(api: Api) -> None:
    assert (await api.client.get("/api/v1/signals")).status_code == 401
    assert (await api.client.get("/api/v1/latest")).status_code == 401
    response = await api.client.get("/api/v1/signals", headers=api.auth(Role.viewer))
    assert response.status_code == 200


async def test_anonymous_read_when_allowed_but_a_bad_token_still_fails(
    open_api: ApiFactory,
) -> None:
    async with open_api(anonymous_read=True) as api:
        assert (await api.client.get("/api/v1/signals")).status_code == 200
        assert (await api.client.get("/api/v1/whoami")).json() == {
            "authenticated": False,
            "role": None,
            "anonymous_read": True,
        }
        bad = {"Authorization": "Bearer werk_abc_def"}
        assert (await api.client.get("/api/v1/signals", headers=bad)).status_code == 401
        # Writes never become anonymous.
        assert (await api.client.post("/api/v1/samples", json={})).status_code == 401


async def test_anonymous_read_defaults_to_loopback_only(open_api: ApiFactory) -> None:
    async with open_api(anonymous_read=None, host="127.0.0.1") as api:
        assert (await api.client.get("/api/v1/latest")).status_code == 200
    async with open_api(anonymous_read=None, host="0.0.0.0") as api:
        assert (await api.client.get("/api/v1/latest")).status_code == 401


async def test_whoami_names_the_token(api: Api) -> None:
    response = await api.client.get("/api/v1/whoami", headers=api.auth(Role.engineer))
    body = response.json()
    assert body["authenticated"] is True
    assert body["role"] == "engineer"
    assert body["name"] == "test-engineer"
    assert api.tokens[Role.engineer] not in response.text


async def test_health_needs_no_token(api: Api) -> None:
    response = await api.client.get("/api/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["store"] == {"scheme": "memory", "reachable": True}
    assert body["counts"]["signals"] == 3
    names = {s["name"] for s in body["bus"]}
    assert {"recorder.samples", "api.live.samples", "api.live.events"} <= names


async def test_tokens_never_reach_the_log(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for role in Role:
        await api.client.get("/api/v1/whoami", headers=api.auth(role))
        await api.client.post("/api/v1/samples", content=b"[", headers=api.auth(role))
    await api.client.get("/api/v1/signals", headers={"Authorization": "Bearer werk_x_leaked"})
    for token in [*api.tokens.values(), "werk_x_leaked"]:
        assert token not in caplog.text

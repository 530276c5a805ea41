"""Body size, rate limits, and errors that never leak a stack trace."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import pytest

from tests.api.conftest import Api, ApiFactory
from werk.api.errors import werk_error_response
from werk.api.limits import TokenBucket
from werk.api.tokens import Role
from werk.core import (
    AuthError,
    BusClosed,
    ConfigError,
    MissingExtraError,
    PermissionDenied,
    StoreError,
    StoreUnavailable,
    ValidationError,
    WerkError,
)


async def test_body_over_the_limit_by_content_length_is_413(open_api: ApiFactory) -> None:
    async with open_api(max_request_bytes=2048) as api:
        response = await api.client.post(
            "/api/v1/samples",
            content=b"x" * 4096,
            headers={**api.auth(Role.operator), "Content-Type": "application/json"},
        )
        assert response.status_code == 413
        assert response.json() == {
            "error": "request too large",
            "detail": "the request body exceeds the limit of 2048 bytes (api.max_request_bytes)",
            "limit": 2048,
        }


async def test_streamed_body_over_the_limit_is_413(open_api: ApiFactory) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"y" * 1000

    async with open_api(max_request_bytes=2048) as api:
        response = await api.client.post(
            "/api/v1/samples",
            content=chunks(),  # chunked: no Content-Length to check up front
            headers={**api.auth(Role.operator), "Content-Type": "application/json"},
        )
        assert response.status_code == 413
        assert response.json()["error"] == "request too large"


async def test_rate_limit_per_client_with_retry_after(open_api: ApiFactory) -> None:
    async with open_api(rate_limit_per_minute=5, anonymous_read=True) as api:
        statuses = [(await api.client.get("/api/v1/latest")).status_code for _ in range(5)]
        assert statuses == [200] * 5
        response = await api.client.get("/api/v1/latest")
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "12"  # one request every 12 s at 5 a minute
        assert response.json()["error"] == "too many requests"
        # A token is a client of its own, with its own budget...
        viewer = api.auth(Role.viewer)
        assert (await api.client.get("/api/v1/latest", headers=viewer)).status_code == 200
        # ... but a made-up token counts against the address.
        fake = {"Authorization": "Bearer werk_123_456"}
        assert (await api.client.get("/api/v1/latest", headers=fake)).status_code == 429


def test_token_bucket_refills_over_time() -> None:
    now = [0.0]
    bucket = TokenBucket(60, clock=lambda: now[0])
    assert all(bucket.take("a") == 0 for _ in range(60))
    assert bucket.take("a") == pytest.approx(1.0)
    assert bucket.take("b") == 0  # keys are independent
    now[0] += 2.5
    assert bucket.take("a") == 0 and bucket.take("a") == 0
    assert bucket.take("a") > 0


def test_token_bucket_forgets_refilled_clients() -> None:
    now = [0.0]
    bucket = TokenBucket(60, clock=lambda: now[0])
    bucket.MAX_KEYS = 10
    for i in range(10):
        bucket.take(f"old{i}")
    now[0] += 120
    bucket.take("new")
    assert set(bucket._buckets) == {"new"}


async def test_unexpected_errors_are_500_with_an_id_and_no_trace(
    api: Api, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> list[str]:
        raise RuntimeError("secret internals /etc/werk/db-password")

    monkeypatch.setattr(api.runtime.store, "signal_names", broken)
    with caplog.at_level(logging.ERROR, logger="werk.api.errors"):
        response = await api.client.get("/api/v1/signals", headers=api.auth(Role.viewer))
    assert response.status_code == 500
    body = response.json()
    assert set(body) == {"error", "id"}
    assert body["error"] == "internal error"
    assert "secret" not in response.text and "Traceback" not in response.text
    # The server log has the traceback under the same id.
    record = next(r for r in caplog.records if body["id"] in r.getMessage())
    assert record.exc_info is not None
    assert "secret internals" in caplog.text


async def test_store_unavailable_is_503_with_retry_after(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*args: object, **kwargs: object) -> None:
        raise StoreUnavailable("connection refused by the database")

    monkeypatch.setattr(api.runtime.store, "rollup", down)
    response = await api.client.get(
        "/api/v1/history?signal=press.temp&bucket=1m", headers=api.auth(Role.viewer)
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json() == {
        "error": "store unavailable",
        "detail": "connection refused by the database",
    }


async def test_health_reports_an_unreachable_store(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*args: object) -> None:
        raise StoreUnavailable("gone")

    monkeypatch.setattr(api.runtime.store, "ping", down)
    response = await api.client.get("/api/v1/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["store"] == {"scheme": "memory", "reachable": False, "error": "StoreUnavailable"}


async def test_unknown_route_and_method_keep_the_error_shape(api: Api) -> None:
    response = await api.client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"error": "not found", "detail": "Not Found"}
    response = await api.client.delete("/api/v1/signals", headers=api.auth(Role.admin))
    assert response.status_code == 405
    assert response.json()["error"] == "method not allowed"


async def test_index_and_docs(api: Api) -> None:
    index = await api.client.get("/")  # the dashboard (its browser tests: tests/ui)
    assert index.status_code == 200 and '<script type="module" src="/ui/app.js">' in index.text
    script = await api.client.get("/ui/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    docs = await api.client.get("/docs")
    assert docs.status_code == 200
    schema = (await api.client.get("/openapi.json")).json()
    assert schema["info"]["title"] == "werk"
    assert {"/api/v1/samples", "/api/v1/history", "/api/v1/latest", "/api/v1/events"} <= set(
        schema["paths"]
    )


@pytest.mark.parametrize(
    ("error", "status", "name"),
    [
        (ValidationError("bad", field="f", rule="r"), 422, "validation failed"),
        (AuthError("who?"), 401, "unauthorized"),
        (PermissionDenied("no"), 403, "forbidden"),
        (StoreUnavailable("down"), 503, "store unavailable"),
        (StoreError("broken"), 503, "store error"),
        (BusClosed("closed"), 503, "bus unavailable"),
        (ConfigError("wrong"), 400, "bad request"),
        (MissingExtraError("psycopg", "postgres"), 400, "bad request"),
    ],
)
def test_werk_errors_map_to_status_codes(error: WerkError, status: int, name: str) -> None:
    response = werk_error_response(error)
    assert response.status_code == status
    body = json.loads(response.body)
    assert body["error"] == name
    assert body["detail"] == str(error)
    if status == 422:
        assert (body["field"], body["rule"]) == ("f", "r")
    if status == 503:
        assert response.headers["Retry-After"] == "5"


def test_an_unplanned_werk_error_is_an_internal_error() -> None:
    response = werk_error_response(WerkError("odd"))
    assert response.status_code == 500
    assert set(json.loads(response.body)) == {"error", "id"}

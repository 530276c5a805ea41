"""A runtime over ``memory://`` with the API on top, reached in-process through httpx."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from werk.api.app import create_api
from werk.api.tokens import Role
from werk.app import open_runtime
from werk.runtime import Runtime
from werk.settings import Settings

SIGNALS = [
    {"id": "press.temp", "unit": "Cel", "minimum": 0, "maximum": 200, "asset": "press"},
    {"id": "press.pressure", "unit": "bar", "minimum": 0, "maximum": 10, "asset": "press"},
    {"id": "line.speed", "unit": "m/min", "description": "conveyor speed"},
]

T0 = 1_800_000_000_000_000_000  # 2027-01-15T08:00:00Z: a fixed instant, so windows are exact


def make_settings(tmp_path: Path, **api: Any) -> Settings:
    api.setdefault("tokens_file", str(tmp_path / "secrets" / "tokens.json"))
    api.setdefault("anonymous_read", False)
    return Settings(
        store={"url": "memory://"},
        api=api,
        recorder={"max_delay_ms": 5},
        signals=SIGNALS,
        # The API's own tests use a fixed instant in 2027, which the data-quality screen would
        # rightly flag as clock skew; analytics through the API are tested in tests/analytics.
        analytics={"enabled": False},
    )


@contextlib.asynccontextmanager
async def api_client(
    settings: Settings, **api_options: Any
) -> AsyncIterator[tuple[Runtime, FastAPI, httpx.AsyncClient]]:
    async with open_runtime(settings) as runtime:
        app = create_api(runtime, **api_options)
        # httpx's transport does not run the lifespan; run it as a server would.
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://werk.test"
            ) as client:
                yield runtime, app, client


class Api:
    """The client plus the runtime behind it and one token per role."""

    def __init__(self, runtime: Runtime, app: FastAPI, client: httpx.AsyncClient) -> None:
        self.runtime = runtime
        self.app = app
        self.client = client
        self.tokens = {role: runtime.tokens.create(role, f"test-{role.name}")[1] for role in Role}

    def auth(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


ApiFactory = Callable[..., contextlib.AbstractAsyncContextManager[Api]]


@pytest.fixture
def open_api(tmp_path: Path) -> ApiFactory:
    """``async with open_api(anonymous_read=True) as api``: keywords are api settings."""

    @contextlib.asynccontextmanager
    async def factory(live_options: dict[str, Any] | None = None, **api: Any) -> AsyncIterator[Api]:
        async with api_client(make_settings(tmp_path, **api), **(live_options or {})) as parts:
            yield Api(*parts)

    return factory


@pytest.fixture
async def api(open_api: ApiFactory) -> AsyncIterator[Api]:
    async with open_api() as opened:
        yield opened

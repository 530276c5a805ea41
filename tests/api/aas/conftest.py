"""The werk API with a twin: the runtime of ``tests/api`` plus a repository of a small plant."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.api.aas.twin_data import environment
from tests.api.conftest import Api, ApiFactory
from werk.api.tokens import Role
from werk.core import SampleBatch
from werk.twin.repository import TwinRepository, b64url_encode

PREFIX = "/api/v3.0"
PRESS = "https://plant.example/werk/aas/press"
CONVEYOR = "https://plant.example/werk/aas/conveyor"
NAMEPLATE = "https://plant.example/werk/sm/press/Nameplate"
TECHNICAL = "https://plant.example/werk/sm/press/TechnicalData"
OPERATIONAL = "https://plant.example/werk/sm/press/OperationalData"


def url(*parts: str) -> str:
    """``url("shells", PRESS, "$reference")``: parts that look like ids are base64url-encoded."""
    encoded = [b64url_encode(p) if "://" in p else p for p in parts]
    return "/".join([PREFIX, *encoded])


class TwinApi:
    """The API client, its runtime and tokens (``Api``), and the twin behind ``/api/v3.0``."""

    def __init__(self, api: Api, twin: TwinRepository) -> None:
        self.api = api
        self.client = api.client
        self.runtime = api.runtime
        self.twin = twin

    def auth(self, role: Role) -> dict[str, str]:
        return self.api.auth(role)

    def live(self, signal: str, value: float, ts: int = 1) -> None:
        """Make ``signal``'s latest sample ``value`` (as the bus would)."""
        self.runtime.state.update(SampleBatch.of(signal, [ts], [value]))


TwinApiFactory = Callable[..., contextlib.AbstractAsyncContextManager[TwinApi]]


@pytest.fixture
def open_twin_api(open_api: ApiFactory, tmp_path: Path) -> TwinApiFactory:
    """``async with open_twin_api(anonymous_read=True) as api``: the API with a loaded twin."""

    @contextlib.asynccontextmanager
    async def factory(**settings: Any) -> AsyncIterator[TwinApi]:
        async with open_api(**settings) as opened:
            twin = TwinRepository(tmp_path / "twin")
            twin.load_environment(environment())
            opened.runtime.twin = twin
            yield TwinApi(opened, twin)

    return factory


@pytest.fixture
async def aas(open_twin_api: TwinApiFactory) -> AsyncIterator[TwinApi]:
    async with open_twin_api(anonymous_read=True) as opened:
        yield opened

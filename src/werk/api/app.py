"""The werk HTTP API: ``create_api(runtime)`` builds the FastAPI app over a running runtime.

Middleware, outermost first: CatchAll (no stack trace ever reaches a client), RateLimit (per
token, else per address), BodySizeLimit (before any route reads a body). Routes live in
``werk.api.routes``, one module per topic, under ``/api/v1``. The AAS Part 2 API of the twin
(``werk.api.aas``) answers under ``/api/v3.0``, inside the same limits.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from urllib.parse import parse_qs

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from werk import __version__
from werk.api import aas
from werk.api.auth import bearer_token
from werk.api.errors import CatchAll, install_error_handlers
from werk.api.limits import BodySizeLimit, RateLimit
from werk.api.live import LiveHub
from werk.api.routes import (
    alarms,
    analytics,
    connectors,
    events,
    helping,
    history,
    live,
    maintenance,
    plan,
    plant,
    quality,
    samples,
    signals,
    sim,
    system,
)
from werk.runtime import Runtime

PREFIX = "/api/v1"


def create_api(
    runtime: Runtime,
    *,
    live_buffer_size: int = 10_000,
    live_interval_s: float = 0.1,
    live_feed: bool = True,
) -> FastAPI:
    """The API over ``runtime``. The live feed's bus subscriptions open in the app's lifespan;
    ``live_feed=False`` leaves them out (an ingest process or a worker serves health and writes, and
    must not decode every batch once more for WebSocket clients it does not have)."""
    hub = LiveHub(runtime.bus)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not live_feed:
            yield
            return
        await hub.start()
        try:
            yield
        finally:
            await hub.stop()

    api = FastAPI(
        title="werk",
        version=__version__,
        summary="Industry 4.0 platform: signals, history, events and a live feed.",
        docs_url="/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    api.state.runtime = runtime
    api.state.live = hub
    api.state.live_options = {"buffer_size": live_buffer_size, "interval_s": live_interval_s}
    api.state.started = time.monotonic()

    install_error_handlers(api)
    settings = runtime.settings.api
    # add_middleware wraps what is there: the last one added runs first.
    api.add_middleware(aas.AasMount, aas=aas.create_aas_app(runtime))  # /api/v3.0: AAS Part 2
    api.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    api.add_middleware(
        RateLimit, per_minute=settings.rate_limit_per_minute, client_key=_client_key(runtime)
    )
    api.add_middleware(CatchAll)

    for module in (
        system,
        signals,
        history,
        events,
        samples,
        live,
        plan,
        connectors,
        maintenance,
        sim,
        alarms,
        analytics,
        quality,
        helping,
        plant,
    ):
        api.include_router(module.router, prefix=PREFIX)
    api.include_router(system.index_router)
    from werk.ui import STATIC

    if STATIC.is_dir():  # the dashboard's files (an installation may leave them out)
        api.mount("/ui", StaticFiles(directory=STATIC), name="ui")
    return api


def _client_key(runtime: Runtime) -> Callable[[Scope], str]:
    def key(scope: Scope) -> str:
        # A valid token identifies the client wherever it connects from; anything else counts
        # against the address, so made-up tokens cannot buy a fresh budget.
        token = None
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                token = bearer_token(value.decode("latin-1"))
                break
        if token is None and scope["type"] == "websocket":
            token = _query_token(scope)
        info = runtime.tokens.verify(token) if token else None
        if info is not None:
            return f"token:{info.id}"
        client = scope.get("client")
        return f"addr:{client[0] if client else 'unknown'}"

    return key


def _query_token(scope: Scope) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
    return values[0] if values else None

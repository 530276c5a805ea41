"""The API about itself: health (unauthenticated, for probes), who am I, and a tiny index page."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response

from werk.api.auth import Principal, read_access
from werk.api.params import get_runtime
from werk.runtime import Runtime

router = APIRouter(tags=["system"])
index_router = APIRouter(include_in_schema=False)

HEALTH_TIMEOUT_S = 2.0


@router.get("/health", summary="Is the store reachable; bus and live-feed figures (no auth)")
async def health(request: Request, runtime: Runtime = Depends(get_runtime)) -> JSONResponse:
    # The scheme only: a store URL may carry credentials.
    store: dict[str, Any] = {"scheme": urlsplit(runtime.settings.store.url).scheme}
    try:
        await asyncio.wait_for(runtime.query(runtime.store.ping), HEALTH_TIMEOUT_S)
        store["reachable"] = True
    except TimeoutError:
        store.update(reachable=False, error=f"no answer within {HEALTH_TIMEOUT_S:g} s")
    except Exception as error:  # health reports failure; it must not fail itself
        store.update(reachable=False, error=type(error).__name__)
    stats = getattr(runtime.bus, "stats", None)
    body = {
        "status": "ok" if store["reachable"] else "degraded",
        "uptime_s": round(time.monotonic() - request.app.state.started, 1),
        "store": store,
        "bus": stats() if callable(stats) else None,
        "live": request.app.state.live.stats(),
        "counts": {
            "signals": len(runtime.catalog),
            "live_signals": len(runtime.state.get()),
        },
    }
    # 503 lets a load balancer or orchestrator take an instance without its store out of rotation.
    return JSONResponse(body, status_code=200 if store["reachable"] else 503)


@router.get("/whoami", summary="The token this request carries (or anonymous)")
async def whoami(
    principal: Principal = Depends(read_access), runtime: Runtime = Depends(get_runtime)
) -> dict[str, Any]:
    anonymous_read = runtime.settings.api.allows_anonymous_read
    if principal is None:
        return {"authenticated": False, "role": None, "anonymous_read": anonymous_read}
    return {"authenticated": True, **principal.to_dict(), "anonymous_read": anonymous_read}


_INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>werk</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40em; margin: 3em auto">
<h1>werk</h1>
<p>The dashboard is on its way. Meanwhile, the API:</p>
<ul>
<li><a href="/docs">/docs</a> — interactive API documentation</li>
<li><a href="/api/v1/health">/api/v1/health</a></li>
<li><a href="/api/v1/signals">/api/v1/signals</a></li>
<li><a href="/api/v1/latest">/api/v1/latest</a></li>
<li><a href="/api/v1/events">/api/v1/events</a></li>
<li>/api/v1/history?signal=…&amp;start=1h</li>
<li>ws: /api/v1/live</li>
</ul>
</body></html>
"""


@index_router.get("/")
async def index() -> Response:
    """The dashboard (werk.ui); its files are under /ui."""
    from werk.ui import STATIC

    page = STATIC / "index.html"
    if not page.is_file():  # an installation without the dashboard's files
        return HTMLResponse(_NO_DASHBOARD, status_code=404)
    return FileResponse(page, headers={"Cache-Control": "no-cache"})


_NO_DASHBOARD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>werk</title></head>
<body><h1>werk</h1><p>The dashboard's files are missing from this installation; the API is
at <a href="/docs">/docs</a>.</p></body></html>
"""

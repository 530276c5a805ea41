"""What happened: alarms, state changes, rejected ingests, plans — newest first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from werk.api.auth import Principal, read_access
from werk.api.encode import event_row
from werk.api.params import HOUR_NS, TIME_HELP, get_runtime, time_window
from werk.core import Event
from werk.runtime import Runtime

router = APIRouter(tags=["events"])


@router.get("/events", summary="Events in a time window, newest first")
async def events(
    start: Annotated[str | None, Query(description=f"{TIME_HELP}; default: end - 24h")] = None,
    end: Annotated[str | None, Query(description=f"{TIME_HELP}; default: now")] = None,
    kind: Annotated[str | None, Query(description="kind prefix, e.g. alarm")] = None,
    source: Annotated[str | None, Query(description="what the event is about")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1_000,
    runtime: Runtime = Depends(get_runtime),
    _: Principal = Depends(read_access),
) -> dict[str, Any]:
    # Events are sparse next to samples: a day is the useful default window.
    start_ns, end_ns = time_window(start, end, runtime.clock.now_ns(), 24 * HOUR_NS)
    found: list[Event] = await runtime.query(
        runtime.store.events,
        start_ns,
        end_ns,
        kind=kind or None,
        source=source or None,
        limit=limit,
    )
    return {"events": [event_row(e) for e in found]}

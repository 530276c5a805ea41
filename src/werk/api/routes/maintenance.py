"""Predictive maintenance: each asset's newest health index and remaining life with its interval,
the open work-order suggestions, and how right the predictions were (early/late, drift).

Read from the events in the store (``werk.maintenance.report``), so the answer is the same
whichever process runs the maintenance service, and survives its restarts.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from werk.api.auth import Principal, read_access
from werk.api.params import HOUR_NS, TIME_HELP, get_runtime, time_window
from werk.core import Event
from werk.runtime import Runtime

router = APIRouter(tags=["maintenance"])

DEFAULT_SPAN_NS = 30 * 24 * HOUR_NS
MAX_EVENTS = 10_000
"""Per kind, newest first: an asset whose newest estimate is older than the newest 10,000 is
left out of ``assets`` (narrow the window to see further back)."""


@router.get(
    "/maintenance",
    summary="Health index, remaining life and interval per asset; work-order suggestions; "
    "prediction errors and drift",
)
async def maintenance(
    start: Annotated[str | None, Query(description=f"{TIME_HELP}; default: end - 30d")] = None,
    end: Annotated[str | None, Query(description=f"{TIME_HELP}; default: now")] = None,
    runtime: Runtime = Depends(get_runtime),
    _: Principal = Depends(read_access),
) -> dict[str, Any]:
    from werk.maintenance.report import KINDS, overview

    start_ns, end_ns = time_window(start, end, runtime.clock.now_ns(), DEFAULT_SPAN_NS)

    def read() -> list[Event]:
        found: list[Event] = []
        for kind in KINDS:  # one query a kind: frequent estimates cannot crowd out outcomes
            found += runtime.store.events(start_ns, end_ns, kind=kind, limit=MAX_EVENTS)
        return found

    events: list[Event] = await runtime.query(read)
    settings = runtime.settings.maintenance
    return {
        "enabled": settings.enabled,
        "model_dir": settings.model_dir if settings.enabled else None,
        "work_order_threshold_cycles": settings.work_order_threshold_cycles,
        **overview(events),
    }

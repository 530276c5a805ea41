"""Writing samples over HTTP: decode, validate, hand to the bus, answer once stored."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from werk.api.auth import Principal, operator_access
from werk.api.encode import ARROW
from werk.api.params import get_runtime
from werk.core import Context, Event
from werk.ingest import IngestResult, decode_arrow, decode_json
from werk.runtime import Runtime

router = APIRouter(tags=["samples"])

ERRORS_IN_EVENT = 20

_BODY = {
    "content": {
        "application/json": {
            "schema": {"type": "object"},
            "example": {
                "samples": [
                    {"signal": "press3.temp", "timestamp": "2026-11-24T10:00:00Z", "value": 71.5}
                ]
            },
        },
        ARROW: {"schema": {"type": "string", "format": "binary"}},
    },
}


@router.post(
    "/samples",
    summary="Write samples (JSON or Arrow IPC stream); answers once they are stored",
    openapi_extra={"requestBody": _BODY},
    responses={
        422: {"description": "nothing accepted; the report says why, row by row"},
        503: {"description": "the store did not commit; retry after Retry-After seconds"},
    },
)
async def post_samples(
    request: Request,
    principal: Principal = Depends(operator_access),
    runtime: Runtime = Depends(get_runtime),
) -> JSONResponse:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        decode, kind = decode_json, "json"
    elif media == ARROW:
        decode, kind = decode_arrow, "arrow"
    else:
        raise HTTPException(
            415, f"Content-Type {media or '(none)'!r}: send application/json or {ARROW}"
        )
    body = await request.body()
    # Decoding a large body is CPU work: keep it off the event loop.
    result: IngestResult = await asyncio.to_thread(
        decode, body, runtime.catalog, now_ns=runtime.clock.now_ns()
    )
    user = principal.name if principal is not None else None
    context = Context(user=user)
    if result.rejected:
        await runtime.emit(_rejected_event(result, kind, context))
    await runtime.ingest(result.batch, context)
    report: dict[str, Any] = {**result.to_dict(), "context": context.id}
    if result.accepted == 0 and result.rejected:
        detail = f"all {result.rejected} samples were rejected; see errors"
        return JSONResponse(
            {"error": "validation failed", "detail": detail, **report}, status_code=422
        )
    return JSONResponse(report)


def _rejected_event(result: IngestResult, kind: str, context: Context) -> Event:
    """Bad data made visible: who sent what, how much was refused and by which rule."""
    return Event(
        "ingest.rejected",
        source="api",
        data={
            "format": kind,
            "rows": result.rows,
            "accepted": result.accepted,
            "rejected": result.rejected,
            "rejected_by_rule": result.rejected_by_rule(),
            "errors": [e.to_dict() for e in result.errors[:ERRORS_IN_EVENT]],
        },
        context=context.child(),
    )

"""The connectors: their health and counters, and setpoint writes through them.

A write is a command on the bus (``command.write``, stored as the audit record with the token's
name and the time); the connector that owns the signal — in this process or, scaled out, in an
ingest process — executes it and answers ``command.written`` or ``command.failed``. The request
waits for that answer.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Body, Depends
from starlette.exceptions import HTTPException

from werk.api.auth import Principal, operator_access, read_access
from werk.api.params import get_runtime
from werk.core import EVENTS, Context, Event
from werk.runtime import Runtime

router = APIRouter(tags=["connectors"])

WRITE_TIMEOUT_S = 10.0


@router.get("/connectors", summary="Every connector: state, counters, rejected input, spool")
async def connector_list(
    runtime: Runtime = Depends(get_runtime), _: Principal = Depends(read_access)
) -> dict[str, Any]:
    running = runtime.connectors.stats() if runtime.connectors is not None else []
    return {"connectors": running}


@router.post(
    "/signals/{signal_id}/write",
    summary="Write a setpoint to the device behind a signal (operator); answers with the result",
    responses={
        404: {"description": "no such signal"},
        502: {"description": "the connector or device refused the write"},
        504: {"description": "no connector answered in time"},
    },
)
async def write_signal(
    signal_id: str,
    value: float | int | bool | str = Body(..., embed=True),
    principal: Principal = Depends(operator_access),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    if signal_id not in runtime.catalog:
        raise HTTPException(404, f"signal {signal_id!r} is not in the catalog")
    user = principal.name if principal is not None else None
    command = Event("command.write", signal_id, {"value": value}, Context(user=user))
    async with runtime.bus.subscribe(f"{EVENTS}.command.*", name="api.write") as answers:

        async def answer() -> Event:
            async for message in answers:
                event: Event = message.payload
                if event.context.parent_id == command.id:
                    return event
            raise HTTPException(503, "werk is shutting down")

        try:
            async with asyncio.timeout(WRITE_TIMEOUT_S):
                # The command is the audit record: stored before any connector acts on it.
                await runtime.emit(command, confirm=True)
                result = await answer()
        except TimeoutError:
            raise HTTPException(
                504, f"no connector answered within {WRITE_TIMEOUT_S:g} s for {signal_id!r}"
            ) from None
    if result.kind != "command.written":
        raise HTTPException(502, f"write to {signal_id!r} failed: {result.data.get('error')}")
    return {"signal": signal_id, "value": value, "command": command.id, "user": user}

"""The virtual plant: inject a fault (engineer). The route publishes a ``sim.fault.injected``
event (stored as the record of who did it); the virtual plants of the werk process follow it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends
from starlette.exceptions import HTTPException

from werk.api.auth import Principal, engineer_access
from werk.api.params import get_runtime
from werk.core import Context, Event
from werk.runtime import Runtime
from werk.sim.sensors import FAULTS
from werk.sim.virtual import FAULT_EVENT

router = APIRouter(tags=["sim"])


@router.post(
    "/sim/faults",
    status_code=202,
    summary="Inject a fault into a machine of the virtual plant (engineer)",
    responses={422: {"description": "unknown fault"}},
)
async def inject_fault(
    machine: str = Body(..., min_length=1, max_length=200),
    fault: str = Body(...),
    principal: Principal = Depends(engineer_access),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    if fault not in FAULTS:
        raise HTTPException(422, f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
    user = principal.name if principal is not None else None
    event = Event(FAULT_EVENT, machine, {"machine": machine, "fault": fault}, Context(user=user))
    await runtime.emit(event, confirm=True)
    return {"machine": machine, "fault": fault, "event": event.id, "user": user}

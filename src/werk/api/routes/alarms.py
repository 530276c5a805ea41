"""Alarms: what needs attention now, the operator's actions on it, the audit trail, the figures.

Reads need a viewer token (or anonymous reads); acknowledging and shelving need an operator.
Every action is an ``alarm.*`` event with the token's name as its user, stored before the
answer (``GET /alarms/history`` shows who did what, when). The live alarms come from the alarm
manager (``runtime.alarms``); history and KPIs from the store, so they hold across restarts.

Scaled out, the manager runs in worker 0; an API replica's ``runtime.alarms`` is an
:class:`~werk.analytics.alarms.AlarmReplica`: the same reads from a copy that follows the bus, and
actions forwarded to worker 0 (answered as worker 0 answers; 504 when it does not in time).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from werk.analytics.alarms import (
    Alarm,
    AlarmConflict,
    AlarmError,
    AlarmManager,
    AlarmReplica,
    AlarmState,
    NoAnswer,
    Priority,
    UnknownAlarm,
    alarm_kpis,
)
from werk.analytics.alarms.history import read_events
from werk.analytics.alarms.model import TRANSITION_KINDS
from werk.api.auth import Principal, operator_access, read_access
from werk.api.encode import event_row
from werk.api.errors import error_response
from werk.api.params import HOUR_NS, TIME_HELP, get_runtime, time_window
from werk.core import Event
from werk.runtime import Runtime

router = APIRouter(tags=["alarms"])

_INTERNAL = ("on_due", "off_due", "cause_id", "clear_id", "condition_event", "seq")
"""Bookkeeping of the lifecycle model, not for operators."""

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no alarm with this id"}}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "the action does not fit the alarm's state"},
    504: {"description": "an API replica: worker 0 did not answer the forwarded action in time"},
}


class AcknowledgeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Literal["real", "false"] | None = Field(
        None, description="was it a real problem? (alarm precision counts these)"
    )
    comment: str | None = Field(None, max_length=2_000)


class ShelveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    duration_s: float = Field(gt=0, description="how long; cut to the policy's maximum")
    reason: str | None = Field(None, max_length=2_000)


def alarm_view(alarm: Alarm) -> dict[str, Any]:
    view = alarm.snapshot()
    for key in _INTERNAL:
        view.pop(key, None)
    return {"id": view.pop("alarm_id"), **view}


def manager_of(runtime: Runtime = Depends(get_runtime)) -> AlarmManager:
    if runtime.alarms is None:
        if runtime.settings.alarms.enabled:  # an ingest process, or a worker but the first
            raise HTTPException(
                503,
                "alarms are kept by worker 0 of this scaled-out werk (werk worker --partition "
                "0/N) and followed by its API replicas (werk serve --role api), not by this "
                "process: list and act on them through an API replica's address",
            )
        raise HTTPException(503, "the alarm service is not running in this werk (alarms.enabled)")
    if isinstance(runtime.alarms, AlarmReplica) and not runtime.alarms.ready.is_set():
        # an API replica reads worker 0's alarms from the store first: an empty list would lie
        raise HTTPException(
            503, "this API replica is reading the alarms from the store; retry in a moment"
        )
    return runtime.alarms


def _refused(error: AlarmError) -> JSONResponse:
    if isinstance(error, UnknownAlarm):
        return error_response(404, "not found", str(error))
    if isinstance(error, AlarmConflict):
        return error_response(409, "conflict", str(error))
    if isinstance(error, NoAnswer):
        return error_response(504, "no answer", str(error))
    raise error


def _user(principal: Principal) -> str | None:
    return principal.name if principal is not None else None


@router.get("/alarms", summary="Alarms needing attention (active, unacknowledged, shelved)")
async def alarm_list(
    state: Annotated[
        list[AlarmState] | None,
        Query(description="only these states (repeatable); default: all but normal"),
    ] = None,
    priority: Annotated[
        Literal["low", "medium", "high", "urgent"] | None, Query(description="at least this")
    ] = None,
    source: Annotated[str | None, Query(description="signal or asset the alarm is about")] = None,
    asset: Annotated[str | None, Query(description="the asset of the alarm's signal")] = None,
    _: Principal = Depends(read_access),
    manager: AlarmManager = Depends(manager_of),
) -> dict[str, Any]:
    found = manager.alarms(
        states=state,
        priority=Priority[priority] if priority else None,
        source=source,
        asset=asset,
    )
    return {"alarms": [alarm_view(a) for a in found], "count": len(found)}


@router.get("/alarms/history", summary="The audit trail: alarm events, newest first")
async def alarm_history(
    start: Annotated[str | None, Query(description=f"{TIME_HELP}; default: end - 24h")] = None,
    end: Annotated[str | None, Query(description=f"{TIME_HELP}; default: now")] = None,
    alarm: Annotated[str | None, Query(description="one alarm's id")] = None,
    source: Annotated[str | None, Query(description="signal or asset")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1_000,
    runtime: Runtime = Depends(get_runtime),
    _: Principal = Depends(read_access),
) -> dict[str, Any]:
    start_ns, end_ns = time_window(start, end, runtime.clock.now_ns(), 24 * HOUR_NS)

    def read() -> list[Event]:
        # The transitions only: an API replica's alarm.request and worker 0's alarm.refused
        # (scaled out) are how an action travelled, not what happened to the alarm.
        if alarm is None:
            found = [
                event
                for kind in sorted(TRANSITION_KINDS)
                for event in runtime.store.events(
                    start_ns, end_ns, kind=kind, source=source, limit=limit
                )
            ]
            found.sort(key=lambda e: (e.timestamp, e.id), reverse=True)
            return found[:limit]
        # Sources never contain "@" (signal ids cannot): the alarm names its source.
        found = read_events(runtime.store, "alarm", start_ns, end_ns, source=alarm.split("@")[0])
        return [e for e in found if e.kind in TRANSITION_KINDS and e.data.get("alarm_id") == alarm][
            :limit
        ]

    events: list[Event] = await runtime.query(read)
    return {"events": [event_row(e) for e in events]}


@router.get("/alarms/kpis", summary="Is it helping? Precision, rates against ISA-18.2, floods")
async def kpis(
    start: Annotated[str | None, Query(description=f"{TIME_HELP}; default: end - 24h")] = None,
    end: Annotated[str | None, Query(description=f"{TIME_HELP}; default: now")] = None,
    runtime: Runtime = Depends(get_runtime),
    _: Principal = Depends(read_access),
) -> dict[str, Any]:
    start_ns, end_ns = time_window(start, end, runtime.clock.now_ns(), 24 * HOUR_NS)
    events = await runtime.query(read_events, runtime.store, "alarm", start_ns, end_ns)
    return kpis_of(runtime, events, start_ns, end_ns, now=end is None)


def kpis_of(
    runtime: Runtime, events: list[Event], start_ns: int, end_ns: int, *, now: bool
) -> dict[str, Any]:
    """The alarm KPIs of ``events``; for a window ending ``now`` the stale count comes from the
    alarm service, which knows alarms raised before the window too."""
    manager = runtime.alarms
    current = [a.snapshot() for a in manager.book] if manager is not None and now else None
    operators = manager.policy.operators if manager is not None else 1
    return alarm_kpis(events, start_ns, end_ns, operators=operators, current=current)


@router.get(
    "/alarms/{alarm_id:path}", summary="One alarm", responses=_NOT_FOUND, response_model=None
)
async def alarm_get(
    alarm_id: str,
    _: Principal = Depends(read_access),
    manager: AlarmManager = Depends(manager_of),
) -> dict[str, Any] | JSONResponse:
    try:
        return alarm_view(manager.get(alarm_id))
    except AlarmError as error:
        return _refused(error)


@router.post(
    "/alarms/{alarm_id:path}/acknowledge",
    summary="Acknowledge an alarm (operator), saying whether it was real",
    responses={**_NOT_FOUND, **_CONFLICT},
    response_model=None,
)
async def acknowledge(
    alarm_id: str,
    body: AcknowledgeRequest | None = None,
    principal: Principal = Depends(operator_access),
    manager: AlarmManager = Depends(manager_of),
) -> dict[str, Any] | JSONResponse:
    body = body or AcknowledgeRequest()
    try:
        alarm = await manager.acknowledge(alarm_id, _user(principal), body.verdict, body.comment)
    except AlarmError as error:
        return _refused(error)
    return alarm_view(alarm)


@router.post(
    "/alarms/{alarm_id:path}/shelve",
    summary="Shelve an alarm for a while (operator); the condition is still tracked",
    responses={**_NOT_FOUND, **_CONFLICT},
    response_model=None,
)
async def shelve(
    alarm_id: str,
    body: ShelveRequest,
    principal: Principal = Depends(operator_access),
    manager: AlarmManager = Depends(manager_of),
) -> dict[str, Any] | JSONResponse:
    try:
        shelved = await manager.shelve(alarm_id, _user(principal), body.duration_s, body.reason)
    except AlarmError as error:
        return _refused(error)
    return {
        **alarm_view(shelved.alarm),
        "capped": shelved.capped,
        "max_shelve_s": manager.policy.max_shelve_s,
    }


@router.post(
    "/alarms/{alarm_id:path}/unshelve",
    summary="Show a shelved alarm again, in its true state (operator)",
    responses={**_NOT_FOUND, **_CONFLICT},
    response_model=None,
)
async def unshelve(
    alarm_id: str,
    principal: Principal = Depends(operator_access),
    manager: AlarmManager = Depends(manager_of),
) -> dict[str, Any] | JSONResponse:
    try:
        alarm = await manager.unshelve(alarm_id, _user(principal))
    except AlarmError as error:
        return _refused(error)
    return alarm_view(alarm)

"""Planning: solve a scheduling problem, read the plan in force and its Gantt chart, report
breakdowns and rush orders (the planner repairs the plan and publishes ``plan.schedule``).

Writes (solve, events) need an operator token; reads (schedule, Gantt, check) a viewer's. The
planner listens on the bus from werk's start (breakdowns, maintenance suggestions); see
``werk.plan.service``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, JSONResponse

from werk.api.auth import Principal, operator_access, read_access
from werk.api.params import get_runtime
from werk.core import Context, Event, MissingExtraError
from werk.runtime import Runtime

router = APIRouter(prefix="/plan", tags=["plan"])

MAX_TIME_LIMIT_S = 120.0
PROGRESS_EVERY_S = 1.0

_PROBLEM_EXAMPLE: dict[str, Any] = {
    "name": "two orders",
    "machines": ["saw", "paint"],
    "orders": [
        {
            "id": "A",
            "due": 30,
            "operations": [
                {"id": "cut", "machines": {"saw": 10}},
                {"id": "paint", "machines": {"paint": 5}},
            ],
        },
        {"id": "B", "operations": [{"id": "cut", "machines": {"saw": 7}}]},
    ],
}


class SolveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    problem: dict[str, Any] = Field(
        description="a plan in werk's format (as in a .toml/.json plan file)",
        json_schema_extra={"example": _PROBLEM_EXAMPLE},
    )
    objective: Literal["makespan", "tardiness", "mix"] = "makespan"
    time_limit_s: Annotated[float, Field(gt=0, le=MAX_TIME_LIMIT_S)] = 10.0
    workers: Annotated[int, Field(ge=1, le=16)] = 2
    heuristic_only: bool = False


class CheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    problem: dict[str, Any]


class PlanEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["machine.down", "machine.up", "order.rush"]
    source: str = Field("", description="the machine (machine.*) or the order id (order.rush)")
    data: dict[str, Any] = Field(default_factory=dict)


async def planner(request: Request, runtime: Runtime = Depends(get_runtime)) -> Any:
    """The planner service: the runtime's (listening on the bus since werk started), else one
    created, and listening, on first use."""
    from werk.plan.service import open_planner

    service = runtime.planner or getattr(request.app.state, "planner", None)
    if service is None:
        service = open_planner(runtime)
    request.app.state.planner = service
    return service


_FILE_KEYS = ("plant", "orders_csv")


def _problem(raw: dict[str, Any], runtime: Runtime, service: Any) -> Any:
    """A problem from a request: on the running werk's plant, with the maintenance and
    downtime windows the planner knows. A request cannot name a file: the server's files are
    not the caller's to read."""
    from werk.core import ValidationError
    from werk.plan import problem_from_dict

    for key in _FILE_KEYS:
        if raw.get(key) is not None:
            raise ValidationError(
                f"problem.{key}: a request cannot name a file on the server; the API plans on "
                "the running werk's plant and takes orders inline",
                field=f"problem.{key}",
                rule="no-server-files",
            )
    problem = problem_from_dict(raw, plant=runtime.plant)
    return service.with_known_windows(problem)


def _infeasible(error: Any) -> JSONResponse:
    return JSONResponse(
        {
            "error": "infeasible",
            "detail": str(error),
            "field": error.field,
            "rule": error.rule,
            "issues": [i.to_dict() for i in error.issues],
        },
        status_code=422,
    )


def _missing(error: MissingExtraError) -> JSONResponse:
    return JSONResponse(
        {
            "error": "not available",
            "detail": f"{error}; or ask for heuristic_only",
            "extra": error.extra,
        },
        status_code=501,
    )


@router.post(
    "/solve",
    summary="Schedule a problem; it becomes the plan in force (event plan.schedule)",
    responses={
        422: {"description": "bad input, or no schedule exists (issues say why)"},
        501: {"description": "OR-Tools is not installed (use heuristic_only)"},
    },
)
async def solve(
    body: SolveRequest,
    principal: Principal = Depends(operator_access),
    runtime: Runtime = Depends(get_runtime),
    service: Any = Depends(planner),
) -> JSONResponse:
    from werk.plan import Infeasible, Objective, kpis, solver_for

    problem = _problem(body.problem, runtime, service)
    context = Context(user=principal.name if principal is not None else None)
    try:
        solver = solver_for(
            heuristic_only=body.heuristic_only,
            time_limit_s=body.time_limit_s,
            workers=body.workers,
        )
    except MissingExtraError as error:
        return _missing(error)
    loop = asyncio.get_running_loop()
    last_sent = [0.0]

    def progress(p: Any) -> None:  # from the solver's threads: hand over to the loop
        now = time.monotonic()
        if now - last_sent[0] < PROGRESS_EVERY_S:
            return
        last_sent[0] = now
        event = Event(
            "plan.progress",
            source=problem.name,
            data={"elapsed_s": round(p.elapsed_s, 3), "objective": p.objective, "bound": p.bound},
            context=context.child(),
        )
        asyncio.run_coroutine_threadsafe(runtime.emit(event), loop)

    try:
        schedule = await asyncio.to_thread(
            solver.solve, problem, Objective(body.objective), on_progress=progress
        )
    except Infeasible as error:
        return _infeasible(error)
    event = await service.publish(problem, schedule, context=context)
    return JSONResponse(
        {
            "event": event.id,
            "schedule": schedule.to_dict(problem),
            "kpis": kpis(problem, schedule),
        }
    )


@router.post("/check", summary="Explain why a problem cannot be scheduled, before solving it")
async def check(
    body: CheckRequest,
    _: Principal = Depends(read_access),
    runtime: Runtime = Depends(get_runtime),
    service: Any = Depends(planner),
) -> dict[str, Any]:
    from werk.plan import check as run_check

    problem = _problem(body.problem, runtime, service)
    issues = run_check(problem)
    return {
        "feasible": not any(i.severity == "error" for i in issues),
        "orders": len(problem.orders),
        "operations": problem.operation_count,
        "machines": len(problem.machines),
        "issues": [i.to_dict() for i in issues],
    }


def _current(service: Any) -> Any:
    if service.current is None:
        raise HTTPException(404, "no plan yet: POST /api/v1/plan/solve first")
    return service.current


@router.get("/schedule", summary="The plan in force: schedule, KPIs and the event that made it")
async def schedule(
    _: Principal = Depends(read_access), service: Any = Depends(planner)
) -> dict[str, Any]:
    from werk.plan import kpis

    plan = _current(service)
    return {
        "event": plan.event.id,
        "reason": plan.event.data.get("reason"),
        "changes": plan.event.data.get("changes", {}),
        "schedule": plan.schedule.to_dict(plan.problem),
        "kpis": kpis(plan.problem, plan.schedule),
    }


@router.get(
    "/schedule/gantt",
    summary="The plan in force as a Gantt chart (self-contained HTML)",
    response_class=HTMLResponse,
)
async def gantt(
    _: Principal = Depends(read_access), service: Any = Depends(planner)
) -> HTMLResponse:
    from werk.plan.gantt import html_page

    plan = _current(service)
    return HTMLResponse(html_page(plan.problem, plan.schedule))


@router.get(
    "/maintenance",
    summary="Maintenance and downtime windows the planner knows, per machine, with their events",
)
async def maintenance_windows(
    _: Principal = Depends(read_access), service: Any = Depends(planner)
) -> dict[str, Any]:
    return {"mode": service.maintenance, "machines": service.known_windows()}


@router.post(
    "/events",
    status_code=202,
    summary="Report a breakdown, a repair or a rush order; the planner repairs the plan",
)
async def plan_event(
    body: PlanEvent,
    principal: Principal = Depends(operator_access),
    runtime: Runtime = Depends(get_runtime),
    service: Any = Depends(planner),
) -> dict[str, Any]:
    context = Context(user=principal.name if principal is not None else None)
    event = Event(body.kind, source=body.source, data=body.data, context=context)
    await runtime.emit(event)
    return {"event": event.id, "kind": event.kind, "plan_in_force": service.current is not None}


# ------------------------------------------------------------------------------------------------
# executing a schedule in the what-if simulation (werk.sim.schedule)

MAX_SIMULATED_REPLICATIONS = 1_000
MAX_SIMULATED_OPERATIONS = 5_000
MAX_SIMULATED_WORK = 1_000_000  # replications x operations: a few seconds of one core


class FailuresBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mtbf: Annotated[float, Field(gt=0, description="mean operating time between failures")]
    mttr: Annotated[float, Field(gt=0, description="mean time to repair")]


class VariabilityBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    duration_cv: Annotated[float, Field(ge=0, le=10)] = 0.1
    setup_cv: Annotated[float | None, Field(ge=0, le=10)] = None
    failures: dict[str, FailuresBody] = Field(
        default_factory=dict, description="machine id -> failures, in plan units"
    )
    early_start: bool = False


class SimulateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    problem: dict[str, Any] | None = Field(
        None, description="a plan in werk's format; none: the plan in force"
    )
    schedule: dict[str, Any] | None = Field(
        None,
        description="a schedule of the problem (as `werk plan solve --json` writes it); none "
        "with a problem: the dispatching rules schedule it",
    )
    objective: Literal["makespan", "tardiness", "mix"] = "makespan"
    replications: Annotated[int, Field(ge=1, le=MAX_SIMULATED_REPLICATIONS)] = 30
    variability: VariabilityBody = Field(default_factory=VariabilityBody)
    seed: Annotated[int, Field(ge=0)] = 0


@router.post(
    "/simulate",
    summary="Execute a schedule (default: the plan in force) under variability: KPIs with 95 % "
    "confidence intervals and each order's probability of being late",
    responses={
        404: {"description": "no problem given and no plan in force"},
        422: {"description": "bad input, a schedule not of the problem, or too large"},
    },
)
async def simulate_schedule(
    body: SimulateRequest,
    _: Principal = Depends(read_access),
    runtime: Runtime = Depends(get_runtime),
    service: Any = Depends(planner),
) -> Any:
    import math

    from werk.core import ValidationError
    from werk.plan import Infeasible, Schedule, solve_heuristic
    from werk.sim.schedule import Failures, Variability, simulate

    event_id = None
    if body.problem is None:
        if body.schedule is not None:
            raise ValidationError(
                "a schedule needs its problem: send both, or neither for the plan in force",
                field="problem",
                rule="required",
            )
        if service.current is None:
            raise HTTPException(
                404, "no plan in force to simulate: send a problem, or POST /api/v1/plan/solve"
            )
        problem, schedule = service.current.problem, service.current.schedule
        event_id = service.current.event.id
    else:
        problem = _problem(body.problem, runtime, service)
        schedule = None if body.schedule is None else Schedule.from_dict(body.schedule)
    operations = problem.operation_count
    if operations > MAX_SIMULATED_OPERATIONS:
        raise ValidationError(
            f"{operations} operations: the API simulates at most {MAX_SIMULATED_OPERATIONS} "
            "(use `werk plan simulate`)",
            field="problem",
            rule="max-operations",
        )
    if operations * body.replications > MAX_SIMULATED_WORK:
        raise ValidationError(
            f"{body.replications} replications of {operations} operations: at most "
            f"{MAX_SIMULATED_WORK // max(operations, 1)} for this problem",
            field="replications",
            rule="max-work",
        )
    v = body.variability
    variability = Variability(
        duration_cv=v.duration_cv,
        setup_cv=v.setup_cv,
        failures={m: Failures(f.mtbf, f.mttr) for m, f in v.failures.items()},
        early_start=v.early_start,
    )

    def run() -> tuple[Any, Any]:
        executed = schedule or solve_heuristic(problem, body.objective)
        return executed, simulate(problem, executed, variability, body.replications, body.seed)

    try:
        executed, result = await asyncio.to_thread(run)
    except Infeasible as error:
        return _infeasible(error)
    return {
        "source": "plan in force" if event_id is not None else "request",
        "event": event_id,
        "schedule": {
            "objective_name": executed.objective_name,
            "objective": executed.objective if math.isfinite(executed.objective) else None,
            "status": executed.status,
            "solver": executed.solver,
        },
        **result.to_dict(),
    }

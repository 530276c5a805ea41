"""Simulation: inject a fault into the virtual plant (engineer), and what-if experiments.

A fault is a ``sim.fault.injected`` event (stored as the record of who did it); the virtual plants
of the werk process follow it. What-if: the scenario files of ``[sim] scenarios`` are listed, and
two of them compared with paired replications (common random numbers): each KPI of both, B − A
with its 95 % confidence interval and the paired t-test's p-value — ``werk sim compare`` as an
endpoint, for the dashboard's planning view.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Body, Depends
from starlette.exceptions import HTTPException

from werk.api.auth import Principal, engineer_access, read_access
from werk.api.params import get_runtime
from werk.core import Context, Event, ValidationError, WerkError
from werk.runtime import Runtime
from werk.sim.experiment import compare, json_number, replicate
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


def scenario_folder(runtime: Runtime) -> Path:
    folder = Path(runtime.settings.sim.scenarios)
    if not folder.is_dir() and runtime.settings.demo:
        from werk.sim.demo import DEMO_SCENARIOS

        return DEMO_SCENARIOS
    return folder


def _scenario_files(runtime: Runtime) -> dict[str, Path]:
    folder = scenario_folder(runtime)
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.toml"), key=lambda p: p.stem)}


@router.get("/sim/scenarios", summary="The what-if scenarios on offer (the [sim] scenarios folder)")
async def scenarios(
    runtime: Runtime = Depends(get_runtime), _: Principal = Depends(read_access)
) -> dict[str, Any]:
    from werk.sim.scenario import load_scenario

    found = []
    for name, path in _scenario_files(runtime).items():
        try:
            scenario = await asyncio.to_thread(load_scenario, path)
        except WerkError as error:
            found.append({"name": name, "valid": False, "problem": str(error)[:500]})
            continue
        found.append(
            {
                "name": name,
                "valid": True,
                "title": scenario.name,
                "description": scenario.description,
                "replications": scenario.replications,
            }
        )
    return {"folder": str(scenario_folder(runtime)), "scenarios": found}


@router.post(
    "/sim/compare",
    summary="What-if (engineer): two scenarios, paired replications, B − A with 95 % CIs",
    responses={404: {"description": "no such scenario"}, 422: {"description": "bad scenario"}},
)
async def compare_scenarios(
    a: str = Body(..., description="scenario name (file stem) of the reference"),
    b: str = Body(..., description="scenario name of the alternative"),
    replications: int | None = Body(None, ge=2, description="default: the scenarios' own"),
    _: Principal = Depends(engineer_access),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    from werk.sim.scenario import load_scenario

    files = _scenario_files(runtime)
    for name in (a, b):
        if name not in files:
            known = ", ".join(files) or "none"
            raise HTTPException(404, f"no scenario {name!r} (known: {known})")
    first = await asyncio.to_thread(load_scenario, files[a])
    second = await asyncio.to_thread(load_scenario, files[b])
    n = replications or max(first.replications, second.replications)
    limit = runtime.settings.sim.max_replications
    if n > limit:
        raise ValidationError(
            f"at most {limit} replications per request ([sim] max_replications)",
            field="replications",
            rule="max",
        )
    results_a = await asyncio.to_thread(replicate, first, n, jobs=1)
    results_b = await asyncio.to_thread(replicate, second, n, jobs=1)
    return {
        "a": a,
        "b": b,
        "titles": {"a": first.description or first.name, "b": second.description or second.name},
        "replications": n,
        "line": {  # each scenario's line KPIs with their own 95 % intervals, side by side
            kpi: {"a": _estimate(estimate), "b": _estimate(results_b.estimate(kpi))}
            for kpi, estimate in results_a.line().items()
        },
        "differences": [
            {
                "kpi": d.kpi,
                "a": json_number(d.a),
                "b": json_number(d.b),
                "difference": json_number(d.estimate.mean),
                "low": json_number(d.estimate.low),
                "high": json_number(d.estimate.high),
                "p_value": json_number(d.p_value),
                "significant": d.significant,
            }
            for d in compare(results_a, results_b)
        ],
    }


def _estimate(estimate: Any) -> dict[str, float | None]:
    return {
        "mean": json_number(estimate.mean),
        "low": json_number(estimate.low),
        "high": json_number(estimate.high),
    }

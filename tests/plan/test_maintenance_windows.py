"""Maintenance windows from the maintenance planner: a ``maintenance.work_order.suggested`` event
repairs the plan in force (or, with ``maintenance = "accepted"``, waits for its
``machine.down``), and a plan solved later through the API keeps the window free."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.api.conftest import Api, api_client, make_settings
from werk.api.tokens import Role
from werk.core import EVENTS, Event, MemoryBus, SimulatedClock, ValidationError
from werk.maintenance.serving import WORK_ORDER_SUGGESTED, as_machine_down
from werk.plan import Problem, solve_heuristic
from werk.plan.service import PLAN_SCHEDULE, PlanService
from werk.settings import PlanSettings

from .checker import violations
from .test_service_api import next_plan

NS = 10**9
MINUTE = 60 * NS


def suggestion(machine: str, since_ns: int, hours: float) -> Event:
    """A suggestion as werk.maintenance.serving publishes it."""
    return Event(
        WORK_ORDER_SUGGESTED,
        source=machine,
        data={
            "machine": machine,
            "since": since_ns,
            "until": since_ns + round(hours * 3600 * NS),
            "expected_duration": f"{hours * 3600:g}s",
            "reason": "predictive maintenance: remaining life 40 cycles, at worst 12",
            "rul": 40.0,
            "rul_lower": 12.0,
        },
    )


def overlapping(problem: Problem, rows: list, machine: str, since: int, until: int) -> list:
    start, end = problem.to_units(since), problem.to_units(until)
    return [a for a in rows if a.machine == machine and a.start < end and a.end > start]


async def start_service(bikes: Problem, maintenance: str) -> tuple[MemoryBus, PlanService, object]:
    bus = MemoryBus()
    clock = SimulatedClock(bikes.start_ns + 30 * MINUTE)  # 06:30 on the plan's first day

    async def emit(event: Event) -> None:
        await bus.publish(f"{EVENTS}.{event.kind}", event, event.context)

    service = PlanService(
        bus, emit, clock, frozen_s=15 * 60, time_limit_s=1, use_cpsat=False, maintenance=maintenance
    )
    plans = bus.subscribe(f"{EVENTS}.{PLAN_SCHEDULE}", name="test")
    service.start()
    first = await service.publish(bikes, solve_heuristic(bikes, "mix"))
    assert (await next_plan(plans)).id == first.id
    return bus, service, plans


async def test_a_suggestion_repairs_the_plan_in_force(bikes: Problem) -> None:
    bus, service, plans = await start_service(bikes, "suggested")
    since, until = bikes.start_ns + 90 * MINUTE, bikes.start_ns + 210 * MINUTE  # 07:30 - 09:30
    before = overlapping(bikes, service.current.schedule.assignments, "paint", since, until)
    assert before  # the plan in force paints then

    suggested = suggestion("paint", since, 2)
    await bus.publish(f"{EVENTS}.{WORK_ORDER_SUGGESTED}", suggested, suggested.context)
    repaired = await next_plan(plans)
    assert repaired.data["reason"] == WORK_ORDER_SUGGESTED
    assert repaired.data["changes"]["trigger"] == suggested.id
    assert repaired.context.parent_id == suggested.id
    problem, schedule = service.current.problem, service.current.schedule
    assert violations(problem, schedule) == []
    assert overlapping(problem, schedule.assignments, "paint", since, until) == []
    (window,) = [w for w in problem.machine("paint").blocked if w.reason.startswith("maint")]
    assert window.reason.startswith("maintenance (suggested): predictive maintenance")
    assert (window.start, window.end) == (90, 210)
    known = service.known_windows()["paint"]
    assert [(w["event"], w["kind"], w["in_plan"]) for w in known] == [
        (suggested.id, WORK_ORDER_SUGGESTED, True)
    ]
    await bus.close()
    await service.stop()


async def test_with_accepted_a_suggestion_waits_for_its_machine_down(bikes: Problem) -> None:
    bus, service, plans = await start_service(bikes, "accepted")
    in_force = service.current.event.id
    since, until = bikes.start_ns + 90 * MINUTE, bikes.start_ns + 210 * MINUTE
    suggested = suggestion("paint", since, 2)
    await bus.publish(f"{EVENTS}.{WORK_ORDER_SUGGESTED}", suggested, suggested.context)
    for _ in range(200):  # recorded (and shown), but the plan stays
        if service.windows.get("paint"):
            break
        await asyncio.sleep(0.01)
    assert service.known_windows()["paint"][0]["in_plan"] is False
    assert service.current.event.id == in_force
    assert overlapping(bikes, service.current.schedule.assignments, "paint", since, until)

    accepted = as_machine_down(suggested, user="planner")
    await bus.publish(f"{EVENTS}.{accepted.kind}", accepted, accepted.context)
    repaired = await next_plan(plans)  # the first plan since the suggestion: the acceptance's
    assert repaired.data["reason"] == "machine.down"
    assert repaired.data["changes"]["trigger"] == accepted.id
    problem, schedule = service.current.problem, service.current.schedule
    assert violations(problem, schedule) == []
    assert overlapping(problem, schedule.assignments, "paint", since, until) == []
    kinds = {(w["kind"], w["in_plan"]) for w in service.known_windows()["paint"]}
    assert kinds == {(WORK_ORDER_SUGGESTED, False), ("machine.down", True)}
    await bus.close()
    await service.stop()


def test_the_mode_is_checked() -> None:
    with pytest.raises(ValidationError) as caught:
        PlanService(MemoryBus(), None, SimulatedClock(0), maintenance="sometimes")  # type: ignore[arg-type]
    assert caught.value.field == "maintenance"


def paint_orders(start: datetime) -> dict:
    return {
        "name": "paint shop",
        "start": start.isoformat(),
        "unit": "1min",
        "machines": ["paint"],
        "orders": [
            {"id": f"P{i}", "operations": [{"id": "coat", "machines": {"paint": 30}}]}
            for i in range(10)
        ],
    }


@pytest.mark.parametrize("mode", ["suggested", "accepted"])
async def test_a_plan_solved_later_through_the_api_avoids_the_window(
    tmp_path: Path, mode: str
) -> None:
    settings = make_settings(tmp_path).model_copy(update={"plan": PlanSettings(maintenance=mode)})
    async with api_client(settings) as parts:
        api = Api(*parts)
        runtime = api.runtime
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        since = int((now + timedelta(hours=1)).timestamp()) * NS
        # published before anyone used the plan API: the planner listens from the start
        suggested = suggestion("paint", since, 1)
        await runtime.emit(suggested)
        viewer = api.auth(Role.viewer)
        for _ in range(200):
            got = await api.client.get("/api/v1/plan/maintenance", headers=viewer)
            assert got.status_code == 200, got.text
            if got.json()["machines"]:
                break
            await asyncio.sleep(0.02)
        body = got.json()
        assert body["mode"] == mode
        (window,) = body["machines"]["paint"]
        assert window["event"] == suggested.id and window["since"] == since
        assert window["in_plan"] is (mode == "suggested")
        assert (await api.client.get("/api/v1/plan/maintenance")).status_code == 401

        solve = {"problem": paint_orders(now), "heuristic_only": True}
        solved = await api.client.post(
            "/api/v1/plan/solve", json=solve, headers=api.auth(Role.operator)
        )
        assert solved.status_code == 200, solved.text
        rows = solved.json()["schedule"]["assignments"]
        clash = [r for r in rows if r["start_ns"] < since + 3600 * NS and r["end_ns"] > since]
        if mode == "suggested":
            assert clash == []
            blocked = runtime.planner.current.problem.machine("paint").blocked
            assert [w.reason.split(":")[0] for w in blocked] == ["maintenance (suggested)"]
        else:
            assert clash  # only recorded: 300 min of work from now runs through it

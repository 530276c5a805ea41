"""The planner on the bus and over HTTP: solve, read, report a breakdown or a rush order, and get
a repaired plan as a ``plan.schedule`` event caused by the report."""

import asyncio
from pathlib import Path

from tests.api.conftest import Api, api_client, make_settings
from werk.api.tokens import Role
from werk.core import EVENTS, Event, MemoryBus, SimulatedClock
from werk.plan import solve_heuristic
from werk.plan.service import PLAN_SCHEDULE, PlanService

from .checker import violations
from .conftest import SMALL


async def next_plan(subscription) -> Event:
    async def first() -> Event:
        async for message in subscription:
            return message.payload
        raise AssertionError("bus closed")

    return await asyncio.wait_for(first(), 20)


async def test_service_repairs_on_machine_down_and_rush_order(bikes):
    bus = MemoryBus()
    clock = SimulatedClock(bikes.start_ns + 30 * 60 * 10**9)  # 06:30, the plan started at 06:00

    async def emit(event: Event) -> None:
        await bus.publish(f"{EVENTS}.{event.kind}", event, event.context)

    service = PlanService(bus, emit, clock, frozen_s=15 * 60, time_limit_s=2, use_cpsat=True)
    plans = bus.subscribe(f"{EVENTS}.{PLAN_SCHEDULE}", name="test")
    service.start()
    first = await service.publish(bikes, solve_heuristic(bikes, "mix"))
    assert (await next_plan(plans)).id == first.id and first.data["reason"] == "solve"

    down = Event("machine.down", source="robot", data={"expected_duration": "3h"})
    await emit(down)
    repaired = await next_plan(plans)
    assert repaired.kind == PLAN_SCHEDULE and repaired.context.parent_id == down.id
    assert repaired.data["reason"] == "machine.down"
    assert repaired.data["changes"]["trigger"] == down.id
    problem, schedule = service.current.problem, service.current.schedule
    assert violations(problem, schedule) == []
    for a in schedule.assignments:  # nothing on the robot from 06:30 for 3 h
        assert not (a.machine == "robot" and a.start < 30 + 180 and a.end > 30)

    rush = Event(
        "order.rush",
        source="R-1",
        data={"product": "bicycle", "options": {"frame": "steel", "color": "red"}, "due": 300},
    )
    await emit(rush)
    repaired = await next_plan(plans)
    assert repaired.data["reason"] == "order.rush"
    rows = [a for a in repaired.data["assignments"] if a["order"] == "R-1"]
    assert rows and min(a["start"] for a in rows) >= 30 + 15
    assert service.current.problem.order("R-1").weight == 10
    await bus.close()
    await service.stop()


async def test_bad_events_do_not_stop_the_planner(small):
    bus = MemoryBus()

    async def emit(event: Event) -> None:
        await bus.publish(f"{EVENTS}.{event.kind}", event, event.context)

    service = PlanService(bus, emit, SimulatedClock(0), time_limit_s=1, use_cpsat=False)
    assert await service.handle(Event("machine.down", source="saw")) is None  # no plan yet
    await service.publish(small, solve_heuristic(small))
    plans = bus.subscribe(f"{EVENTS}.{PLAN_SCHEDULE}", name="test")
    service.start()
    await emit(Event("machine.down", source="no-such-machine", data={"since": 1}))
    await emit(Event("machine.down", source="paint2", data={"since": 3, "until": 50}))
    repaired = await next_plan(plans)
    assert repaired.data["reason"] == "machine.down" and repaired.data["changes"]["kept"] >= 0
    await bus.close()
    await service.stop()


async def test_api_round_trip(tmp_path: Path):
    async with api_client(make_settings(tmp_path)) as parts:
        api = Api(*parts)
        client = api.client
        body = {"problem": SMALL, "objective": "tardiness", "time_limit_s": 2}
        assert (await client.post("/api/v1/plan/solve", json=body)).status_code == 401
        viewer = await client.post("/api/v1/plan/solve", json=body, headers=api.auth(Role.viewer))
        assert viewer.status_code == 403
        missing = await client.get("/api/v1/plan/schedule", headers=api.auth(Role.viewer))
        assert missing.status_code == 404

        solved = await client.post("/api/v1/plan/solve", json=body, headers=api.auth(Role.operator))
        assert solved.status_code == 200, solved.text
        result = solved.json()
        assert result["schedule"]["objective_name"] == "tardiness"
        assert result["schedule"]["status"] == "optimal" and "utilisation" in result["kpis"]

        got = await client.get("/api/v1/plan/schedule", headers=api.auth(Role.viewer))
        assert got.json()["event"] == result["event"] and got.json()["reason"] == "solve"
        page = await client.get("/api/v1/plan/schedule/gantt", headers=api.auth(Role.viewer))
        assert page.status_code == 200 and "<svg" in page.text
        assert page.headers["content-type"].startswith("text/html")

        report = {"kind": "machine.down", "source": "paint2", "data": {"since": 3, "until": 60}}
        posted = await client.post(
            "/api/v1/plan/events", json=report, headers=api.auth(Role.operator)
        )
        assert posted.status_code == 202 and posted.json()["plan_in_force"]
        for _ in range(200):
            got = (await client.get("/api/v1/plan/schedule", headers=api.auth(Role.viewer))).json()
            if got["reason"] == "machine.down":
                break
            await asyncio.sleep(0.05)
        assert got["reason"] == "machine.down"
        assert got["changes"]["trigger"] == posted.json()["event"]
        for a in got["schedule"]["assignments"]:
            assert not (a["machine"] == "paint2" and a["start"] < 60 and a["end"] > 3)

        await asyncio.sleep(0.1)  # let the recorder store the events
        events = await client.get(
            "/api/v1/events", params={"kind": "plan"}, headers=api.auth(Role.viewer)
        )
        kinds = [e["kind"] for e in events.json()["events"]]
        assert kinds.count("plan.schedule") == 2


async def test_api_explains_infeasible_and_invalid_input(tmp_path: Path):
    async with api_client(make_settings(tmp_path)) as parts:
        api = Api(*parts)
        bad = {
            "machines": ["saw"],
            "orders": [
                {"id": "O1", "release": 9, "due": 3, "operations": [{"machines": {"saw": 1}}]}
            ],
        }
        checked = await api.client.post(
            "/api/v1/plan/check", json={"problem": bad}, headers=api.auth(Role.viewer)
        )
        assert checked.status_code == 200 and checked.json()["feasible"] is False
        assert checked.json()["issues"][0]["rule"] == "due-before-release"
        solved = await api.client.post(
            "/api/v1/plan/solve", json={"problem": bad}, headers=api.auth(Role.operator)
        )
        assert solved.status_code == 422 and solved.json()["error"] == "infeasible"
        assert solved.json()["issues"][0]["order"] == "O1"
        typo = {"machines": ["saw"], "orders": [{"id": "O1", "qty": 2}]}
        invalid = await api.client.post(
            "/api/v1/plan/solve", json={"problem": typo}, headers=api.auth(Role.operator)
        )
        assert invalid.status_code == 422 and invalid.json()["field"] == "orders[0].qty"
        too_long = await api.client.post(
            "/api/v1/plan/solve",
            json={"problem": bad, "time_limit_s": 10_000},
            headers=api.auth(Role.operator),
        )
        assert too_long.status_code == 422 and too_long.json()["field"] == "time_limit_s"

"""POST /api/v1/plan/simulate through the real app: a problem sent inline, a schedule with it, the
plan in force, and the limits."""

from __future__ import annotations

import copy

from tests.api.conftest import Api
from tests.plan.conftest import SMALL
from werk.api.tokens import Role
from werk.plan import kpis, problem_from_dict, solve_heuristic

URL = "/api/v1/plan/simulate"


async def test_simulates_a_problem_sent_inline_and_its_schedule(api: Api):
    client, viewer = api.client, api.auth(Role.viewer)
    body = {"problem": SMALL, "replications": 40, "variability": {"duration_cv": 0.3}}
    assert (await client.post(URL, json=body)).status_code == 401
    answer = await client.post(URL, json=body, headers=viewer)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["source"] == "request" and result["event"] is None
    assert result["schedule"]["solver"] == "heuristic"
    assert result["replications"] == 40 and result["variability"]["setup_cv"] == 0.3
    makespan = result["kpis"]["makespan"]
    assert makespan["n"] == 40 and makespan["low"] <= makespan["mean"] <= makespan["high"]
    risks = [o["p_late"] for o in result["orders"]]
    assert risks == sorted(risks, reverse=True) and len(risks) == 3

    problem = problem_from_dict(SMALL)
    schedule = solve_heuristic(problem, "tardiness")
    exact = {
        "problem": SMALL,
        "schedule": schedule.to_dict(problem),
        "replications": 3,
        "variability": {"duration_cv": 0},
    }
    answer = await client.post(URL, json=exact, headers=viewer)
    assert answer.status_code == 200, answer.text
    figures = answer.json()["kpis"]
    planned = kpis(problem, schedule)
    assert figures["makespan"]["mean"] == figures["makespan"]["plan"] == planned["makespan"]
    assert figures["total_weighted_tardiness"]["half_width"] == 0


async def test_simulates_the_plan_in_force_and_says_when_there_is_none(api: Api):
    client = api.client
    none = await client.post(URL, json={}, headers=api.auth(Role.viewer))
    assert none.status_code == 404 and "no plan in force" in none.json()["detail"]
    solve = {"problem": SMALL, "heuristic_only": True}
    solved = await client.post("/api/v1/plan/solve", json=solve, headers=api.auth(Role.operator))
    assert solved.status_code == 200, solved.text
    body = {
        "replications": 25,
        "seed": 4,
        "variability": {"duration_cv": 0.2, "failures": {"saw": {"mtbf": 8, "mttr": 3}}},
    }
    answer = await client.post(URL, json=body, headers=api.auth(Role.viewer))
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["source"] == "plan in force" and result["event"] == solved.json()["event"]
    assert result["variability"]["failures"] == {"saw": {"mtbf": 8.0, "mttr": 3.0}}
    assert result["kpis"]["makespan"]["mean"] > result["kpis"]["makespan"]["plan"]
    again = await client.post(URL, json=body, headers=api.auth(Role.viewer))
    assert again.json()["kpis"] == result["kpis"]  # same seed, same numbers


async def test_bad_requests_are_422_naming_the_field(api: Api):
    client, viewer = api.client, api.auth(Role.viewer)

    async def refused(body: dict) -> dict:
        answer = await client.post(URL, json=body, headers=viewer)
        assert answer.status_code == 422, answer.text
        return answer.json()

    too_many = await refused({"problem": SMALL, "replications": 1001})
    assert "replications" in str(too_many)
    negative = await refused({"problem": SMALL, "variability": {"duration_cv": -1}})
    assert "duration_cv" in str(negative)
    lathe = {"problem": SMALL, "variability": {"failures": {"lathe": {"mtbf": 5, "mttr": 1}}}}
    unknown = await refused(lathe)
    assert unknown["field"] == "variability.failures.lathe"
    assert unknown["rule"] == "unknown-machine"
    problem = problem_from_dict(SMALL)
    schedule = solve_heuristic(problem).to_dict()
    lonely = await refused({"schedule": schedule})
    assert (lonely["field"], lonely["rule"]) == ("problem", "required")
    short = copy.deepcopy(schedule)
    del short["assignments"][0]
    missing = await refused({"problem": SMALL, "schedule": short})
    assert missing["rule"] == "missing-operation"
    big = {
        "name": "big",
        "machines": ["m"],
        "orders": [
            {"id": f"o{i}", "operations": [{"machines": {"m": 1}}] * 10} for i in range(510)
        ],
    }
    assert (await refused({"problem": big}))["rule"] == "max-operations"
    work = {**big, "orders": big["orders"][:200]}
    assert (await refused({"problem": work, "replications": 600}))["rule"] == "max-work"

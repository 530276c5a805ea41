"""The heuristic and CP-SAT give feasible schedules (checked independently) and good ones."""

import importlib
import sys

import pytest

from werk.core import MissingExtraError
from werk.plan import Objective, kpis, solve_heuristic
from werk.plan.bench import load_instance
from werk.plan.cpsat import SolveOptions, solve
from werk.plan.demo import bicycle_plan
from werk.plan.heuristic import RULES, dispatch

from .checker import violations


@pytest.mark.parametrize("rule", RULES)
def test_every_rule_gives_a_feasible_schedule_with_setups_calendars_releases(small, bikes, rule):
    for problem in (small, bikes, load_instance("mk01"), load_instance("ft06")):
        assignments = dispatch(problem, rule)
        from werk.plan import Schedule

        schedule = Schedule(problem.name, tuple(assignments), "makespan", 0, "heuristic", "h")
        assert violations(problem, schedule) == [], (problem.name, rule)


def test_heuristic_picks_the_best_rule_and_notes_it(small):
    schedule = solve_heuristic(small, "tardiness")
    assert schedule.status == "heuristic" and schedule.bound is None
    assert schedule.notes[0].startswith("dispatching rule")
    assert schedule.objective == kpis(small, schedule)["total_weighted_tardiness"]


def test_heuristic_works_without_ortools_and_cpsat_names_the_extra(monkeypatch, small):
    monkeypatch.setitem(sys.modules, "ortools", None)
    monkeypatch.setitem(sys.modules, "ortools.sat", None)
    monkeypatch.setitem(sys.modules, "ortools.sat.python", None)
    monkeypatch.setitem(sys.modules, "ortools.sat.python.cp_model", None)
    assert violations(small, solve_heuristic(small)) == []
    with pytest.raises(MissingExtraError) as caught:
        solve(small)
    assert caught.value.extra == "plan" and "werk[plan]" in str(caught.value)
    from werk.plan import solver_for

    with pytest.raises(MissingExtraError):
        solver_for()
    assert solver_for(heuristic_only=True).name == "heuristic"
    importlib.invalidate_caches()


def test_cpsat_proves_ft06_optimum_55_fast():
    problem = load_instance("ft06")
    schedule = solve(problem, "makespan", SolveOptions(time_limit_s=10, workers=2))
    assert schedule.objective == 55 and schedule.status == "optimal" and schedule.bound == 55
    assert schedule.gap == 0 and schedule.elapsed_s < 5
    assert violations(problem, schedule) == []


def test_warm_start_is_the_first_incumbent_and_cpsat_uses_it():
    problem = load_instance("la01")
    warm = solve_heuristic(problem)
    seen = []
    schedule = solve(problem, "makespan", SolveOptions(time_limit_s=5), on_progress=seen.append)
    assert seen[0].objective == warm.objective and seen[0].bound is None
    assert all(p.objective <= warm.objective for p in seen)
    note = next(n for n in schedule.notes if n.startswith("warm start"))
    assert "did not report using the hint" not in note
    assert schedule.objective == 666


def test_without_warm_start_it_still_solves():
    schedule = solve(load_instance("ft06"), "makespan", SolveOptions(warm_start=False))
    assert schedule.objective == 55 and not any("warm start" in n for n in schedule.notes)


def test_flexible_instance_mk01_reaches_its_optimum():
    problem = load_instance("mk01")
    schedule = solve(problem, "makespan", SolveOptions(time_limit_s=10))
    assert schedule.objective == 40 and violations(problem, schedule) == []


@pytest.mark.parametrize("objective", ["makespan", "tardiness", "mix"])
def test_objectives_with_setups_and_calendars(small, objective):
    schedule = solve(small, objective, SolveOptions(time_limit_s=5))
    assert violations(small, schedule) == []
    figures = kpis(small, schedule)
    expected = {
        "makespan": figures["makespan"],
        "tardiness": figures["total_weighted_tardiness"],
        "mix": figures["makespan"] + figures["total_weighted_tardiness"],
    }[objective]
    assert schedule.objective == expected and schedule.status == "optimal"
    assert schedule.objective <= Objective(objective).value(
        small, solve_heuristic(small, objective).assignments
    )


def test_tardiness_objective_puts_the_urgent_heavy_order_first(small):
    schedule = solve(small, "tardiness", SolveOptions(time_limit_s=5))
    ends = {a.order: a.end for a in schedule.assignments if a.index == 1}
    assert ends["A"] <= 20  # weight 3: worth making on time


def test_mass_customisation_case_is_feasible_fast_and_checked():
    problem = bicycle_plan(40)
    schedule = solve(problem, "mix", SolveOptions(time_limit_s=3))
    assert schedule.status in ("feasible", "optimal")
    assert violations(problem, schedule) == []
    assert schedule.history[0].elapsed_s < 1.0

"""The tabu search: feasible schedules (checked independently), never worse than its start,
optimal on small job shops (against CP-SAT's proof), and used by the CP-SAT solve as its start."""

import random
import threading

import pytest

from werk.plan import Objective, solve_heuristic, tabu
from werk.plan.bench import load_instance
from werk.plan.cpsat import SolveOptions, solve
from werk.plan.model import Machine, Operation, Option, Order, Problem, Window

from .checker import violations


@pytest.fixture(scope="module", autouse=True)
def compiled():
    tabu.warm_up()  # a fresh clone compiles the kernel once: not inside the tests' budgets


def random_job_shop(seed: int, jobs: int = 5, machines: int = 3) -> Problem:
    """Routings may visit a machine twice, even one step after the other; orders have releases."""
    rng = random.Random(seed)
    orders = tuple(
        Order(
            f"j{j}",
            tuple(
                Operation(f"o{k}", (Option(f"m{rng.randrange(machines)}", rng.randint(1, 9)),))
                for k in range(rng.randint(2, 4))
            ),
            release=rng.choice((0, 0, rng.randint(1, 10))),
        )
        for j in range(jobs)
    )
    return Problem(f"random-{seed}", tuple(Machine(f"m{m}") for m in range(machines)), orders)


@pytest.mark.parametrize("seed", range(6))
def test_small_random_job_shops_reach_the_proven_optimum(seed):
    problem = random_job_shop(seed)
    start = solve_heuristic(problem)
    found = tabu.improve(problem, start, 30.0, patience=200_000)  # patience ends it
    assert violations(problem, found) == []
    assert found.objective == Objective("makespan").value(problem, list(found.assignments))
    assert found.objective <= start.objective
    proof = solve(problem, "makespan", SolveOptions(time_limit_s=10, tabu_share=0))
    assert proof.status == "optimal"
    assert found.objective == proof.objective


def test_ft10_from_the_dispatching_rule_to_near_its_optimum():
    problem = load_instance("ft10")  # 10 x 10, optimum 930; the best rule gives 1178
    start = solve_heuristic(problem)
    heard: list[int] = []
    found = tabu.improve(
        problem, start, 3.0, workers=2, seed=1, patience=400_000, on_best=heard.append
    )
    assert violations(problem, found) == []
    assert found.objective <= 950, found.notes
    assert heard == sorted(heard, reverse=True) and len(set(heard)) == len(heard) > 1
    assert heard[0] < start.objective and heard[-1] == found.objective
    assert found.solver == "tabu" and "tabu search: 1178 ->" in found.notes[0]


def test_without_numba_the_same_kernel_runs_as_python(monkeypatch):
    for name in ("_evaluate", "_critical_moves", "_estimate", "_swap", "_steps"):
        monkeypatch.setattr(tabu, name, getattr(tabu, name).py_func)
    problem = random_job_shop(3)
    start = solve_heuristic(problem)
    found = tabu.improve(problem, start, 30.0, patience=2_000)  # patience ends it
    assert violations(problem, found) == []
    assert found.objective == Objective("makespan").value(problem, list(found.assignments))
    proof = solve(problem, "makespan", SolveOptions(time_limit_s=10, tabu_share=0))
    assert found.objective == proof.objective


def test_stop_ends_the_search_and_keeps_the_start():
    problem = load_instance("ta01")
    start = solve_heuristic(problem)
    stop = threading.Event()
    stop.set()
    found = tabu.improve(problem, start, 60.0, stop=stop)
    assert found.elapsed_s < 5
    assert violations(problem, found) == [] and found.objective <= start.objective


def test_reaching_the_lower_bound_ends_every_search_but_not_the_callers_stop():
    problem = load_instance("la01")  # its optimum, 666, is the longest machine's load
    stop = threading.Event()
    found = tabu.improve(problem, solve_heuristic(problem), 30.0, workers=2, stop=stop)
    assert found.objective == 666 and found.elapsed_s < 10
    assert not stop.is_set()  # the caller's event: set by the caller alone


def test_applies_only_where_the_graph_is_the_whole_problem(small):
    ft06 = load_instance("ft06")
    assert tabu.applies(ft06, "makespan")
    assert not tabu.applies(ft06, "tardiness")
    assert not tabu.applies(load_instance("mk01"), "makespan")  # flexible
    assert not tabu.applies(small, "makespan")  # changeovers, a maintenance window
    blocked = ft06.with_machines(
        (Machine(ft06.machines[0].id, blocked=(Window(5, 9),)), *ft06.machines[1:])
    )
    assert not tabu.applies(blocked, "makespan")


def test_cpsat_starts_from_the_tabu_search_and_proves_ft10():
    seen = []
    schedule = solve(
        load_instance("ft10"), "makespan", SolveOptions(time_limit_s=10), on_progress=seen.append
    )
    assert schedule.objective == 930 and schedule.status == "optimal"
    note = next(n for n in schedule.notes if n.startswith("warm start"))
    assert "tabu search" in note and "did not report using the hint" not in note
    assert seen[0].objective == 1178 and seen[1].objective < seen[0].objective


def test_tabu_share_zero_leaves_it_out():
    schedule = solve(load_instance("ft06"), "makespan", SolveOptions(tabu_share=0))
    assert schedule.objective == 55
    assert not any("tabu" in n for n in schedule.notes)

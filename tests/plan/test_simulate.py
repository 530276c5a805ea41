"""A schedule executed in the what-if simulation (werk.sim.schedule): the plan reproduced without
variability, later with it, calendars kept, common random numbers, clear errors; and the CLI."""

from __future__ import annotations

import itertools
import json
import math
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from werk.cli import app
from werk.core import ValidationError
from werk.plan import Problem, Schedule, kpis, problem_from_dict, solve_heuristic
from werk.sim.schedule import (
    KPIS,
    Failures,
    Variability,
    compare_schedules,
    execute,
    simulate,
)

from .conftest import EXAMPLES, SMALL

INSTANCES = Path(__file__).parents[2] / "src/werk/plan/instances"
EXACT = Variability(duration_cv=0.0)


def shop(orders: int = 30, machines: int = 5, seed: int = 1) -> Problem:
    """A job shop with due dates, setups and maintenance windows on every machine."""
    rng = random.Random(seed)
    return problem_from_dict(
        {
            "name": "shop",
            "setups": {"a->b": 4, "b->a": 6},
            "machines": [
                {
                    "id": f"m{i}",
                    "maintenance": [{"start": s, "end": s + 25} for s in range(90, 4000, 170)],
                }
                for i in range(machines)
            ],
            "orders": [
                {
                    "id": f"o{j}",
                    "release": rng.randint(0, 40),
                    "due": rng.randint(150, 700),
                    "priority": rng.randint(1, 4),
                    "operations": [
                        {
                            "id": f"s{k}",
                            "machines": {f"m{m}": rng.randint(3, 20)},
                            "family": rng.choice("ab"),
                        }
                        for k, m in enumerate(rng.sample(range(machines), machines))
                    ],
                }
                for j in range(orders)
            ],
        }
    )


@pytest.fixture(scope="module")
def tight() -> tuple[Problem, Schedule]:
    problem = shop()
    return problem, solve_heuristic(problem, "mix")


def test_without_variability_the_plan_is_reproduced_exactly(small, bikes, tight):
    for problem, schedule in [
        (small, solve_heuristic(small, "tardiness")),
        (bikes, solve_heuristic(bikes, "mix")),
        tight,
    ]:
        planned = schedule.by_key()
        executed = execute(problem, schedule, EXACT, replication=3)
        assert len(executed) == len(planned)
        for e in executed:
            a = planned[(e.order, e.index)]
            assert (e.start, e.end, e.machine) == (a.start, a.end, a.machine)
            assert e.setup == a.setup and e.repair == 0 and e.failures == 0
        result = simulate(problem, schedule, EXACT, replications=4)
        figures = kpis(problem, schedule)
        for name in KPIS:
            estimate = result.kpis[name].estimate
            assert result.kpis[name].plan == figures[name]
            if figures[name] is None:
                assert math.isnan(estimate.mean)
                continue
            assert estimate.mean == pytest.approx(figures[name], abs=0.01), name
            assert estimate.half_width == 0
        for machine, figure in result.utilisation.items():
            assert figure.estimate.mean == pytest.approx(figures["utilisation"][machine], abs=1e-4)
        assert all(o.p_late == (o.plan_completion > (o.due or math.inf)) for o in result.orders)


def shifted(schedule: Schedule, by: int) -> Schedule:
    """The same sequences, every operation ``by`` units later (slack before each)."""
    return replace(
        schedule,
        assignments=tuple(
            replace(a, start=a.start + by, end=a.end + by) for a in schedule.assignments
        ),
    )


def test_early_start_without_variability_is_never_later_than_the_plan(tight, bikes):
    bikes_plan = solve_heuristic(bikes, "mix")
    for problem, schedule in [tight, (bikes, bikes_plan), (bikes, shifted(bikes_plan, 30))]:
        planned = schedule.by_key()
        executed = execute(problem, schedule, Variability(0.0, early_start=True))
        assert all(e.end <= planned[(e.order, e.index)].end for e in executed)
        result = simulate(problem, schedule, Variability(0.0, early_start=True), replications=2)
        assert result.kpis["makespan"].estimate.mean <= kpis(problem, schedule)["makespan"]
    # a plan with slack: early start takes it back, waiting for the plan does not
    slack = shifted(bikes_plan, 30)
    early = simulate(bikes, slack, Variability(0.0, early_start=True), replications=2)
    on_plan = simulate(bikes, slack, EXACT, replications=2)
    assert early.kpis["mean_flow_time"].estimate.mean < on_plan.kpis["mean_flow_time"].plan
    assert on_plan.kpis["mean_flow_time"].estimate.mean == pytest.approx(
        on_plan.kpis["mean_flow_time"].plan, abs=0.01
    )


def test_variability_makes_a_tight_plan_later_and_more_replications_narrow_the_interval(tight):
    problem, schedule = tight
    variability = Variability(duration_cv=0.3)
    few = simulate(problem, schedule, variability, replications=30, seed=5)
    many = simulate(problem, schedule, variability, replications=120, seed=5)
    plan = few.kpis["makespan"].plan
    assert plan is not None
    for result in (few, many):
        assert result.kpis["makespan"].estimate.mean > plan
        assert result.kpis["mean_flow_time"].estimate.mean > result.kpis["mean_flow_time"].plan
        assert result.kpis["total_weighted_tardiness"].estimate.low > 0
    assert many.kpis["makespan"].estimate.half_width < few.kpis["makespan"].estimate.half_width
    # replication r draws the same numbers however many replications are asked for
    assert np.array_equal(many.values("makespan")[:30], few.values("makespan"))
    # the factors have mean 1: the processing time on the floor averages the planned one
    durations = {(e.order, e.index): e.end - e.start for e in execute(problem, schedule, EXACT)}
    ratios = [
        e.processing / durations[(e.order, e.index)]
        for r in range(20)
        for e in execute(problem, schedule, variability, replication=r, seed=5)
    ]
    assert np.mean(ratios) == pytest.approx(1.0, abs=0.02)
    assert np.std(ratios) == pytest.approx(0.3, abs=0.03)


def test_failures_only_ever_delay(tight):
    problem, schedule = tight
    calm = Variability(duration_cv=0.1)
    failing = replace(calm, failures={"m0": Failures(60, 15), "m3": Failures(100, 30)})
    a = simulate(problem, schedule, calm, replications=20, seed=2)
    b = simulate(problem, schedule, failing, replications=20, seed=2)
    # same processing times (common random numbers): repairs can only push things later
    assert np.all(b.values("makespan") >= a.values("makespan"))
    assert np.all(b.values("total_weighted_tardiness") >= a.values("total_weighted_tardiness"))
    assert b.values("makespan").mean() > a.values("makespan").mean()
    executed = execute(problem, schedule, failing, replication=1, seed=2)
    hit = [e for e in executed if e.failures]
    assert hit and {e.machine for e in hit} <= {"m0", "m3"}
    for e in executed:
        assert e.end - e.start == pytest.approx(e.processing + e.repair)
    share = sum(e.failures for e in executed if e.machine == "m0") / sum(
        e.processing for e in executed if e.machine == "m0"
    )
    assert 1 / 200 < share < 1 / 20  # about one failure per 60 units of operating time


@pytest.mark.parametrize("early_start", [False, True])
def test_calendars_sequences_and_routings_hold_in_every_replication(
    tight, small, bikes, early_start
):
    # small: a maintenance window; bikes: shifts over days, with a start time
    for problem, schedule in [
        tight,
        (small, solve_heuristic(small)),
        (bikes, solve_heuristic(bikes)),
    ]:
        variability = Variability(
            duration_cv=0.4,
            setup_cv=0.5,
            failures={problem.machines[1].id: Failures(40, 10)},
            early_start=early_start,
        )
        planned = schedule.by_key()
        for r in range(8):
            executed = execute(problem, schedule, variability, replication=r, seed=9)
            at = {(e.order, e.index): e for e in executed}
            for e in executed:
                machine = problem.machine(e.machine)
                assert not any(w.overlaps(e.start, e.end) for w in machine.blocked), e
                assert e.start >= problem.order(e.order).release
                if not early_start:
                    assert e.start >= planned[(e.order, e.index)].start
                if e.index > 0:
                    assert e.start >= at[(e.order, e.index - 1)].end
            for machine in problem.machines:
                on = [at[a.key] for a in schedule.on_machine(machine.id)]
                for before, after in itertools.pairwise(on):
                    assert after.start >= before.end + after.setup - 1e-9


def test_identical_schedules_compare_to_zero_and_a_worse_one_is_significant(tight):
    problem, schedule = tight
    variability = Variability(0.2, failures={"m2": Failures(80, 10)})
    same = compare_schedules(problem, schedule, schedule, variability, replications=15)
    assert [d.kpi for d in same] == list(KPIS)
    for d in same:
        assert d.estimate.mean == 0 and d.estimate.half_width == 0 and d.p_value == 1.0
    # the same plan pushed 40 units later everywhere: later on every replication
    later = shifted(schedule, 40)
    makespan = compare_schedules(problem, schedule, later, variability, replications=15)[0]
    assert makespan.kpi == "makespan" and makespan.estimate.mean > 0 and makespan.significant


def test_orders_are_listed_riskiest_first_and_the_result_is_json(tight):
    problem, schedule = tight
    seen: list[tuple[int, int]] = []
    result = simulate(
        problem,
        schedule,
        Variability(0.3),
        replications=12,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(i, 12) for i in range(1, 13)]
    risks = [o.p_late for o in result.orders]
    assert risks == sorted(risks, reverse=True) and 0 < risks[0] <= 1
    assert {o.order for o in result.orders} == {o.id for o in problem.orders}
    assert result.late() == [o for o in result.orders if o.p_late > 0]
    body = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert body["replications"] == 12 and body["variability"]["setup_cv"] == 0.3
    makespan = body["kpis"]["makespan"]
    assert makespan["low"] <= makespan["mean"] <= makespan["high"]
    assert makespan["plan"] == kpis(problem, schedule)["makespan"]
    assert set(body["utilisation"]) == {m.id for m in problem.machines}
    assert body["orders"][0]["p_late"] == risks[0]


def test_a_thousand_operations_thirty_times_in_well_under_seconds():
    import time

    problem = shop(orders=100, machines=10, seed=3)
    schedule = solve_heuristic(problem)
    assert problem.operation_count == 1000
    simulate(problem, schedule, replications=1)  # imports (scipy) outside the timing
    started = time.perf_counter()
    simulate(problem, schedule, Variability(0.1, failures={"m1": Failures(300, 20)}))
    assert time.perf_counter() - started < 2.0


def test_schedule_round_trips_through_json(bikes):
    schedule = solve_heuristic(bikes, "mix")
    body = json.loads(json.dumps({**schedule.to_dict(bikes), "kpis": kpis(bikes, schedule)}))
    read = Schedule.from_dict(body)
    assert sorted(read.assignments, key=lambda a: a.key) == sorted(
        schedule.assignments, key=lambda a: a.key
    )
    assert (read.objective, read.status, read.solver) == (
        schedule.objective,
        schedule.status,
        schedule.solver,
    )
    del body["assignments"][2]["start"]
    with pytest.raises(ValidationError) as missing:
        Schedule.from_dict(body)
    assert missing.value.field == "schedule.assignments[2].start"
    assert missing.value.rule == "required"


def errors_of(problem: Problem, schedule: Schedule, **options) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        simulate(problem, schedule, **options)
    return caught.value


def test_bad_settings_name_the_field_and_rule(small):
    schedule = solve_heuristic(small)
    for replications in (0, 10_001):
        error = errors_of(small, schedule, replications=replications)
        assert (error.field, error.rule) == ("replications", "range")
    for cv in (-0.1, math.nan, math.inf):
        with pytest.raises(ValidationError) as caught:
            Variability(duration_cv=cv)
        assert caught.value.field == "variability.duration_cv"
    with pytest.raises(ValidationError) as caught:
        Variability(setup_cv=-1)
    assert caught.value.field == "variability.setup_cv"
    for mtbf, mttr in ((0, 5), (10, -1), (math.inf, 1)):
        with pytest.raises(ValidationError) as caught:
            Failures(mtbf, mttr)
        assert caught.value.rule == "positive"
    error = errors_of(small, schedule, variability=Variability(failures={"lathe": Failures(9, 1)}))
    assert (error.field, error.rule) == ("variability.failures.lathe", "unknown-machine")
    assert "saw" in str(error)
    assert errors_of(small, schedule, seed=-1).field == "seed"


def test_a_schedule_of_another_problem_is_refused(small):
    schedule = solve_heuristic(small)

    def with_assignments(*assignments) -> Schedule:
        return replace(schedule, assignments=tuple(assignments))

    first, *rest = schedule.assignments
    cases = {
        "unknown-order": with_assignments(replace(first, order="Z"), *rest),
        "unknown-step": with_assignments(replace(first, index=7), *rest),
        "unknown-machine": with_assignments(replace(first, machine="lathe"), *rest),
        "duplicate": with_assignments(first, first, *rest),
        "missing-operation": with_assignments(*rest),
    }
    b_cut = next(a for a in schedule.assignments if a.key == ("B", 0))
    cases["not-eligible"] = with_assignments(
        *(replace(a, machine="paint") if a is b_cut else a for a in schedule.assignments)
    )
    b_coat = next(a for a in schedule.assignments if a.key == ("B", 1))
    cases["routing-order"] = with_assignments(
        *(replace(a, start=0, end=5) if a is b_coat else a for a in schedule.assignments)
    )
    for rule, bad in cases.items():
        error = errors_of(small, bad)
        assert error.rule == rule, (rule, str(error))
    assert "not a schedule of problem 'small'" in str(errors_of(small, cases["missing-operation"]))
    assert errors_of(small, cases["unknown-order"]).field == "schedule.assignments[0].order"


runner = CliRunner()


def test_cli_solves_then_simulates_and_writes_json(tmp_path: Path):
    out = tmp_path / "sim.json"
    result = runner.invoke(
        app,
        [
            "plan",
            "simulate",
            str(EXAMPLES / "bikes.toml"),
            "--heuristic-only",
            "--replications",
            "20",
            "--cv",
            "0.3",
            "--failures",
            "robot=120/30",
            "--failures",
            "paint=200/20",
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "simulated mean" in result.output and "95 % CI" in result.output
    assert "utilisation robot" in result.output
    body = json.loads(out.read_text())
    assert body["replications"] == 20
    assert body["variability"]["failures"]["robot"] == {"mtbf": 120.0, "mttr": 30.0}
    assert body["kpis"]["makespan"]["mean"] > body["kpis"]["makespan"]["plan"]


def test_cli_simulates_the_schedule_solve_wrote(tmp_path: Path):
    instance = INSTANCES / "ft06.txt"
    plan = tmp_path / "plan.json"
    solved = runner.invoke(
        app, ["plan", "solve", str(instance), "--heuristic-only", "--json", str(plan)]
    )
    assert solved.exit_code == 0, solved.output
    out = tmp_path / "sim.json"
    simulate_plan = ["plan", "simulate", str(instance), "--schedule", str(plan)]
    result = runner.invoke(
        app,
        [*simulate_plan, "--cv", "0", "--replications", "3", "--json", str(out)],
    )
    assert result.exit_code == 0, result.output
    makespan = json.loads(out.read_text())["kpis"]["makespan"]
    assert makespan["mean"] == makespan["plan"] == json.loads(plan.read_text())["objective"]
    early = runner.invoke(
        app,
        [*simulate_plan, "--early-start", "--replications", "5", "--cv", "0.2"],
    )
    assert early.exit_code == 0 and "early start" in early.output


def test_cli_errors_are_clear(tmp_path: Path):
    bikes = str(EXAMPLES / "bikes.toml")
    bad = runner.invoke(app, ["plan", "simulate", bikes, "--heuristic-only", "--failures", "x"])
    assert bad.exit_code == 1 and "MACHINE=MTBF/MTTR" in bad.output
    unknown = runner.invoke(
        app, ["plan", "simulate", bikes, "--heuristic-only", "--failures", "lathe=10/1"]
    )
    assert unknown.exit_code == 1 and "lathe" in unknown.output
    other = tmp_path / "other.json"
    other.write_text(json.dumps(solve_heuristic(problem_from_dict(SMALL)).to_dict()))
    wrong = runner.invoke(app, ["plan", "simulate", bikes, "--schedule", str(other)])
    assert wrong.exit_code == 1 and "unknown-order" not in wrong.output
    assert "does not have" in wrong.output
    missing = runner.invoke(app, ["plan", "simulate", bikes, "--schedule", str(tmp_path / "no")])
    assert missing.exit_code == 1 and "not found" in missing.output

"""Inputs that cannot be scheduled are explained before any solver runs, naming order and step."""

import pytest

from werk.plan import Infeasible, check, problem_from_dict, solve_heuristic
from werk.plan.cpsat import SolveOptions, solve


def plan(*orders, machines=("saw", "paint"), **extra):
    return problem_from_dict({"machines": list(machines), "orders": list(orders), **extra})


def rules(problem):
    return {(i.rule, i.order, i.operation) for i in check(problem) if i.severity == "error"}


def test_operation_no_machine_can_do():
    problem = plan(
        {"id": "O7", "operations": [{"id": "cut", "machines": {"saw": 3}}, {"id": "glaze"}]},
        {"id": "O8", "operations": [{"id": "etch", "machines": {"laser": 4}}]},
    )
    assert rules(problem) == {("no-machine", "O7", "glaze"), ("no-machine", "O8", "etch")}
    messages = [i.message for i in check(problem)]
    assert "order O7, step glaze: no machine can do it (none is listed)" in messages
    assert any(
        "'laser' is not a machine of this plant (machines: paint, saw)" in m for m in messages
    )


def test_due_date_before_release():
    problem = plan({"id": "O1", "release": 50, "due": 20, "operations": [{"machines": {"saw": 1}}]})
    (issue,) = check(problem)
    assert issue.rule == "due-before-release" and issue.order == "O1"
    assert issue.message == "order O1: due 20 is before its release 50"


def test_due_date_too_early_is_a_warning_not_an_error():
    problem = plan({"id": "O1", "due": 5, "operations": [{"machines": {"saw": 10}}]})
    (issue,) = check(problem)
    assert issue.severity == "warning" and issue.rule == "due-unreachable"
    assert "needs 10 time units of work" in issue.message
    assert any("cannot be on time" in n for n in solve_heuristic(problem).notes)


def test_operation_longer_than_any_calendar_window():
    problem = problem_from_dict(
        {
            "start": "2027-03-01T06:00:00Z",
            "horizon": "3d",
            "machines": [{"id": "oven", "shifts": [["06:00", "14:00"]]}],
            "orders": [{"id": "O3", "operations": [{"id": "bake", "machines": {"oven": 600}}]}],
        }
    )
    (issue,) = check(problem)
    assert issue.rule == "longer-than-window" and (issue.order, issue.operation) == ("O3", "bake")
    assert "takes 600 min at least" in issue.message and "oven: 480" in issue.message


def test_too_much_work_for_the_horizon():
    problem = plan(
        {"id": "A", "operations": [{"machines": {"saw": 60}}]},
        {"id": "B", "operations": [{"machines": {"saw": 60}}]},
        horizon=100,
    )
    assert ("capacity", None, None) in rules(problem)


@pytest.mark.parametrize("solver", ["heuristic", "cp-sat"])
def test_solvers_refuse_with_the_explanation(solver):
    problem = plan({"id": "O1", "release": 50, "due": 20, "operations": [{"machines": {"saw": 1}}]})
    with pytest.raises(Infeasible) as caught:
        if solver == "heuristic":
            solve_heuristic(problem)
        else:
            solve(problem, "makespan", SolveOptions(time_limit_s=1))
    error = caught.value
    assert error.rule == "due-before-release" and error.field == "orders.O1"
    assert "due 20 is before its release 50" in str(error)
    assert [i.rule for i in error.issues] == ["due-before-release"]


def test_cpsat_infeasibility_is_reported_honestly():
    # each job fits alone; together they overflow the horizon in a way no single check sees
    problem = plan(
        {"id": "A", "operations": [{"machines": {"saw": 6}}, {"machines": {"paint": 6}}]},
        {"id": "B", "operations": [{"machines": {"saw": 6}}, {"machines": {"paint": 6}}]},
        horizon=13,
    )
    assert not rules(problem)
    with pytest.raises(Infeasible) as caught:
        solve(problem, "makespan", SolveOptions(time_limit_s=2, warm_start=False))
    assert caught.value.rule == "cp-sat-infeasible"
    assert "CP-SAT proved that no schedule" in str(caught.value)
    with pytest.raises(Infeasible, match="no machine has room for it before the planning horizon"):
        solve_heuristic(problem)

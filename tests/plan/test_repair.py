"""Repairs keep the past and the frozen horizon exactly, move work off a down machine, insert
rush orders, and move less than solving again from scratch."""

import pytest

from werk.plan import Downtime, Order, repair, solve_heuristic
from werk.plan.bench import load_instance
from werk.plan.cpsat import SolveOptions, solve

from .checker import violations

NOW, FROZEN = 20, 15


@pytest.fixture(scope="module")
def mk01():
    problem = load_instance("mk01")
    return problem, solve(problem, "makespan", SolveOptions(time_limit_s=3))


def busiest_flexible_machine(problem, schedule):
    flexible = {(o.id, k) for o, k, op in problem.operations() if len(op.options) > 1}
    counts = {}
    for a in schedule.assignments:
        if a.start >= NOW + FROZEN and a.key in flexible:
            counts[a.machine] = counts.get(a.machine, 0) + 1
    return max(counts, key=counts.get)


def must_stay(problem, schedule, down):
    """Independently: what ended before now, and what starts in the frozen horizon with its whole
    order before it staying, unless the breakdown hits it."""
    by_key = schedule.by_key()
    stay = set()
    for order in problem.orders:
        for k in range(len(order.operations)):
            a = by_key[(order.id, k)]
            hit = any(a.machine == d.machine and a.start < d.end and d.start < a.end for d in down)
            if hit or a.start >= NOW + FROZEN:
                break
            stay.add(a.key)
    return stay


@pytest.mark.parametrize("use_cpsat", [True, False])
def test_machine_down_keeps_the_frozen_part_and_moves_work_off_it(mk01, use_cpsat):
    problem, schedule = mk01
    machine = busiest_flexible_machine(problem, schedule)
    down = [Downtime(machine, NOW, 10_000)]
    result = repair(
        problem, schedule, now=NOW, frozen=FROZEN, down=down, time_limit_s=3, use_cpsat=use_cpsat
    )
    new = result.schedule
    assert violations(result.problem, new) == []
    old, fresh = schedule.by_key(), new.by_key()
    stay = must_stay(problem, schedule, down)
    assert stay and all(fresh[key] == old[key] for key in stay)
    assert result.kept == len(stay)
    for a in new.assignments:
        assert not (a.machine == machine and a.end > NOW and a.start < 10_000)
        if a.key not in stay:
            assert a.start >= NOW + FROZEN
    assert result.moved > 0 and "repair at 20" in new.notes[0]


def test_repair_moves_less_than_solving_again(mk01):
    problem, schedule = mk01
    machine = busiest_flexible_machine(problem, schedule)
    down = [Downtime(machine, NOW, NOW + 30)]
    result = repair(problem, schedule, now=NOW, frozen=FROZEN, down=down, time_limit_s=4)
    scratch = solve(result.problem, "makespan", SolveOptions(time_limit_s=2))
    old = schedule.by_key()

    def moved(s):
        return sum(
            1
            for a in s.assignments
            if (old[a.key].start, old[a.key].machine) != (a.start, a.machine)
        )

    assert moved(result.schedule) == result.moved
    assert result.moved < moved(scratch)


def test_rush_order_is_inserted_after_the_frozen_horizon(bikes):
    schedule = solve_heuristic(bikes, "mix")
    product = bikes.products["bicycle"]
    rush = Order(
        "RUSH-1",
        product.configure({"frame": "alu", "color": "red"}, 2),
        release=NOW,
        due=NOW + 200,
        weight=10,
    )
    result = repair(bikes, schedule, now=NOW, frozen=FROZEN, rush=[rush], time_limit_s=3)
    new = result.schedule
    assert violations(result.problem, new) == []
    mine = sorted((a for a in new.assignments if a.order == "RUSH-1"), key=lambda a: a.index)
    assert [a.operation for a in mine] == ["cut", "weld", "paint", "assemble"]
    assert mine[0].start >= NOW + FROZEN
    old = schedule.by_key()
    fresh = new.by_key()
    for key in must_stay(bikes, schedule, []):
        assert fresh[key] == old[key]

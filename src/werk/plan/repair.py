"""Rescheduling: a machine went down or a rush order arrived; repair the plan, don't redo it.

Time ``now`` splits the old schedule. What has ended stays; what runs now stays unless its
machine went down under it (then it restarts later: it was interrupted); what starts within the
**frozen horizon** (``now`` to ``now + frozen``) stays exactly, same machine, same start, unless a
breakdown hits it. Everything else, and whatever depends on a moved operation, is free but
starts after the frozen horizon. Among the schedules that keep all that, CP-SAT first finds the
best objective it can, then the one that moves the fewest time units and machines away from the
old schedule while being no worse than that (two phases, the time limit split between them).
Without OR-Tools, a dispatching pass in the old order (rush orders first) does the repair.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from werk.plan.heuristic import dispatch
from werk.plan.kpi import Objective
from werk.plan.model import Assignment, Order, Problem, Schedule, Window


@dataclass(frozen=True, slots=True)
class Downtime:
    """``machine`` cannot work over ``[start, end)`` (time units)."""

    machine: str
    start: int
    end: int
    reason: str = "down"


@dataclass(frozen=True, slots=True)
class Repair:
    problem: Problem
    schedule: Schedule
    kept: int
    moved: int
    frozen: int
    interrupted: tuple[str, ...]

    def summary(self) -> dict[str, object]:
        return {
            "kept": self.kept,
            "moved": self.moved,
            "frozen": self.frozen,
            "interrupted": list(self.interrupted),
        }


def apply_changes(
    problem: Problem, down: Sequence[Downtime] = (), rush: Sequence[Order] = ()
) -> Problem:
    """The problem with machines' new downtime windows and the rush orders added."""
    extra: dict[str, list[Window]] = {}
    for d in down:
        extra.setdefault(d.machine, []).append(Window(d.start, d.end, d.reason))
    machines = tuple(
        replace(m, blocked=tuple(sorted(m.blocked + tuple(extra[m.id]), key=lambda w: w.start)))
        if m.id in extra
        else m
        for m in problem.machines
    )
    unknown = sorted(set(extra) - {m.id for m in problem.machines})
    if unknown:
        from werk.core import ValidationError

        raise ValidationError(
            f"machine {unknown[0]!r} is not in plan {problem.name!r}",
            field="machine",
            rule="unknown-machine",
        )
    existing = {o.id for o in problem.orders}
    orders = problem.orders + tuple(o for o in rush if o.id not in existing)
    replaced = {o.id: o for o in rush if o.id in existing}
    orders = tuple(replaced.get(o.id, o) for o in orders)
    return replace(problem, machines=machines, orders=orders)


def split(
    problem: Problem, schedule: Schedule, now: int, frozen: int
) -> tuple[list[Assignment], list[str]]:
    """The assignments that stay (a prefix of each order) and the operations interrupted."""
    blocked = {m.id: m.blocked for m in problem.machines}
    orders = {o.id: o for o in problem.orders}
    freeze_end = now + frozen
    keep: dict[tuple[str, int], Assignment] = {}
    interrupted = []
    for a in schedule.assignments:
        if a.order not in orders or a.index >= len(orders[a.order].operations):
            continue  # the order was replaced by a shorter one
        hit = any(w.overlaps(a.start, a.end) for w in blocked.get(a.machine, ()))
        if a.end <= now and not hit:
            keep[a.key] = a
        elif a.start < now < a.end:
            if hit:
                interrupted.append(f"{a.order}/{a.operation} on {a.machine}")
            else:
                keep[a.key] = a
        elif now <= a.start < freeze_end and not hit:
            keep[a.key] = a
    fixed = []
    for order in problem.orders:  # only a prefix of each order can stay
        for k in range(len(order.operations)):
            if (order.id, k) not in keep:
                break
            fixed.append(keep[(order.id, k)])
    return fixed, interrupted


def repair(
    problem: Problem,
    schedule: Schedule,
    *,
    now: int,
    frozen: int,
    down: Sequence[Downtime] = (),
    rush: Sequence[Order] = (),
    objective: Objective | str | None = None,
    time_limit_s: float = 5.0,
    workers: int = 2,
    use_cpsat: bool = True,
) -> Repair:
    """Repair ``schedule`` of ``problem`` after ``down`` and ``rush`` at time ``now``."""
    if isinstance(objective, Objective):
        goal = objective
    else:
        goal = Objective(objective or schedule.objective_name)
    started = time.perf_counter()
    changed = apply_changes(problem, down, rush)
    fixed, interrupted = split(changed, schedule, now, frozen)
    freeze_end = now + frozen
    rush_ids = {o.id for o in rush}
    warm = _keep_order(changed, schedule, fixed, freeze_end, rush_ids, goal)
    result = warm
    if use_cpsat:
        from werk.plan.cpsat import SolveOptions, solve

        first = SolveOptions(time_limit_s=time_limit_s * 0.6, workers=workers)
        best = solve(changed, goal, first, fixed=fixed, not_before=freeze_end, warm=warm)
        second = SolveOptions(time_limit_s=max(0.1, time_limit_s * 0.4), workers=workers)
        result = solve(
            changed,
            goal,
            second,
            fixed=fixed,
            not_before=freeze_end,
            warm=best,
            reference=schedule,
            objective_limit=int(best.objective),
        )
        result = replace(
            result,
            bound=best.bound,
            status=best.status if result.objective == best.objective else result.status,
        )
    old = schedule.by_key()
    moved = sum(
        1
        for a in result.assignments
        if a.key in old and (old[a.key].start != a.start or old[a.key].machine != a.machine)
    )
    notes = [
        f"repair at {now}: {len(fixed)} operations kept (frozen until {freeze_end}), "
        f"{moved} moved"
        + (f", {len(interrupted)} interrupted: {', '.join(interrupted)}" if interrupted else "")
    ]
    result = replace(
        result,
        elapsed_s=time.perf_counter() - started,
        notes=tuple(notes) + tuple(result.notes),
    )
    frozen_count = sum(1 for a in fixed if a.start >= now)
    return Repair(changed, result, len(fixed), moved, frozen_count, tuple(interrupted))


def _keep_order(
    problem: Problem,
    schedule: Schedule,
    fixed: Sequence[Assignment],
    freeze_end: int,
    rush: set[str],
    goal: Objective,
) -> Schedule:
    """Dispatch the free operations in their old order (rush orders first): the least-change
    repair a rule can give, and the warm start of the CP-SAT repair."""
    old = {a.key: a.start for a in schedule.assignments}
    rank = {
        (order.id, k): (-1 if order.id in rush else old.get((order.id, k), freeze_end))
        for order in problem.orders
        for k in range(len(order.operations))
    }
    assignments = dispatch(problem, "keep", fixed=fixed, not_before=freeze_end, rank=rank)
    return Schedule(
        problem=problem.name,
        assignments=tuple(assignments),
        objective_name=goal.name,
        objective=float(goal.value(problem, assignments)),
        status="heuristic",
        solver="heuristic",
        notes=("dispatching in the old order (rule keep)",),
    )

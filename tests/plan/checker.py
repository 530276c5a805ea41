"""An independent feasibility check of a schedule, written from the rules, not from the solvers."""

from __future__ import annotations

import itertools

from werk.plan import Problem, Schedule


def violations(problem: Problem, schedule: Schedule) -> list[str]:
    found = []
    placed = {(a.order, a.index): a for a in schedule.assignments}
    if len(placed) != len(schedule.assignments):
        found.append("an operation is scheduled twice")
    machines = {m.id: m for m in problem.machines}
    for order in problem.orders:
        previous_end = None
        for k, operation in enumerate(order.operations):
            a = placed.get((order.id, k))
            if a is None:
                found.append(f"{order.id}/{k} not scheduled")
                continue
            durations = {o.machine: o.duration for o in operation.options}
            if a.machine not in durations:
                found.append(f"{order.id}/{k} on {a.machine}, which cannot do it")
            elif a.end - a.start != durations[a.machine]:
                found.append(f"{order.id}/{k} lasts {a.end - a.start}, not {durations[a.machine]}")
            if k == 0 and a.start < order.release:
                found.append(f"{order.id} starts {a.start} before its release {order.release}")
            if previous_end is not None and a.start < previous_end:
                found.append(f"{order.id}/{k} starts before step {k - 1} ends")
            if problem.horizon is not None and a.end > problem.horizon:
                found.append(f"{order.id}/{k} ends after the horizon")
            for w in machines[a.machine].blocked if a.machine in machines else ():
                if a.start < w.end and w.start < a.end:
                    found.append(f"{order.id}/{k} on {a.machine} overlaps blocked {w}")
            previous_end = a.end
    families = {(o.id, k): op.family for o in problem.orders for k, op in enumerate(o.operations)}
    by_machine: dict[str, list] = {}
    for a in schedule.assignments:
        by_machine.setdefault(a.machine, []).append(a)
    for machine, items in by_machine.items():
        items.sort(key=lambda a: a.start)
        for before, after in itertools.pairwise(items):
            gap = problem.setups.get((families[before.key], families[after.key]), 0)
            if after.start < before.end + gap:
                found.append(
                    f"{machine}: {after.order}/{after.index} starts {after.start}, before "
                    f"{before.order}/{before.index} ends {before.end} + changeover {gap}"
                )
    return found

"""Explain, before solving, why an input cannot be scheduled: precise findings per order and step.

``check(problem)`` returns every finding (errors and warnings); ``require_feasible`` raises
``Infeasible`` when there is an error. Solvers call it first, so a user reads "order O7, step
paint: no machine can do it" rather than a solver's bare "infeasible".
"""

from __future__ import annotations

from collections import Counter

from werk.plan.errors import Infeasible, Issue
from werk.plan.model import Problem


def check(problem: Problem) -> list[Issue]:
    issues: list[Issue] = []
    machines = {m.id: m for m in problem.machines}
    horizon = problem.horizon
    for machine_id, count in Counter(m.id for m in problem.machines).items():
        if count > 1:
            issues.append(
                Issue(
                    "duplicate-machine",
                    f"machine {machine_id!r} is listed {count} times",
                    machine=machine_id,
                )
            )
    for order_id, count in Counter(o.id for o in problem.orders).items():
        if count > 1:
            issues.append(
                Issue(
                    "duplicate-order", f"order {order_id!r} is listed {count} times", order=order_id
                )
            )
    if not problem.orders:
        issues.append(Issue("no-orders", "there are no orders to schedule", severity="warning"))
    for (before, after), value in problem.setups.items():
        if value < 0:
            issues.append(
                Issue("setup", f"changeover {before!r} -> {after!r} is negative ({value})")
            )
    gaps = {m.id: m.longest_gap(horizon) for m in problem.machines}

    for order in problem.orders:
        where = f"order {order.id}"
        if order.weight < 0:
            issues.append(
                Issue(
                    "weight", f"{where}: priority weight {order.weight} is negative", order=order.id
                )
            )
        if order.due is not None and order.due < order.release:
            issues.append(
                Issue(
                    "due-before-release",
                    f"{where}: due {_when(problem, order.due)} is before its release "
                    f"{_when(problem, order.release)}",
                    order=order.id,
                )
            )
        if not order.operations:
            issues.append(
                Issue(
                    "no-operations",
                    f"{where} has no operations",
                    severity="warning",
                    order=order.id,
                )
            )
        least_work = 0
        for operation in order.operations:
            step = f"{where}, step {operation.id}"
            if not operation.options:
                issues.append(
                    Issue(
                        "no-machine",
                        f"{step}: no machine can do it (none is listed)",
                        order=order.id,
                        operation=operation.id,
                    )
                )
                continue
            unknown = [o.machine for o in operation.options if o.machine not in machines]
            if unknown:
                issues.append(
                    Issue(
                        "no-machine"
                        if len(unknown) == len(operation.options)
                        else "unknown-machine",
                        f"{step}: {', '.join(map(repr, unknown))} "
                        f"{'is not a machine' if len(unknown) == 1 else 'are not machines'} "
                        "of this "
                        f"plant (machines: {', '.join(sorted(machines)) or 'none'})",
                        order=order.id,
                        operation=operation.id,
                        machine=unknown[0],
                    )
                )
                continue
            negative = [o for o in operation.options if o.duration < 0]
            if negative:
                issues.append(
                    Issue(
                        "duration",
                        f"{step}: duration {negative[0].duration} on "
                        f"{negative[0].machine} is negative",
                        order=order.id,
                        operation=operation.id,
                        machine=negative[0].machine,
                    )
                )
                continue
            if all(o.duration > gaps[o.machine] for o in operation.options):
                longest = ", ".join(f"{o.machine}: {gaps[o.machine]}" for o in operation.options)
                issues.append(
                    Issue(
                        "longer-than-window",
                        f"{step} takes {operation.shortest} {_unit(problem)} at least, longer "
                        "than any "
                        f"window its machines are available in (longest: {longest})",
                        order=order.id,
                        operation=operation.id,
                    )
                )
            least_work += operation.shortest
        if horizon is not None and order.release + least_work > horizon:
            issues.append(
                Issue(
                    "beyond-horizon",
                    f"{where} needs {least_work} {_unit(problem)} of work from its release "
                    f"{_when(problem, order.release)}, past the planning horizon "
                    f"{_when(problem, horizon)}",
                    order=order.id,
                )
            )
        elif order.due is not None and order.release <= order.due < order.release + least_work:
            issues.append(
                Issue(
                    "due-unreachable",
                    f"{where} cannot be on time: it needs {least_work} {_unit(problem)} "
                    "of work after "
                    f"its release {_when(problem, order.release)}, due {_when(problem, order.due)}",
                    severity="warning",
                    order=order.id,
                )
            )
    issues.extend(_capacity(problem))
    return issues


def _capacity(problem: Problem) -> list[Issue]:
    """Work that only one machine can do must fit into that machine's time before the horizon."""
    if problem.horizon is None:
        return []
    only: Counter[str] = Counter()
    for _, _, operation in problem.operations():
        if len(operation.options) == 1:
            only[operation.options[0].machine] += operation.options[0].duration
    issues = []
    for machine in problem.machines:
        available = problem.horizon - sum(
            max(0, min(w.end, problem.horizon) - max(w.start, 0)) for w in machine.blocked
        )
        if only[machine.id] > available:
            issues.append(
                Issue(
                    "capacity",
                    f"machine {machine.id} has {only[machine.id]} {_unit(problem)} of work "
                    "that only it "
                    f"can do, but only {available} available before the planning horizon",
                    machine=machine.id,
                )
            )
    return issues


def require_feasible(problem: Problem) -> list[Issue]:
    """Raise ``Infeasible`` if ``check`` finds an error; return the warnings."""
    issues = check(problem)
    if any(i.severity == "error" for i in issues):
        raise Infeasible(issues)
    return issues


def _unit(problem: Problem) -> str:
    if problem.start_ns is None:
        return "time units"
    return {60.0: "min", 1.0: "s", 3600.0: "h"}.get(problem.unit_s, f"x {problem.unit_s:g} s")


def _when(problem: Problem, units: int) -> str:
    ns = problem.to_ns(units)
    if ns is None:
        return str(units)
    from werk.core import iso

    return f"{iso(ns)[:16]}Z"

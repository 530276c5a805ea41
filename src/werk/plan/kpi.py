"""What a schedule is worth: objectives (makespan, weighted tardiness, a mix) and KPIs.

The mix is ``makespan_weight * makespan + tardiness_weight * total weighted tardiness``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from werk.core import ValidationError
from werk.plan.model import OBJECTIVES, Assignment, Problem, Schedule


@dataclass(frozen=True, slots=True)
class Objective:
    name: str = "makespan"
    makespan_weight: int = 1
    tardiness_weight: int = 1

    def __post_init__(self) -> None:
        if self.name not in OBJECTIVES:
            raise ValidationError(
                f"objective {self.name!r}: choose one of {', '.join(OBJECTIVES)}",
                field="objective",
                rule="choice",
            )

    def value(self, problem: Problem, assignments: Iterable[Assignment]) -> int:
        ends = completions(problem, assignments)
        span = max(ends.values(), default=0)
        if self.name == "makespan":
            return span
        late = weighted_tardiness(problem, ends)
        if self.name == "tardiness":
            return late
        return self.makespan_weight * span + self.tardiness_weight * late


def completions(problem: Problem, assignments: Iterable[Assignment]) -> dict[str, int]:
    """Order id -> when its last operation ends."""
    ends: dict[str, int] = {}
    for a in assignments:
        ends[a.order] = max(ends.get(a.order, 0), a.end)
    return ends


def weighted_tardiness(problem: Problem, ends: dict[str, int]) -> int:
    return sum(
        order.weight * max(0, ends.get(order.id, 0) - order.due)
        for order in problem.orders
        if order.due is not None
    )


def kpis(problem: Problem, schedule: Schedule) -> dict[str, Any]:
    """Makespan, tardiness, on-time rate, flow time, changeover time and machine utilisation.

    Utilisation is processing time over the time the machine was available between the start
    and the makespan (blocked windows do not count as available).
    """
    ends = completions(problem, schedule.assignments)
    span = max(ends.values(), default=0)
    due_orders = [o for o in problem.orders if o.due is not None and o.id in ends]
    lateness = [ends[o.id] - o.due for o in due_orders if o.due is not None]
    flow = [ends[o.id] - o.release for o in problem.orders if o.id in ends]
    busy: dict[str, int] = {m.id: 0 for m in problem.machines}
    setup_total = 0
    for a in schedule.assignments:
        busy[a.machine] = busy.get(a.machine, 0) + a.end - a.start
        setup_total += a.setup
    utilisation = {}
    for machine in problem.machines:
        blocked = sum(max(0, min(w.end, span) - max(w.start, 0)) for w in machine.blocked)
        available = span - blocked
        utilisation[machine.id] = round(busy[machine.id] / available, 4) if available > 0 else 0.0
    return {
        "makespan": span,
        "total_weighted_tardiness": weighted_tardiness(problem, ends),
        "tardy_orders": sum(1 for late in lateness if late > 0),
        "on_time_rate": round(sum(1 for late in lateness if late <= 0) / len(lateness), 4)
        if lateness
        else None,
        "max_lateness": max(lateness, default=None),
        "mean_flow_time": round(sum(flow) / len(flow), 2) if flow else None,
        "setup_time": setup_total,
        "utilisation": utilisation,
        "mean_utilisation": round(sum(utilisation.values()) / len(utilisation), 4)
        if utilisation
        else None,
    }

"""Dispatching rules: a good schedule in milliseconds, without OR-Tools.

A Giffler-Thompson style generation scheme extended to flexible routings: at each step take the
(operation, machine) pair that would finish first, collect the operations that could start on
that machine before then (the conflict set), and let a priority rule pick one:

``mwkr``  most work remaining (good for makespan)   ``spt``   shortest processing time
``edd``   earliest due date                         ``slack`` least slack per priority weight
``atc``   apparent tardiness cost (weighted tardiness: weight per time, discounted by slack)
``fifo``  earliest release                         ``keep``  a given rank (a repair keeps the
                                                              old order)

Setups, calendars (blocked windows), release dates, a horizon, and operations fixed in advance
(a repair keeps the frozen part) are respected exactly as the CP-SAT model does. The result warms
CP-SAT up and is the instant answer when OR-Tools is not installed.
"""

from __future__ import annotations

import bisect
import math
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from werk.plan.check import require_feasible
from werk.plan.errors import Infeasible, Issue
from werk.plan.kpi import Objective
from werk.plan.model import Assignment, Problem, Schedule, Window

RULES = ("mwkr", "spt", "edd", "slack", "atc", "fifo")
"""The rules ``solve_heuristic`` tries; ``keep`` needs a rank and is for repairs."""
INFINITY = float("inf")


class _Calendar:
    """A machine's blocked windows, merged and searchable."""

    def __init__(self, windows: Iterable[Window], horizon: int | None) -> None:
        merged: list[list[int]] = []
        for w in sorted(windows, key=lambda w: w.start):
            if w.end <= w.start:
                continue
            if merged and w.start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], w.end)
            else:
                merged.append([w.start, w.end])
        self.starts = [w[0] for w in merged]
        self.ends = [w[1] for w in merged]
        self.horizon = horizon

    def earliest(self, t: int, duration: int) -> int | None:
        """First start ``>= t`` where ``duration`` fits, or ``None`` past the horizon."""
        i = bisect.bisect_right(self.ends, t)
        while i < len(self.starts):
            if t + duration <= self.starts[i]:
                break
            t = max(t, self.ends[i])
            i += 1
        if self.horizon is not None and t + duration > self.horizon:
            return None
        return t


def dispatch(
    problem: Problem,
    rule: str = "mwkr",
    *,
    fixed: Iterable[Assignment] = (),
    not_before: int = 0,
    rng: random.Random | None = None,
    randomness: float = 0.0,
    rank: Mapping[tuple[str, int], float] | None = None,
) -> list[Assignment]:
    """One schedule by one rule. ``fixed`` operations (a prefix of their orders) stay where they
    are; every other operation starts at ``not_before`` or later. With ``rng``, a share
    ``randomness`` of the choices is made at random (for randomised restarts). Rule ``keep``
    picks the lowest ``rank`` of (order id, step index)."""
    if rule not in RULES and not (rule == "keep" and rank is not None):
        raise ValueError(f"unknown rule {rule!r}; rules: {', '.join(RULES)} (keep needs a rank)")
    return _Dispatcher(problem, fixed, not_before).run(rule, rng, randomness, rank or {})


class _Dispatcher:
    def __init__(self, problem: Problem, fixed: Iterable[Assignment], not_before: int) -> None:
        self.problem = problem
        orders = self.orders = problem.orders
        self.calendars = {m.id: _Calendar(m.blocked, problem.horizon) for m in problem.machines}
        # work left from step k on (shortest durations), for the mwkr and slack rules
        self.remaining = []
        for order in orders:
            tail, acc = [0] * (len(order.operations) + 1), 0
            for k in range(len(order.operations) - 1, -1, -1):
                acc += order.operations[k].shortest
                tail[k] = acc
            self.remaining.append(tail)
        self.next_step = [0] * len(orders)
        self.ready = [order.release for order in orders]
        self.machine_free = {m.id: 0 for m in problem.machines}
        self.machine_family: dict[str, str | None] = {m.id: None for m in problem.machines}
        last_end = {m.id: -1 for m in problem.machines}
        index_of = {order.id: i for i, order in enumerate(orders)}
        self.result: list[Assignment] = []
        for a in fixed:
            o = index_of[a.order]
            self.result.append(a)
            self.next_step[o] = max(self.next_step[o], a.index + 1)
            self.ready[o] = max(self.ready[o], a.end)
            self.machine_free[a.machine] = max(self.machine_free[a.machine], a.end)
            if a.end > last_end[a.machine]:
                last_end[a.machine] = a.end
                self.machine_family[a.machine] = orders[o].operations[a.index].family
        # candidates[machine][order] = (start, end, setup) of the order's next step there
        self.candidates: dict[str, dict[int, tuple[int, float, int]]] = {
            m: {} for m in self.machine_free
        }
        for o, order in enumerate(orders):
            if self.next_step[o] < len(order.operations):
                self.ready[o] = max(self.ready[o], not_before)
                for option in order.operations[self.next_step[o]].options:
                    self.place(o, option.machine)

    def place(self, o: int, machine: str) -> None:
        """(Re)compute when order ``o``'s next step could run on ``machine``."""
        operation = self.orders[o].operations[self.next_step[o]]
        duration = operation.duration_on(machine)
        assert duration is not None
        previous = self.machine_family[machine]
        setup = 0 if previous is None else self.problem.setup(previous, operation.family)
        start = self.calendars[machine].earliest(
            max(self.ready[o], self.machine_free[machine] + setup), duration
        )
        self.candidates[machine][o] = (
            (0, INFINITY, setup) if start is None else (start, start + duration, setup)
        )

    def run(
        self,
        rule: str,
        rng: random.Random | None,
        randomness: float,
        rank: Mapping[tuple[str, int], float],
    ) -> list[Assignment]:
        orders, candidates, next_step = self.orders, self.candidates, self.next_step
        priority = _priority(rule, self.problem, self.remaining, next_step, rank)
        left = sum(len(order.operations) - next_step[o] for o, order in enumerate(orders))
        while left:
            best_end, machine = INFINITY, ""
            for m, entries in candidates.items():
                for _, end, _ in entries.values():
                    if end < best_end:
                        best_end, machine = end, m
            if best_end == INFINITY:
                raise Infeasible(_stuck(self.problem, candidates, next_step))
            entries = candidates[machine]
            conflict = [o for o, (start, _, _) in entries.items() if start < best_end]
            if rng is not None and len(conflict) > 1 and rng.random() < randomness:
                chosen = rng.choice(conflict)
            else:
                chosen = min(conflict, key=lambda o: priority(o, machine, entries[o][0]))
            start, end, setup = entries[chosen]
            order = orders[chosen]
            operation = order.operations[next_step[chosen]]
            self.result.append(
                Assignment(
                    order.id, next_step[chosen], operation.id, machine, start, int(end), setup
                )
            )
            for option in operation.options:
                candidates[option.machine].pop(chosen, None)
            next_step[chosen] += 1
            self.ready[chosen] = int(end)
            self.machine_free[machine] = int(end)
            self.machine_family[machine] = operation.family
            left -= 1
            if next_step[chosen] < len(order.operations):
                for option in order.operations[next_step[chosen]].options:
                    self.place(chosen, option.machine)
            for o in list(entries):
                if o != chosen:
                    self.place(o, machine)
        return self.result


def _priority(
    rule: str,
    problem: Problem,
    remaining: list[list[int]],
    next_step: list[int],
    rank: Mapping[tuple[str, int], float],
) -> Callable[[int, str, int], tuple[float, ...]]:
    orders = problem.orders
    durations = [o.duration for _, _, op in problem.operations() for o in op.options]
    mean_duration = max(1.0, sum(durations) / max(1, len(durations)))

    def key(o: int, machine: str, start: int) -> tuple[float, ...]:
        order = orders[o]
        left = remaining[o][next_step[o]]
        if rule == "keep":
            return (rank.get((order.id, next_step[o]), INFINITY), o)
        if rule == "mwkr":
            return (-left, o)
        if rule == "spt":
            return (order.operations[next_step[o]].duration_on(machine) or 0, -left, o)
        if rule == "edd":
            return (INFINITY if order.due is None else order.due, -left, o)
        if rule == "slack":
            if order.due is None:
                return (INFINITY, -left, o)
            slack = order.due - start - left
            weight = max(order.weight, 1e-9)
            return (slack / weight if slack >= 0 else slack * weight, -left, o)
        if rule == "atc":
            if order.due is None:
                return (0.0, -left, o)
            duration = max(1, order.operations[next_step[o]].duration_on(machine) or 1)
            # the usual look-ahead k = 2, over the work left rather than one step's duration
            spare = max(0, order.due - start - left)
            urgency = order.weight / duration * math.exp(-spare / (2.0 * mean_duration * 4))
            return (-urgency, -left, o)
        return (order.release, o)  # fifo

    return key


def _stuck(
    problem: Problem,
    candidates: dict[str, dict[int, tuple[int, float, int]]],
    next_step: list[int],
) -> list[Issue]:
    issues = []
    seen = set()
    for entries in candidates.values():
        for o in entries:
            if o in seen:
                continue
            seen.add(o)
            order = problem.orders[o]
            step = order.operations[next_step[o]]
            issues.append(
                Issue(
                    "beyond-horizon",
                    f"order {order.id}, step {step.id}: no machine has room for it before the "
                    f"planning horizon ({problem.horizon}); add capacity or extend the horizon",
                    order=order.id,
                    operation=step.id,
                )
            )
    return issues


def solve_heuristic(
    problem: Problem,
    objective: Objective | str = "makespan",
    *,
    rules: Sequence[str] = RULES,
    budget_s: float = 0.0,
    seed: int = 0,
    fixed: Sequence[Assignment] = (),
    not_before: int = 0,
) -> Schedule:
    """The best schedule of the given rules (then randomised tries for ``budget_s`` seconds)."""
    goal = objective if isinstance(objective, Objective) else Objective(objective)
    warnings = require_feasible(problem)
    started = time.perf_counter()
    best: tuple[int, str, list[Assignment]] | None = None
    for rule in rules:
        assignments = dispatch(problem, rule, fixed=fixed, not_before=not_before)
        value = goal.value(problem, assignments)
        if best is None or value < best[0]:
            best = (value, rule, assignments)
    assert best is not None
    rng = random.Random(seed)
    tries = 0
    while time.perf_counter() - started < budget_s:
        tries += 1
        rule = best[1].split("+")[0]
        assignments = dispatch(
            problem, rule, fixed=fixed, not_before=not_before, rng=rng, randomness=0.2
        )
        value = goal.value(problem, assignments)
        if value < best[0]:
            best = (value, f"{rule}+random", assignments)
    value, rule, assignments = best
    notes = [f"dispatching rule {rule}" + (f" ({tries} randomised tries)" if tries else "")]
    notes += [i.message for i in warnings]
    return Schedule(
        problem=problem.name,
        assignments=tuple(assignments),
        objective_name=goal.name,
        objective=float(value),
        status="heuristic",
        solver="heuristic",
        elapsed_s=time.perf_counter() - started,
        notes=tuple(notes),
    )

"""The nouns of scheduling: machines with calendars, orders with routings, and schedules.

Times inside a problem are integers in the problem's time unit (``unit_s`` seconds; one minute for
plant orders, dimensionless for benchmark instances), counted from ``start_ns``; the edges turn
them into timestamps. Everything here is plain frozen data: solvers read it, nothing mutates it.

A routing is a chain: operation ``k + 1`` of an order starts after operation ``k`` ends. Each
operation names the machines that can do it (with a duration on each) and a setup family; a
machine switching from family ``a`` to family ``b`` needs ``setups[a, b]`` time units between the
two operations. A machine's ``blocked`` windows (off-shift, planned maintenance, breakdowns) are
time when no operation may run on it; operations are never split across a window. With a
``horizon``, every operation must end by it. A changeover is
a gap between two operations and may fall into a window (the setters' time is not modelled).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

OBJECTIVES = ("makespan", "tardiness", "mix")


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open interval ``[start, end)`` of time units, with why it is there."""

    start: int
    end: int
    reason: str = ""

    def overlaps(self, start: int, end: int) -> bool:
        return start < self.end and self.start < end


@dataclass(frozen=True, slots=True)
class Machine:
    id: str
    name: str = ""
    blocked: tuple[Window, ...] = ()

    def available_at(self, earliest: int, duration: int) -> int:
        """The first start ``>= earliest`` at which ``duration`` fits between blocked windows."""
        start = earliest
        for window in self.blocked:  # sorted by start
            if window.end <= start:
                continue
            if start + duration <= window.start:
                break
            start = max(start, window.end)
        return start

    def longest_gap(self, horizon: int | None) -> int | float:
        """The longest stretch without a blocked window before ``horizon`` (``None``: no end)."""
        longest, free_from = 0, 0
        for window in self.blocked:
            longest = max(longest, window.start - free_from)
            free_from = max(free_from, window.end)
        if horizon is None:
            return float("inf")
        return max(longest, horizon - free_from)


@dataclass(frozen=True, slots=True)
class Option:
    """One way to do an operation: on ``machine``, taking ``duration`` time units."""

    machine: str
    duration: int


@dataclass(frozen=True, slots=True)
class Operation:
    id: str
    options: tuple[Option, ...]
    family: str = ""

    def duration_on(self, machine: str) -> int | None:
        for option in self.options:
            if option.machine == machine:
                return option.duration
        return None

    @property
    def shortest(self) -> int:
        return min((o.duration for o in self.options), default=0)


@dataclass(frozen=True, slots=True)
class Order:
    """A job: operations done one after the other, not before ``release``, ideally by ``due``.

    ``weight`` is the priority: each time unit late costs ``weight`` in total weighted tardiness.
    """

    id: str
    operations: tuple[Operation, ...]
    release: int = 0
    due: int | None = None
    weight: int = 1
    product: str = ""
    options: Mapping[str, str] = field(default_factory=dict)
    quantity: int = 1


@dataclass(frozen=True, slots=True)
class Problem:
    name: str
    machines: tuple[Machine, ...]
    orders: tuple[Order, ...]
    setups: Mapping[tuple[str, str], int] = field(default_factory=dict)
    start_ns: int | None = None
    unit_s: float = 1.0
    horizon: int | None = None
    """Everything must end by then (``None``: no limit); calendars are expanded up to it."""
    products: Mapping[str, Any] = field(default_factory=dict)
    """The catalog (``werk.plan.variants.Product`` by id) new orders can be configured from."""

    def machine(self, machine_id: str) -> Machine:
        for machine in self.machines:
            if machine.id == machine_id:
                return machine
        raise KeyError(machine_id)

    def order(self, order_id: str) -> Order:
        for order in self.orders:
            if order.id == order_id:
                return order
        raise KeyError(order_id)

    def setup(self, before: str, after: str) -> int:
        """Changeover time from family ``before`` to ``after`` (0 unless the table says so)."""
        return self.setups.get((before, after), 0)

    @property
    def has_setups(self) -> bool:
        return any(v > 0 for v in self.setups.values())

    @property
    def operation_count(self) -> int:
        return sum(len(o.operations) for o in self.orders)

    @property
    def flexible(self) -> bool:
        return any(len(op.options) > 1 for o in self.orders for op in o.operations)

    def operations(self) -> Iterator[tuple[Order, int, Operation]]:
        for order in self.orders:
            for index, operation in enumerate(order.operations):
                yield order, index, operation

    def with_orders(self, orders: tuple[Order, ...]) -> Problem:
        return replace(self, orders=orders)

    def with_machines(self, machines: tuple[Machine, ...]) -> Problem:
        return replace(self, machines=machines)

    def to_ns(self, units: int) -> int | None:
        """A time in units -> ns since the epoch (``None`` for problems without a start)."""
        if self.start_ns is None:
            return None
        return self.start_ns + round(units * self.unit_s * 1_000_000_000)

    def to_units(self, ns: int) -> int:
        """A timestamp -> time units since the start, rounded down."""
        if self.start_ns is None:
            raise ValueError(f"problem {self.name!r} has no start time: give times in units")
        return (ns - self.start_ns) // round(self.unit_s * 1_000_000_000)


@dataclass(frozen=True, slots=True)
class Assignment:
    """Operation ``index`` of ``order`` runs on ``machine`` over ``[start, end)``."""

    order: str
    index: int
    operation: str
    machine: str
    start: int
    end: int
    setup: int = 0

    @property
    def key(self) -> tuple[str, int]:
        return self.order, self.index


@dataclass(frozen=True, slots=True)
class Progress:
    """An incumbent during a search: its objective, the proven bound, and the time it came."""

    elapsed_s: float
    objective: float
    bound: float | None

    @property
    def gap(self) -> float | None:
        return None if self.bound is None else relative_gap(self.objective, self.bound)


def relative_gap(objective: float, bound: float) -> float:
    if objective == bound:
        return 0.0
    return abs(objective - bound) / max(abs(objective), 1e-9)


@dataclass(frozen=True, slots=True)
class Schedule:
    """A solution: assignments plus what the solver knows about it.

    ``status`` is ``optimal`` (proven), ``feasible`` (a schedule, maybe not the best) or
    ``heuristic`` (a dispatching rule's answer, no bound). ``bound`` is the best proven lower
    bound on the objective (``None`` without one).
    """

    problem: str
    assignments: tuple[Assignment, ...]
    objective_name: str
    objective: float
    status: str
    solver: str
    bound: float | None = None
    elapsed_s: float = 0.0
    history: tuple[Progress, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def gap(self) -> float | None:
        return None if self.bound is None else relative_gap(self.objective, self.bound)

    def by_key(self) -> dict[tuple[str, int], Assignment]:
        return {a.key: a for a in self.assignments}

    def on_machine(self, machine: str) -> list[Assignment]:
        return sorted((a for a in self.assignments if a.machine == machine), key=lambda a: a.start)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Schedule:
        """Read what ``to_dict`` wrote (``werk plan solve --json``); other keys (``kpis``, ns
        times) are ignored. A missing or mistyped field raises ``ValidationError`` naming it."""
        from werk.core import ValidationError

        def need(row: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
            value = row.get(key)
            if isinstance(value, bool) or not isinstance(value, kind):
                raise ValidationError(
                    f"{where}.{key}: expected {kind.__name__}, got {value!r}",
                    field=f"{where}.{key}",
                    rule="required" if value is None else "type",
                )
            return value

        if not isinstance(raw, Mapping):
            raise ValidationError("a schedule is a JSON object", field="schedule", rule="type")
        rows = raw.get("assignments")
        if not isinstance(rows, list):
            raise ValidationError(
                "schedule.assignments: expected a list", field="schedule.assignments", rule="type"
            )
        assignments = []
        for i, row in enumerate(rows):
            where = f"schedule.assignments[{i}]"
            if not isinstance(row, Mapping):
                raise ValidationError(f"{where}: expected an object", field=where, rule="type")
            assignments.append(
                Assignment(
                    order=need(row, "order", str, where),
                    index=need(row, "index", int, where),
                    operation=str(row.get("operation", "")),
                    machine=need(row, "machine", str, where),
                    start=need(row, "start", int, where),
                    end=need(row, "end", int, where),
                    setup=int(row.get("setup") or 0),
                )
            )
        objective, bound = raw.get("objective"), raw.get("bound")
        return cls(
            problem=str(raw.get("problem", "")),
            assignments=tuple(assignments),
            objective_name=str(raw.get("objective_name", "makespan")),
            objective=float(objective) if isinstance(objective, int | float) else math.nan,
            status=str(raw.get("status", "feasible")),
            solver=str(raw.get("solver", "")),
            bound=float(bound) if isinstance(bound, int | float) else None,
            elapsed_s=float(raw.get("elapsed_s") or 0.0),
            notes=tuple(str(n) for n in raw.get("notes") or ()),
        )

    def to_dict(self, problem: Problem | None = None) -> dict[str, Any]:
        """JSON-ready; with ``problem`` (and its start time) each assignment also has ns times."""
        timed = problem is not None and problem.start_ns is not None

        def row(a: Assignment) -> dict[str, Any]:
            out: dict[str, Any] = {
                "order": a.order,
                "index": a.index,
                "operation": a.operation,
                "machine": a.machine,
                "start": a.start,
                "end": a.end,
                "setup": a.setup,
            }
            if timed:
                assert problem is not None
                out["start_ns"] = problem.to_ns(a.start)
                out["end_ns"] = problem.to_ns(a.end)
            return out

        return {
            "problem": self.problem,
            "objective_name": self.objective_name,
            "objective": self.objective,
            "bound": self.bound,
            "gap": self.gap,
            "status": self.status,
            "solver": self.solver,
            "elapsed_s": round(self.elapsed_s, 3),
            "notes": list(self.notes),
            "history": [
                {"elapsed_s": round(p.elapsed_s, 3), "objective": p.objective, "bound": p.bound}
                for p in self.history
            ],
            "assignments": [
                row(a) for a in sorted(self.assignments, key=lambda a: (a.start, a.machine))
            ],
        }

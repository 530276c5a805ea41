"""A fixed schedule executed under variability: how a plan from ``werk.plan`` fares on the floor.

**Policy.** Each machine runs the operations assigned to it in the planned sequence (by planned
start). An operation starts at the latest of: its planned start (unless ``early_start``: then as
soon as possible, still in the planned sequence), its routing predecessor's actual end, the
machine's actual free time plus the changeover the problem's table asks for, and its order's
release; from there it takes the first stretch of the machine's calendar its realised duration
fits into (the rule of ``Machine.available_at``): it never overlaps a blocked window.

**Why one pass is exact.** With the sequence on every machine fixed, this semi-active execution
is a longest-path computation on a directed acyclic graph: an operation's start depends only on
its routing predecessor and its machine predecessor. Both start no later than it in the plan, so
visiting operations once in planned-start order (ties broken by end, order and step, the same
key on every machine) computes every start from finished predecessors: no event queue, no SimPy,
and no approximation. The machine's calendar is searched with a cursor that only moves forward,
since the starts on one machine only grow.

**Variability.** Processing times and changeovers are multiplied by lognormal factors with mean 1
and coefficient of variation ``duration_cv`` / ``setup_cv``. A machine given ``failures`` fails
after an exponential operating time (mean ``mtbf``; an idle machine does not wear) and is
repaired in an exponential time (mean ``mttr``); an operation hit by a failure resumes after the
repair (preempt-resume), so its realised duration, repairs included, is what must fit the
calendar. Times are in the plan's units.

**Common random numbers.** The factors of operation ``k`` of order ``o`` in replication ``r`` are
row ``r`` of a stream seeded from ``(seed, o)``: the same numbers for the same operation in every
schedule of the problem, whichever machine runs it, and the first ``r`` replications do not
change when more are asked for. Failures come from one stream per replication and machine,
seeded from ``(seed, r, machine)``, in operating time. Two schedules simulated with one seed
therefore differ only by their decisions, and ``compare_schedules`` pairs them replication by
replication (the paired t-test of :mod:`werk.sim.experiment`).

The KPIs are ``werk.plan.kpi``'s: makespan, total weighted tardiness (``priority`` is the weight),
tardy orders, on-time rate, mean flow time (completion minus release) and, per machine,
utilisation (processing time, repairs excluded, over the time the calendar makes available
between 0 and the makespan).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from werk.core import ValidationError
from werk.plan.kpi import kpis as plan_kpis
from werk.plan.model import Problem, Schedule
from werk.sim.distributions import stream
from werk.sim.experiment import Difference, Estimate, json_number, paired_p

MAX_REPLICATIONS = 10_000
KPIS = ("makespan", "total_weighted_tardiness", "tardy_orders", "on_time_rate", "mean_flow_time")
RATE_CEILING = {"on_time_rate": 1.0}
DIGITS = 4  # figures in to_dict() are rounded to this many decimals

Progress = Callable[[int, int], None]  # (done, total)


# ------------------------------------------------------------------------------------------------
# inputs


@dataclass(frozen=True, slots=True)
class Failures:
    """A machine's breakdowns: mean operating time between failures and mean time to repair."""

    mtbf: float
    mttr: float

    def __post_init__(self) -> None:
        for name in ("mtbf", "mttr"):
            value = getattr(self, name)
            if not _finite(value) or value <= 0:
                raise ValidationError(
                    f"{name} must be a positive number of plan units, not {value!r}",
                    field=name,
                    rule="positive",
                )


@dataclass(frozen=True, slots=True)
class Variability:
    """How the floor differs from the plan.

    ``duration_cv``/``setup_cv``: coefficient of variation of the lognormal factor (mean 1) on
    each processing time and changeover (``setup_cv=None``: the same as ``duration_cv``).
    ``failures``: machine id -> ``Failures``. ``early_start``: start as soon as possible in the
    planned sequence instead of waiting for the planned start.
    """

    duration_cv: float = 0.1
    setup_cv: float | None = None
    failures: Mapping[str, Failures] = field(default_factory=dict)
    early_start: bool = False

    def __post_init__(self) -> None:
        for name in ("duration_cv", "setup_cv"):
            value = getattr(self, name)
            if value is None and name == "setup_cv":
                continue
            if not _finite(value) or value < 0:
                raise ValidationError(
                    f"{name} must be a finite number >= 0, not {value!r}",
                    field=f"variability.{name}",
                    rule="min",
                )
        for machine, failures in self.failures.items():
            if not isinstance(failures, Failures):
                raise ValidationError(
                    f"failures of {machine!r}: expected Failures(mtbf, mttr)",
                    field=f"variability.failures.{machine}",
                    rule="type",
                )

    @property
    def setup_spread(self) -> float:
        return self.duration_cv if self.setup_cv is None else self.setup_cv

    def to_dict(self) -> dict[str, Any]:
        return {
            "duration_cv": self.duration_cv,
            "setup_cv": self.setup_spread,
            "failures": {m: {"mtbf": f.mtbf, "mttr": f.mttr} for m, f in self.failures.items()},
            "early_start": self.early_start,
        }


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# ------------------------------------------------------------------------------------------------
# outputs


@dataclass(frozen=True, slots=True)
class Executed:
    """What operation ``index`` of ``order`` did in one replication (times in plan units).

    ``end - start = processing + repair``; ``setup`` is the realised changeover before it.
    """

    order: str
    index: int
    operation: str
    machine: str
    start: float
    end: float
    setup: float
    processing: float
    repair: float
    failures: int


@dataclass(frozen=True, slots=True)
class Figure:
    """One KPI: the plan's own (deterministic) value and the simulated mean with its 95 % CI."""

    plan: float | None
    estimate: Estimate
    ceiling: float = math.inf
    """The KPI's largest possible value (1 for a rate); every KPI here is at least 0."""

    def interval(self) -> tuple[float, float]:
        """The 95 % CI, clipped to the values the KPI can take (a rate of tardy orders that is
        nearly always 0 has a t-interval reaching below 0)."""
        low, high = self.estimate.low, self.estimate.high
        return max(low, 0.0), min(high, self.ceiling)

    def to_dict(self) -> dict[str, Any]:
        low, high = self.interval()
        return {
            "plan": self.plan,
            **_estimate_dict(self.estimate),
            "low": json_number(low, DIGITS),
            "high": json_number(high, DIGITS),
        }


@dataclass(frozen=True, slots=True)
class OrderRisk:
    """How likely an order is late (share of replications) and when it completes."""

    order: str
    due: int | None
    weight: int
    plan_completion: float
    completion: Estimate
    p_late: float
    mean_tardiness: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "order": self.order,
            "due": self.due,
            "weight": self.weight,
            "plan_completion": self.plan_completion,
            "completion": _estimate_dict(self.completion),
            "p_late": round(self.p_late, 4),
            "mean_tardiness": json_number(self.mean_tardiness, DIGITS),
        }


@dataclass(frozen=True)
class ScheduleSimulation:
    """The replications of one schedule, summarised.

    ``kpis``: KPI name -> ``Figure``; ``utilisation``: machine -> ``Figure``; ``orders``: every
    order, the riskiest first (probability late, then mean tardiness); ``values(kpi)``: the
    per-replication values (``utilisation.<machine>`` and ``completion.<order>`` too).
    """

    problem: str
    replications: int
    seed: int
    variability: Variability
    kpis: dict[str, Figure]
    utilisation: dict[str, Figure]
    orders: tuple[OrderRisk, ...]
    elapsed_s: float
    samples: Mapping[str, np.ndarray] = field(repr=False)

    def values(self, kpi: str) -> np.ndarray:
        if kpi not in self.samples:
            raise KeyError(kpi)
        return self.samples[kpi]

    def late(self, threshold: float = 0.0) -> list[OrderRisk]:
        """Orders late in more than ``threshold`` of the replications, the riskiest first."""
        return [o for o in self.orders if o.p_late > threshold]

    def to_dict(self) -> dict[str, Any]:
        return {
            "problem": self.problem,
            "replications": self.replications,
            "seed": self.seed,
            "variability": self.variability.to_dict(),
            "elapsed_s": round(self.elapsed_s, 3),
            "kpis": {name: figure.to_dict() for name, figure in self.kpis.items()},
            "utilisation": {m: figure.to_dict() for m, figure in self.utilisation.items()},
            "orders": [o.to_dict() for o in self.orders],
        }


def _estimate_dict(estimate: Estimate) -> dict[str, Any]:
    return {
        "mean": json_number(estimate.mean, DIGITS),
        "low": json_number(estimate.low, DIGITS),
        "high": json_number(estimate.high, DIGITS),
        "half_width": json_number(estimate.half_width, DIGITS),
        "n": estimate.n,
    }


# ------------------------------------------------------------------------------------------------
# the execution graph, compiled once per schedule


class _Plan:
    """The schedule as flat lists in execution order, ready for many replications."""

    def __init__(self, problem: Problem, schedule: Schedule) -> None:
        self.problem = problem
        placed = _check_matches(problem, schedule)
        order_pos = {o.id: i for i, o in enumerate(problem.orders)}
        orders = {o.id: o for o in problem.orders}
        machine_pos = {m.id: i for i, m in enumerate(problem.machines)}
        ranked = sorted(
            placed.values(), key=lambda a: (a.start, a.end, order_pos[a.order], a.index)
        )
        position = {a.key: i for i, a in enumerate(ranked)}
        self.assignments = ranked
        self.machine = [machine_pos[a.machine] for a in ranked]
        self.planned_start = [float(a.start) for a in ranked]
        self.release = [float(orders[a.order].release) for a in ranked]
        self.duration = np.zeros(len(ranked))
        self.setup = np.zeros(len(ranked))
        self.routing_previous = [-1] * len(ranked)
        self.machine_previous = [-1] * len(ranked)
        # where each operation's random factors sit among all the problem's, order by order
        flat = {(o.id, k): i for i, (o, k, _) in enumerate(problem.operations())}
        self.draw_at = np.array([flat[a.key] for a in ranked], dtype=int)
        last_on: dict[int, int] = {}
        family_on: dict[int, str] = {}
        for i, a in enumerate(ranked):
            operation = orders[a.order].operations[a.index]
            self.duration[i] = operation.duration_on(a.machine) or 0
            if a.index > 0:
                before = position[(a.order, a.index - 1)]
                if before > i:
                    raise ValidationError(
                        f"the schedule starts step {a.index} of order {a.order!r} at {a.start}, "
                        f"before step {a.index - 1} (at {ranked[before].start})",
                        field=f"schedule.{a.order}.{a.index}",
                        rule="routing-order",
                    )
                self.routing_previous[i] = before
            m = self.machine[i]
            if m in last_on:
                self.machine_previous[i] = last_on[m]
                self.setup[i] = problem.setup(family_on[m], operation.family)
            last_on[m], family_on[m] = i, operation.family
        self.windows = [
            sorted((float(w.start), float(w.end)) for w in machine.blocked)
            for machine in problem.machines
        ]
        self.window_starts = [np.array([w[0] for w in ws]) for ws in self.windows]
        self.window_ends = [np.array([w[1] for w in ws]) for ws in self.windows]
        self.last_of_order = np.array(
            [position[(o.id, len(o.operations) - 1)] for o in problem.orders if o.operations],
            dtype=int,
        )
        self.orders = [o for o in problem.orders if o.operations]
        self.due = np.array([math.nan if o.due is None else o.due for o in self.orders])
        self.weight = np.array([o.weight for o in self.orders], dtype=float)
        self.order_release = np.array([o.release for o in self.orders], dtype=float)


def _check_matches(problem: Problem, schedule: Schedule) -> dict[tuple[str, int], Any]:
    orders = {o.id: o for o in problem.orders}
    machines = {m.id for m in problem.machines}
    placed: dict[tuple[str, int], Any] = {}
    for i, a in enumerate(schedule.assignments):
        where = f"schedule.assignments[{i}]"
        order = orders.get(a.order)
        if order is None:
            raise ValidationError(
                f"the schedule names order {a.order!r}, which the problem does not have",
                field=f"{where}.order",
                rule="unknown-order",
            )
        if not 0 <= a.index < len(order.operations):
            raise ValidationError(
                f"order {a.order!r} has {len(order.operations)} steps; the schedule names step "
                f"{a.index}",
                field=f"{where}.index",
                rule="unknown-step",
            )
        if a.machine not in machines:
            raise ValidationError(
                f"the schedule puts {a.order}/{a.index} on machine {a.machine!r}, which the "
                "problem does not have",
                field=f"{where}.machine",
                rule="unknown-machine",
            )
        if order.operations[a.index].duration_on(a.machine) is None:
            raise ValidationError(
                f"machine {a.machine!r} cannot do step {a.index} of order {a.order!r}",
                field=f"{where}.machine",
                rule="not-eligible",
            )
        if a.key in placed:
            raise ValidationError(
                f"the schedule places step {a.index} of order {a.order!r} twice",
                field=where,
                rule="duplicate",
            )
        placed[a.key] = a
    missing = [f"{o.id}/{k}" for o, k, _ in problem.operations() if (o.id, k) not in placed]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise ValidationError(
            f"the schedule does not place {', '.join(missing[:5])}{more}: it is not a schedule "
            f"of problem {problem.name!r}",
            field="schedule.assignments",
            rule="missing-operation",
        )
    return placed


# ------------------------------------------------------------------------------------------------
# randomness


def _factors(
    problem: Problem, seed: int, replications: int, cv: float, purpose: str
) -> list[np.ndarray]:
    """Order position -> (replications x steps) lognormal factors with mean 1 (CRN by order)."""
    sigma = math.sqrt(math.log1p(cv * cv))
    out = []
    for order in problem.orders:
        normal = stream(seed, f"{purpose}:{order.id}").standard_normal(
            (replications, len(order.operations))
        )
        out.append(np.exp(sigma * normal - sigma * sigma / 2) if cv > 0 else np.ones_like(normal))
    return out


class _Breakdowns:
    """One machine's failures in one replication, counted in its operating time."""

    BLOCK = 64

    __slots__ = ("draws", "failures", "left", "next", "repair", "rng")

    def __init__(self, failures: Failures, rng: np.random.Generator) -> None:
        self.rng, self.failures = rng, failures
        self.draws: list[tuple[float, float]] = []
        self.next = 0
        # operating time left before the next failure, and how long that failure's repair takes
        self.left, self.repair = self._draw()

    def _draw(self) -> tuple[float, float]:
        if self.next == len(self.draws):
            block = self.rng.standard_exponential((self.BLOCK, 2))
            block[:, 0] *= self.failures.mtbf
            block[:, 1] *= self.failures.mttr
            self.draws = [(float(a), float(b)) for a, b in block]
            self.next = 0
        draw = self.draws[self.next]
        self.next += 1
        return draw

    def repairs(self, processing: float) -> tuple[float, int]:
        """Repair time and failures while the machine processes for ``processing`` units."""
        repair, count = 0.0, 0
        while processing > self.left:
            processing -= self.left
            repair += self.repair
            count += 1
            self.left, self.repair = self._draw()
        self.left -= processing
        return repair, count


# ------------------------------------------------------------------------------------------------
# one replication


@dataclass(slots=True)
class _Run:
    start: np.ndarray
    end: np.ndarray
    setup: np.ndarray
    processing: np.ndarray
    repair: np.ndarray
    failures: np.ndarray


def _replicate(
    plan: _Plan,
    variability: Variability,
    duration_factor: np.ndarray,
    setup_factor: np.ndarray,
    breakdowns: dict[int, _Breakdowns],
) -> _Run:
    n = len(plan.assignments)
    processing = (plan.duration * duration_factor).tolist()
    setups = (plan.setup * setup_factor).tolist()
    starts, ends = [0.0] * n, [0.0] * n
    repairs, failures = [0.0] * n, [0] * n
    cursor = [0] * len(plan.windows)
    windows = plan.windows
    early = variability.early_start
    machine_of, routing_previous, machine_previous = (
        plan.machine,
        plan.routing_previous,
        plan.machine_previous,
    )
    for i in range(n):
        earliest = plan.release[i]
        if not early and plan.planned_start[i] > earliest:
            earliest = plan.planned_start[i]
        before = routing_previous[i]
        if before >= 0 and ends[before] > earliest:
            earliest = ends[before]
        m = machine_of[i]
        before = machine_previous[i]
        if before >= 0 and ends[before] + setups[i] > earliest:
            earliest = ends[before] + setups[i]
        occupied = processing[i]
        clock = breakdowns.get(m)
        if clock is not None:
            repairs[i], failures[i] = clock.repairs(occupied)
            occupied += repairs[i]
        # Machine.available_at, with a cursor: the starts on one machine only grow
        start, blocked, c = earliest, windows[m], cursor[m]
        while c < len(blocked) and blocked[c][1] <= start:
            c += 1
        cursor[m] = c
        while c < len(blocked):
            w_start, w_end = blocked[c]
            if w_end > start:
                if start + occupied <= w_start:
                    break
                start = w_end
            c += 1
        starts[i], ends[i] = start, start + occupied
    return _Run(
        np.array(starts),
        np.array(ends),
        np.array(setups),
        np.array(processing),
        np.array(repairs),
        np.array(failures, dtype=int),
    )


class _Draws:
    """The random numbers of all replications for one problem, seed and variability."""

    def __init__(
        self, problem: Problem, variability: Variability, replications: int, seed: int
    ) -> None:
        self.problem, self.variability, self.seed = problem, variability, seed
        self.duration = _factors(problem, seed, replications, variability.duration_cv, "duration")
        self.setup = _factors(problem, seed, replications, variability.setup_spread, "setup")
        self.machine_pos = {m.id: i for i, m in enumerate(problem.machines)}

    def for_replication(
        self, plan: _Plan, r: int
    ) -> tuple[np.ndarray, np.ndarray, dict[int, _Breakdowns]]:
        duration = np.concatenate([f[r] for f in self.duration])[plan.draw_at]
        setup = np.concatenate([f[r] for f in self.setup])[plan.draw_at]
        breakdowns = {
            self.machine_pos[m]: _Breakdowns(f, stream(self.seed, r, f"failure:{m}"))
            for m, f in self.variability.failures.items()
        }
        return duration, setup, breakdowns


# ------------------------------------------------------------------------------------------------
# the public functions


def _validate(problem: Problem, variability: Variability, replications: int, seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValidationError(
            f"seed must be a whole number >= 0, not {seed!r}", field="seed", rule="min"
        )
    if (
        isinstance(replications, bool)
        or not isinstance(replications, int)
        or not 1 <= replications <= MAX_REPLICATIONS
    ):
        raise ValidationError(
            f"replications must be a whole number from 1 to {MAX_REPLICATIONS}, not "
            f"{replications!r}",
            field="replications",
            rule="range",
        )
    machines = {m.id for m in problem.machines}
    for machine in variability.failures:
        if machine not in machines:
            raise ValidationError(
                f"failures for machine {machine!r}, which problem {problem.name!r} does not have"
                f" (machines: {', '.join(sorted(machines))})",
                field=f"variability.failures.{machine}",
                rule="unknown-machine",
            )


def execute(
    problem: Problem,
    schedule: Schedule,
    variability: Variability | None = None,
    *,
    replication: int = 0,
    seed: int = 0,
) -> list[Executed]:
    """What replication ``replication`` of ``simulate`` (same seed) did, operation by operation,
    in execution order."""
    variability = variability or Variability()
    if replication < 0:
        raise ValidationError(
            f"replication counts from 0, not {replication}", field="replication", rule="min"
        )
    _validate(problem, variability, replication + 1, seed)
    plan = _Plan(problem, schedule)
    draws = _Draws(problem, variability, replication + 1, seed)
    run = _replicate(plan, variability, *draws.for_replication(plan, replication))
    return [
        Executed(
            a.order,
            a.index,
            a.operation,
            a.machine,
            float(run.start[i]),
            float(run.end[i]),
            float(run.setup[i]),
            float(run.processing[i]),
            float(run.repair[i]),
            int(run.failures[i]),
        )
        for i, a in enumerate(plan.assignments)
    ]


def simulate(
    problem: Problem,
    schedule: Schedule,
    variability: Variability | None = None,
    replications: int = 30,
    seed: int = 0,
    progress: Progress | None = None,
) -> ScheduleSimulation:
    """Execute ``schedule`` ``replications`` times under ``variability`` (see the module's
    docstring for the policy) and summarise each KPI beside the plan's own value.

    Raises ``ValidationError`` (``field``, ``rule``) for bad settings and for a schedule that is
    not one of ``problem`` (unknown order, step or machine; a step missing or placed twice).
    """
    started = time.perf_counter()
    variability = variability or Variability()
    _validate(problem, variability, replications, seed)
    plan = _Plan(problem, schedule)
    draws = _Draws(problem, variability, replications, seed)
    machines = [m.id for m in problem.machines]
    columns: dict[str, list[float]] = {k: [] for k in KPIS}
    for m in machines:
        columns[f"utilisation.{m}"] = []
    completions = np.zeros((replications, len(plan.orders)))
    for r in range(replications):
        run = _replicate(plan, variability, *draws.for_replication(plan, r))
        completions[r] = run.end[plan.last_of_order]
        for name, value in _figures(plan, run, completions[r]).items():
            columns[name].append(value)
        if progress is not None:
            progress(r + 1, replications)
    samples = {name: np.array(values, dtype=float) for name, values in columns.items()}
    for j, order in enumerate(plan.orders):
        samples[f"completion.{order.id}"] = completions[:, j]
    return _summarise(
        plan, schedule, variability, replications, seed, samples, completions, started
    )


def _figures(plan: _Plan, run: _Run, completion: np.ndarray) -> dict[str, float]:
    span = float(run.end.max(initial=0.0))
    has_due = ~np.isnan(plan.due)
    lateness = completion[has_due] - plan.due[has_due]
    weights = plan.weight[has_due]
    out = {
        "makespan": span,
        "total_weighted_tardiness": float((weights * np.maximum(lateness, 0.0)).sum()),
        "tardy_orders": float((lateness > 0).sum()),
        "on_time_rate": float((lateness <= 0).mean()) if len(lateness) else math.nan,
        "mean_flow_time": float((completion - plan.order_release).mean())
        if len(completion)
        else math.nan,
    }
    busy = np.bincount(plan.machine, weights=run.processing, minlength=len(plan.windows))
    for m, machine in enumerate(plan.problem.machines):
        starts, ends = plan.window_starts[m], plan.window_ends[m]
        blocked = float(np.maximum(np.minimum(ends, span) - np.maximum(starts, 0.0), 0.0).sum())
        available = span - blocked
        out[f"utilisation.{machine.id}"] = float(busy[m] / available) if available > 0 else 0.0
    return out


def _summarise(
    plan: _Plan,
    schedule: Schedule,
    variability: Variability,
    replications: int,
    seed: int,
    samples: dict[str, np.ndarray],
    completions: np.ndarray,
    started: float,
) -> ScheduleSimulation:
    problem, due = plan.problem, plan.due
    planned = plan_kpis(problem, schedule)
    figures = {
        name: Figure(
            planned.get(name), Estimate.of(samples[name]), RATE_CEILING.get(name, math.inf)
        )
        for name in KPIS
    }
    utilisation = {
        m.id: Figure(
            planned["utilisation"].get(m.id), Estimate.of(samples[f"utilisation.{m.id}"]), 1.0
        )
        for m in problem.machines
    }
    plan_end: dict[str, int] = {}
    for a in schedule.assignments:
        plan_end[a.order] = max(plan_end.get(a.order, 0), a.end)
    orders = []
    for j, order in enumerate(plan.orders):
        column = completions[:, j]
        tardiness = np.zeros_like(column) if math.isnan(due[j]) else np.maximum(column - due[j], 0)
        orders.append(
            OrderRisk(
                order=order.id,
                due=order.due,
                weight=order.weight,
                plan_completion=float(plan_end.get(order.id, 0)),
                completion=Estimate.of(column),
                p_late=float((tardiness > 0).mean()),
                mean_tardiness=float(tardiness.mean()),
            )
        )
    orders.sort(key=lambda o: (-o.p_late, -o.weight * o.mean_tardiness, o.order))
    return ScheduleSimulation(
        problem=problem.name,
        replications=replications,
        seed=seed,
        variability=variability,
        kpis=figures,
        utilisation=utilisation,
        orders=tuple(orders),
        elapsed_s=time.perf_counter() - started,
        samples=samples,
    )


def compare_schedules(
    problem: Problem,
    a: Schedule,
    b: Schedule,
    variability: Variability | None = None,
    replications: int = 30,
    seed: int = 0,
    kpis: Sequence[str] = KPIS,
) -> list[Difference]:
    """``b - a`` for each KPI over the same replications (common random numbers), with the
    paired t-test's p-value: e.g. the plan in force (``a``) against a repaired one (``b``)."""
    first = simulate(problem, a, variability, replications, seed)
    second = simulate(problem, b, variability, replications, seed)
    return differences(first, second, kpis)


def differences(
    a: ScheduleSimulation, b: ScheduleSimulation, kpis: Iterable[str] = KPIS
) -> list[Difference]:
    """Paired ``b - a`` per KPI of two simulations run with the same seed."""
    out = []
    for kpi in kpis:
        x, y = a.values(kpi), b.values(kpi)
        n = min(len(x), len(y))
        x, y = x[:n], y[:n]
        keep = ~(np.isnan(x) | np.isnan(y))
        diff = y[keep] - x[keep]
        out.append(
            Difference(
                kpi,
                float(x[keep].mean()) if keep.any() else math.nan,
                float(y[keep].mean()) if keep.any() else math.nan,
                Estimate.of(diff),
                paired_p(diff),
            )
        )
    return out

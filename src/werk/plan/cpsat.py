"""The CP-SAT model: flexible job shop with setups, calendars, release dates and due dates.

One interval per operation (start, end shared by optional intervals, one per eligible machine, of
which exactly one is present), a no-overlap per machine that also holds its blocked windows as
fixed intervals, a circuit per machine for sequence-dependent changeovers (only where the problem
has them), and precedence along each routing. Objectives: makespan, total weighted tardiness or
``makespan_weight * makespan + tardiness_weight * tardiness``.

What werk adds to the textbook model:

- a **warm start**: the best dispatching-rule schedule is given as a complete hint, so the first
  incumbent arrives at once and is never worse than the heuristic; on classic job shops
  (makespan, one machine per step, no changeovers or calendars) a tabu search
  (``werk.plan.tabu``) first improves it for up to ``tabu_share`` of the time limit, which on
  225-operation shops is where nearly all the improvement within seconds comes from;
- **tight domains**: for makespan, the warm start's makespan bounds every end; heads (release plus
  the shortest work before) and tails (the shortest work after) bound each start;
- **fixed operations and stability** for repairs: a frozen part is pinned, and moving anything
  else away from a reference schedule costs ``stability_weight`` per time unit moved and per
  machine changed.

Raises ``MissingExtraError`` (extra ``plan``) without OR-Tools; ``Infeasible`` with reasons when
the checks find a problem or CP-SAT proves there is no schedule.
"""

from __future__ import annotations

import importlib
import itertools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from werk.core import MissingExtraError
from werk.plan.check import require_feasible
from werk.plan.errors import Infeasible, Issue
from werk.plan.heuristic import solve_heuristic
from werk.plan.kpi import Objective
from werk.plan.model import Assignment, Problem, Progress, Schedule

ProgressCallback = Callable[[Progress], None]


def require_ortools() -> Any:
    """The ``ortools.sat.python.cp_model`` module, or ``MissingExtraError`` naming the extra."""
    try:
        return importlib.import_module("ortools.sat.python.cp_model")
    except ImportError as error:
        raise MissingExtraError("ortools", "plan") from error


@dataclass(frozen=True, slots=True)
class SolveOptions:
    time_limit_s: float = 10.0
    workers: int = 2
    warm_start: bool = True
    heuristic_budget_s: float = 0.0
    seed: int = 0
    stop_after_first: bool = False
    tabu_share: float = 0.8
    """Of the time limit, the share the tabu search may take first where it applies
    (``werk.plan.tabu``: classic job shops, makespan); 0 turns it off."""


def solve(
    problem: Problem,
    objective: Objective | str = "makespan",
    options: SolveOptions | None = None,
    *,
    fixed: Sequence[Assignment] = (),
    not_before: int = 0,
    warm: Schedule | None = None,
    reference: Schedule | None = None,
    objective_limit: int | None = None,
    on_progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
) -> Schedule:
    """Solve with CP-SAT; returns the best schedule found within the time limit.

    ``fixed`` operations stay as they are, the others start at ``not_before`` or later. ``warm``
    replaces the dispatching-rule warm start. With a ``reference`` schedule, the search keeps
    the objective at ``objective_limit`` or better and moves as little as it can from it.
    """
    cp_model = require_ortools()
    options = options or SolveOptions()
    goal = objective if isinstance(objective, Objective) else Objective(objective)
    warnings = require_feasible(problem)
    started = time.perf_counter()
    if warm is None and options.warm_start:
        warm = solve_heuristic(
            problem,
            goal,
            budget_s=options.heuristic_budget_s,
            seed=options.seed,
            fixed=fixed,
            not_before=not_before,
        )
    history: list[Progress] = []

    def found(objective: float) -> None:  # an incumbent before CP-SAT's own
        history.append(Progress(time.perf_counter() - started, objective, None))
        if on_progress is not None:
            on_progress(history[-1])

    if warm is not None and not reference:
        found(warm.objective)
    if warm is not None and _tabu_applies(problem, goal, options, fixed, not_before, reference):
        from werk.plan import tabu  # here: importing numba takes a few tenths of a second

        # Where CP-SAT can prove the optimum (see _tune), a search that has stopped finding
        # better schedules hands over early: the proof needs the time more.
        small = problem.operation_count <= PROOF_SIZE
        patience = TABU_PATIENCE_PER_OPERATION * problem.operation_count if small else 0
        warm = tabu.improve(
            problem,
            warm,
            options.tabu_share * options.time_limit_s,
            workers=options.workers,
            seed=options.seed,
            patience=patience,
            stop=stop,
            on_best=found,
        )
    built = _Builder(cp_model, problem, goal, fixed, not_before, warm).build(
        reference, objective_limit
    )
    solver = cp_model.CpSolver()
    params = solver.parameters
    params.max_time_in_seconds = max(0.01, options.time_limit_s - (time.perf_counter() - started))
    params.num_workers = options.workers
    params.random_seed = options.seed
    _tune(params, problem, goal, reference, built.restricted or built.arcs > PROBING_ARCS)
    params.log_search_progress = True
    params.log_to_stdout = False
    log: list[str] = []
    solver.log_callback = log.append
    # a repair's second phase minimises movement: its incumbents are not the objective's
    watching = reference is None
    callback = _Incumbents(
        cp_model,
        started,
        history if watching else [],
        on_progress if watching else None,
        options.stop_after_first,
        stop,
    )
    status = solver.Solve(built.model, callback)
    elapsed = time.perf_counter() - started
    name = solver.StatusName(status)
    notes = [i.message for i in warnings]
    hinted = any("complete_hint" in line or "[hint]" in line for line in log)
    if warm is not None:
        origin = (
            warm.notes[0] if warm.solver in ("heuristic", "tabu") and warm.notes else warm.solver
        )
        notes.append(
            f"warm start: {origin}, objective {warm.objective:g}"
            + ("" if hinted else " (CP-SAT did not report using the hint)")
        )
    if name == "MODEL_INVALID":  # a bug in the model builder, not the user's doing
        raise RuntimeError(f"CP-SAT rejected the model: {built.model.Validate()}")
    if name == "INFEASIBLE":
        raise Infeasible(
            [
                Issue(
                    "cp-sat-infeasible",
                    "CP-SAT proved that no schedule meets every constraint, though the checks "
                    "found no single cause: the combination of calendars, fixed operations and "
                    "the planning horizon leaves no room (try a longer horizon or fewer fixed "
                    "operations)",
                )
            ]
        )
    if name not in ("OPTIMAL", "FEASIBLE"):
        if warm is None:
            raise Infeasible(
                [
                    Issue(
                        "no-solution",
                        f"CP-SAT found no schedule in {options.time_limit_s:g} s "
                        f"({name.lower()}); allow more time or use the heuristic",
                    )
                ]
            )
        notes.append(
            f"CP-SAT found nothing in {options.time_limit_s:g} s ({name.lower()}): "
            "this is the heuristic's schedule"
        )
        return _replace_meta(warm, elapsed_s=elapsed, notes=notes, history=history)
    assignments = built.read(solver)
    value = goal.value(problem, assignments)
    bound = None if reference is not None else float(solver.BestObjectiveBound())
    if built.restricted:
        bound = None
        notes.append(
            f"large problem: changeover sequences limited to neighbours in the warm start "
            f"(more than {ARC_BUDGET} arcs a machine); no proven bound"
        )
    if warm is not None and warm.objective < value and reference is None:
        # a hint CP-SAT could not use, and a worse answer in the time: keep the better one
        notes.append("CP-SAT's best was worse than the warm start; kept the warm start")
        return _replace_meta(warm, elapsed_s=elapsed, notes=notes, history=history, bound=bound)
    optimal = name == "OPTIMAL" and reference is None and not built.restricted
    return Schedule(
        problem=problem.name,
        assignments=tuple(assignments),
        objective_name=goal.name,
        objective=float(value),
        status="optimal" if optimal else "feasible",
        solver="cp-sat",
        bound=bound,
        elapsed_s=elapsed,
        history=tuple(history),
        notes=tuple(notes),
    )


def _tabu_applies(
    problem: Problem,
    goal: Objective,
    options: SolveOptions,
    fixed: Sequence[Assignment],
    not_before: int,
    reference: Schedule | None,
) -> bool:
    if options.tabu_share <= 0 or options.stop_after_first or fixed or not_before:
        return False
    if reference is not None:
        return False
    if goal.name != "makespan":
        return False  # before importing numba, which takes a few tenths of a second
    from werk.plan import tabu

    return tabu.applies(problem, goal.name)


ARC_BUDGET = 2_500
"""Changeover arcs per machine before the circuit is restricted to neighbours (see below)."""
PROBING_ARCS = 5_000
"""Past this many changeover arcs, presolve probing costs more than it gives (see ``_tune``)."""
PROOF_SIZE = 150
"""Up to this many operations, a makespan search spends its full-problem worker on proving."""
TABU_PATIENCE_PER_OPERATION = 500
"""Steps without a new best, per operation, after which the tabu search hands a small problem
to CP-SAT (ft10: 50,000 steps, about 0.1 s)."""
GENERIC_NEIGHBOURHOODS = (
    "feasibility_pump",
    "graph_arc_lns",
    "graph_cst_lns",
    "graph_dec_lns",
    "graph_var_lns",
    "rnd_cst_lns",
    "rnd_var_lns",
    "ls",
)


def _tune(
    params: Any, problem: Problem, goal: Objective, reference: Schedule | None, big: bool
) -> None:
    """With few workers CP-SAT runs one full-problem worker beside its neighbourhood searches.
    On small makespan problems that worker is best spent on ``lb_tree_search``, whose lower
    bounds close the gap (ft10 proven in seconds, where the default stalls at a bound of 809),
    and the one thread left for neighbourhood search goes to the scheduling neighbourhoods, which
    find the improvements on job shops (ft10, 4 seeds at a load of 2: proven in 3.8-7.0 s, against
    4.4-7.7 s with all neighbourhoods). On large ones the default settings did best (ta01-ta05,
    2 seeds: mean 1226.6 against 1236.3 with only the scheduling neighbourhoods).
    """
    if (
        params.num_workers <= 4
        and goal.name == "makespan"
        and reference is None
        and problem.operation_count <= PROOF_SIZE
    ):
        params.subsolvers.append("lb_tree_search")
        params.ignore_subsolvers.extend(GENERIC_NEIGHBOURHOODS)
    if big or problem.operation_count > 4 * PROOF_SIZE:
        # Probing tens of thousands of changeover arcs in presolve took the whole time limit
        # (200 orders: 5 s, then no search at all); without it the warm start is the first
        # incumbent within a second and the search improves it.
        params.cp_model_probing_level = 0


def _replace_meta(schedule: Schedule, **changes: Any) -> Schedule:
    from dataclasses import replace

    if "notes" in changes:
        changes["notes"] = tuple(schedule.notes) + tuple(changes["notes"])
    if "history" in changes:
        changes["history"] = tuple(changes["history"])
    return replace(schedule, **changes)


class _Incumbents:
    """CP-SAT's solution callback: records objective and bound of each incumbent."""

    def __new__(cls, cp_model: Any, *args: Any) -> Any:
        class Callback(cp_model.CpSolverSolutionCallback):  # type: ignore[misc]
            def __init__(
                self,
                started: float,
                history: list[Progress],
                on_progress: ProgressCallback | None,
                stop_after_first: bool,
                stop: threading.Event | None,
            ) -> None:
                super().__init__()
                self.started = started
                self.history = history
                self.on_progress = on_progress
                self.stop_after_first = stop_after_first
                self.stop = stop

            def on_solution_callback(self) -> None:
                progress = Progress(
                    time.perf_counter() - self.started,
                    float(self.ObjectiveValue()),
                    float(self.BestObjectiveBound()),
                )
                self.history.append(progress)
                if self.on_progress is not None:
                    self.on_progress(progress)
                if self.stop_after_first or (self.stop is not None and self.stop.is_set()):
                    self.StopSearch()

        return Callback(*args)


@dataclass
class _Built:
    model: Any
    read: Callable[[Any], list[Assignment]]
    restricted: bool = False
    arcs: int = 0


class _Builder:
    def __init__(
        self,
        cp_model: Any,
        problem: Problem,
        goal: Objective,
        fixed: Sequence[Assignment],
        not_before: int,
        warm: Schedule | None,
    ) -> None:
        self.cp = cp_model
        self.problem = problem
        self.goal = goal
        self.fixed = {a.key: a for a in fixed}
        self.not_before = not_before
        self.warm = warm.by_key() if warm is not None else {}
        self.horizon = self._horizon(warm)
        self.arcs: dict[tuple[str, tuple[str, int] | None, tuple[str, int] | None], Any] = {}
        # helper variables, kept so that the warm start can hint every variable of the model
        self.idle: dict[str, Any] = {}
        self.makespan: Any = None
        self.lateness: dict[str, Any] = {}
        self.shifts: dict[tuple[str, int], tuple[Any, int]] = {}
        self.restricted = False

    def _horizon(self, warm: Schedule | None) -> int:
        """An upper bound on every end: for makespan the warm start's makespan; else a safe one."""
        problem = self.problem
        if warm is not None and self.goal.name == "makespan":
            return max((a.end for a in warm.assignments), default=0)
        if problem.horizon is not None:
            return problem.horizon
        longest = sum(
            max(o.duration for o in op.options) for _, _, op in problem.operations() if op.options
        )
        setups = max(problem.setups.values(), default=0) * problem.operation_count
        blocked = max(
            (max((w.end for w in m.blocked), default=0) for m in problem.machines), default=0
        )
        fixed_end = max((a.end for a in self.fixed.values()), default=0)
        start = max([o.release for o in problem.orders] + [self.not_before, fixed_end, blocked])
        return start + longest + setups + 1

    def build(self, reference: Schedule | None, objective_limit: int | None) -> _Built:
        problem, model = self.problem, self.cp.CpModel()
        horizon = self.horizon
        starts: dict[tuple[str, int], Any] = {}
        ends: dict[tuple[str, int], Any] = {}
        chosen: dict[tuple[str, int], dict[str, Any]] = {}
        per_machine: dict[str, list[tuple[tuple[str, int], Any, Any, str]]] = {
            m.id: [] for m in problem.machines
        }
        order_ends = []
        for order in problem.orders:
            ops = order.operations
            head = order.release
            tails = [0] * (len(ops) + 1)
            for k in range(len(ops) - 1, -1, -1):
                tails[k] = tails[k + 1] + ops[k].shortest
            for k, operation in enumerate(ops):
                key = (order.id, k)
                pinned = self.fixed.get(key)
                low = head if pinned is None else pinned.start
                if pinned is None:
                    low = max(low, self.not_before)
                high = horizon - tails[k] if pinned is None else pinned.start
                high = max(high, low)
                start = model.NewIntVar(low, high, f"s_{order.id}_{k}")
                end = model.NewIntVar(
                    low + operation.shortest,
                    max(
                        high + max(o.duration for o in operation.options), low + operation.shortest
                    ),
                    f"e_{order.id}_{k}",
                )
                starts[key], ends[key] = start, end
                options = operation.options
                if pinned is not None:
                    options = tuple(o for o in options if o.machine == pinned.machine)
                literals = {}
                for option in options:
                    if len(options) == 1:
                        present = model.NewConstant(1)
                        interval = model.NewIntervalVar(
                            start, option.duration, end, f"i_{order.id}_{k}"
                        )
                    else:
                        present = model.NewBoolVar(f"p_{order.id}_{k}_{option.machine}")
                        interval = model.NewOptionalIntervalVar(
                            start,
                            option.duration,
                            end,
                            present,
                            f"i_{order.id}_{k}_{option.machine}",
                        )
                    literals[option.machine] = present
                    per_machine[option.machine].append((key, interval, present, operation.family))
                if len(options) > 1:
                    model.AddExactlyOne(literals.values())
                chosen[key] = literals
                if k > 0:
                    model.Add(start >= ends[(order.id, k - 1)])
                head = head + operation.shortest
            if ops:
                order_ends.append((order, ends[(order.id, len(ops) - 1)]))

        for machine in problem.machines:
            entries = per_machine[machine.id]
            blocked = [
                model.NewFixedSizeIntervalVar(w.start, w.end - w.start, f"b_{machine.id}_{i}")
                for i, w in enumerate(machine.blocked)
                if w.end > w.start and w.end > 0 and w.start < horizon
            ]
            model.AddNoOverlap([e[1] for e in entries] + blocked)
            if problem.has_setups and len(entries) > 1:
                self._changeovers(model, machine.id, entries, starts, ends)

        self._objective(model, order_ends, horizon, chosen, starts, reference, objective_limit)
        self._hint(model, starts, ends, chosen)

        def read(solver: Any) -> list[Assignment]:
            out = []
            for order in problem.orders:
                for k, operation in enumerate(order.operations):
                    key = (order.id, k)
                    machine = next(m for m, lit in chosen[key].items() if solver.BooleanValue(lit))
                    out.append(
                        Assignment(
                            order.id,
                            k,
                            operation.id,
                            machine,
                            solver.Value(starts[key]),
                            solver.Value(ends[key]),
                        )
                    )
            return with_setups(problem, out)

        return _Built(model, read, self.restricted, len(self.arcs))

    def _changeovers(
        self,
        model: Any,
        machine: str,
        entries: list[tuple[tuple[str, int], Any, Any, str]],
        starts: Mapping[tuple[str, int], Any],
        ends: Mapping[tuple[str, int], Any],
    ) -> None:
        """A circuit over the machine's operations: an arc i -> j means j directly follows i.

        A full circuit has n^2 arcs. Past ``ARC_BUDGET`` per machine, arcs join only operations
        within a window of each other in the warm start's order (plus the warm start's own
        sequence): a restricted model that scales to hundreds of operations per machine, whose
        bound is then no bound on the full problem (``solve`` drops it and says so).
        """
        problem = self.problem
        n = len(entries)
        window = n
        position = {key: i for i, (key, _, _, _) in enumerate(entries)}
        wanted: set[tuple[tuple[str, int], tuple[str, int]]] = set()
        if n * n > ARC_BUDGET and self.warm:
            window = max(4, ARC_BUDGET // (2 * n))
            self.restricted = True
            by_start = sorted(position, key=lambda key: (self.warm[key].start, key))
            position = {key: rank for rank, key in enumerate(by_start)}
            on_machine = [key for key in by_start if self.warm[key].machine == machine]
            wanted = set(itertools.pairwise(on_machine))
        arcs = []
        for i, (key_i, _, present_i, family_i) in enumerate(entries):
            first = model.NewBoolVar("")
            last = model.NewBoolVar("")
            arcs.append((0, i + 1, first))
            arcs.append((i + 1, 0, last))
            arcs.append((i + 1, i + 1, present_i.Not()))
            self.arcs[(machine, None, key_i)] = first
            self.arcs[(machine, key_i, None)] = last
            for j, (key_j, _, _, family_j) in enumerate(entries):
                if i == j or (key_i[0] == key_j[0] and key_j[1] < key_i[1]):
                    continue  # an earlier step of the same order cannot follow
                if abs(position[key_i] - position[key_j]) > window and (key_i, key_j) not in wanted:
                    continue
                follows = model.NewBoolVar("")
                arcs.append((i + 1, j + 1, follows))
                gap = problem.setup(family_i, family_j)
                model.Add(starts[key_j] >= ends[key_i] + gap).OnlyEnforceIf(follows)
                self.arcs[(machine, key_i, key_j)] = follows
        # node 0 looping on itself: nothing at all runs on this machine
        self.idle[machine] = model.NewBoolVar(f"idle_{machine}")
        arcs.append((0, 0, self.idle[machine]))
        model.AddCircuit(arcs)

    def _objective(
        self,
        model: Any,
        order_ends: list[tuple[Any, Any]],
        horizon: int,
        chosen: Mapping[tuple[str, int], Mapping[str, Any]],
        starts: Mapping[tuple[str, int], Any],
        reference: Schedule | None,
        objective_limit: int | None,
    ) -> None:
        goal = self.goal
        terms: list[Any] = []
        if goal.name in ("makespan", "mix"):
            makespan = self.makespan = model.NewIntVar(0, horizon, "makespan")
            model.AddMaxEquality(makespan, [end for _, end in order_ends] or [0])
            terms.append((goal.makespan_weight if goal.name == "mix" else 1) * makespan)
        if goal.name in ("tardiness", "mix"):
            late_terms = []
            for order, end in order_ends:
                if order.due is None or order.weight == 0:
                    continue
                late = model.NewIntVar(0, max(0, horizon - order.due), f"t_{order.id}")
                self.lateness[order.id] = late
                model.AddMaxEquality(late, [0, end - order.due])
                late_terms.append(order.weight * late)
            weight = goal.tardiness_weight if goal.name == "mix" else 1
            terms.append(weight * sum(late_terms) if late_terms else 0)
        base = sum(terms)
        if reference is None:
            model.Minimize(base)
            return
        if objective_limit is not None:
            model.Add(base <= objective_limit)
        # a repair: minimise what moves (time units, plus a machine change costing the average
        # duration) among the schedules at least as good as the limit
        durations = [o.duration for _, _, op in self.problem.operations() for o in op.options]
        change_cost = max(1, sum(durations) // max(1, len(durations)))
        moved: list[Any] = []
        for a in reference.assignments:
            key = a.key
            if key in self.fixed or key not in starts:
                continue
            shift = model.NewIntVar(0, horizon, "")
            self.shifts[key] = (shift, a.start)
            model.AddAbsEquality(shift, starts[key] - a.start)
            moved.append(shift)
            literal = chosen[key].get(a.machine)
            if literal is not None and len(chosen[key]) > 1:
                moved.append(change_cost * literal.Not())
        model.Minimize(sum(moved))

    def _hint(
        self,
        model: Any,
        starts: Mapping[tuple[str, int], Any],
        ends: Mapping[tuple[str, int], Any],
        chosen: Mapping[tuple[str, int], Mapping[str, Any]],
    ) -> None:
        """Hint every variable from the warm start: CP-SAT takes a complete, feasible hint as
        its first solution at once."""
        if not self.warm:
            return
        for key, start in starts.items():
            a = self.warm[key]
            model.AddHint(start, a.start)
            model.AddHint(ends[key], a.end)
            for machine, literal in chosen[key].items():
                if len(chosen[key]) > 1:
                    model.AddHint(literal, machine == a.machine)
        completion: dict[str, int] = {}
        for a in self.warm.values():
            completion[a.order] = max(completion.get(a.order, 0), a.end)
        if self.makespan is not None:
            model.AddHint(self.makespan, max(completion.values(), default=0))
        due = {o.id: o.due or 0 for o in self.problem.orders}
        for order_id, late in self.lateness.items():
            model.AddHint(late, max(0, completion[order_id] - due[order_id]))
        for key, (shift, reference_start) in self.shifts.items():
            model.AddHint(shift, abs(self.warm[key].start - reference_start))
        used = {a.machine for a in self.warm.values()}
        for machine, idle in self.idle.items():
            model.AddHint(idle, machine not in used)
        arcs = self.arcs
        if not arcs:
            return
        sequences: dict[str, list[tuple[str, int]]] = {}
        for a in sorted(self.warm.values(), key=lambda a: a.start):
            sequences.setdefault(a.machine, []).append(a.key)
        follows: set[tuple[str, tuple[str, int] | None, tuple[str, int] | None]] = set()
        for machine, keys in sequences.items():
            follows.add((machine, None, keys[0]))
            follows.add((machine, keys[-1], None))
            follows.update((machine, keys[i], keys[i + 1]) for i in range(len(keys) - 1))
        for arc, literal in arcs.items():
            model.AddHint(literal, arc in follows)


def with_setups(problem: Problem, assignments: list[Assignment]) -> list[Assignment]:
    """Fill in each assignment's changeover time from its machine predecessor."""
    if not problem.has_setups:
        return assignments
    families = {(o.id, k): op.family for o, k, op in problem.operations()}
    out = []
    last: dict[str, str] = {}
    for a in sorted(assignments, key=lambda a: (a.machine, a.start)):
        setup = problem.setup(last[a.machine], families[a.key]) if a.machine in last else 0
        last[a.machine] = families[a.key]
        out.append(Assignment(a.order, a.index, a.operation, a.machine, a.start, a.end, setup))
    return out

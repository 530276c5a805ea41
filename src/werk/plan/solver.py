"""The solver extension point: one small protocol, two implementations.

``HeuristicSolver`` (dispatching rules, no dependencies, milliseconds) and ``CpSatSolver`` (OR-Tools
CP-SAT warm-started by the heuristic; raises ``MissingExtraError`` naming the ``plan`` extra when
OR-Tools is missing). ``solver_for`` picks one the way the CLI and the API do.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

from werk.plan.cpsat import ProgressCallback, SolveOptions
from werk.plan.heuristic import solve_heuristic
from werk.plan.kpi import Objective
from werk.plan.model import Problem, Schedule


class Solver(Protocol):
    name: str

    def solve(
        self,
        problem: Problem,
        objective: Objective,
        *,
        on_progress: ProgressCallback | None = None,
        stop: threading.Event | None = None,
    ) -> Schedule: ...


@dataclass
class HeuristicSolver:
    """The best of the dispatching rules, then randomised tries for ``budget_s`` seconds."""

    budget_s: float = 0.0
    name: str = "heuristic"

    def solve(
        self,
        problem: Problem,
        objective: Objective,
        *,
        on_progress: ProgressCallback | None = None,
        stop: threading.Event | None = None,
    ) -> Schedule:
        return solve_heuristic(problem, objective, budget_s=self.budget_s)


@dataclass
class CpSatSolver:
    time_limit_s: float = 10.0
    workers: int = 2
    warm_start: bool = True
    name: str = "cp-sat"

    def solve(
        self,
        problem: Problem,
        objective: Objective,
        *,
        on_progress: ProgressCallback | None = None,
        stop: threading.Event | None = None,
    ) -> Schedule:
        from werk.plan.cpsat import solve

        options = SolveOptions(
            time_limit_s=self.time_limit_s, workers=self.workers, warm_start=self.warm_start
        )
        return solve(problem, objective, options, on_progress=on_progress, stop=stop)


def solver_for(
    *, heuristic_only: bool = False, time_limit_s: float = 10.0, workers: int = 2
) -> Solver:
    if heuristic_only:
        return HeuristicSolver()
    from werk.plan.cpsat import require_ortools

    require_ortools()  # fail now, naming the extra, rather than after reading the input
    return CpSatSolver(time_limit_s=time_limit_s, workers=workers)

"""Scheduling for mass customisation: orders with variants, flexible job shop on CP-SAT.

- ``model``      machines with calendars, orders with routings, schedules
- ``variants``   a product configured from options -> a routing
- ``formats``    werk TOML/JSON/CSV, OR-Library, Taillard, Brandimarte readers
- ``check``      why an input cannot be scheduled, before any solver runs
- ``heuristic``  dispatching rules (no OR-Tools): instant answers and warm starts
- ``cpsat``      the CP-SAT model (extra ``plan``)
- ``repair``     rescheduling with a frozen horizon after a breakdown or a rush order
- ``kpi``        objectives and KPIs;  ``gantt``  HTML/SVG/PNG charts
- ``service``    the planner on the bus (``machine.down``, ``machine.up``, ``order.rush`` ->
                 ``plan.schedule``)
"""

from werk.plan.check import check, require_feasible
from werk.plan.errors import Infeasible, Issue
from werk.plan.formats import load_problem, problem_from_dict
from werk.plan.gantt import write_gantt
from werk.plan.heuristic import dispatch, solve_heuristic
from werk.plan.kpi import Objective, kpis
from werk.plan.model import (
    OBJECTIVES,
    Assignment,
    Machine,
    Operation,
    Option,
    Order,
    Problem,
    Progress,
    Schedule,
    Window,
)
from werk.plan.repair import Downtime, Repair, repair
from werk.plan.solver import CpSatSolver, HeuristicSolver, Solver, solver_for
from werk.plan.variants import Product, Step

__all__ = [
    "OBJECTIVES",
    "Assignment",
    "CpSatSolver",
    "Downtime",
    "HeuristicSolver",
    "Infeasible",
    "Issue",
    "Machine",
    "Objective",
    "Operation",
    "Option",
    "Order",
    "Problem",
    "Product",
    "Progress",
    "Repair",
    "Schedule",
    "Solver",
    "Step",
    "Window",
    "check",
    "dispatch",
    "kpis",
    "load_problem",
    "problem_from_dict",
    "repair",
    "require_feasible",
    "solve_heuristic",
    "solver_for",
    "write_gantt",
]

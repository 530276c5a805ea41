import sys

import werk.plan


def test_exported_members():
    assert sorted(werk.plan.__all__) == sorted(
        [
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
    )
    for name in werk.plan.__all__:
        assert hasattr(werk.plan, name)


def test_importing_the_planner_does_not_import_ortools():
    # OR-Tools is an extra: only the CP-SAT solver loads it, when it runs
    import subprocess

    code = "import sys, werk.plan, werk.cli; print('ortools' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

"""Scheduling benchmark: classic instances (werk's model vs a plain CP-SAT model, same run, same
time, same workers) and the 200-order mass-customisation case (first feasible, objective over
time). Prints Markdown for docs/benchmarks.md.

    .venv/bin/python benchmarks/plan_bench.py --time-limit 10 --workers 2 --repeat 3 \
        --case-orders 200 --case-limit 30
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path

from werk.plan.bench import BEST_KNOWN, Row, Run, bench
from werk.plan.cpsat import SolveOptions, solve
from werk.plan.demo import bicycle_plan
from werk.plan.heuristic import solve_heuristic
from werk.plan.kpi import kpis

INSTANCES = [
    "ft06", "ft10", "la01", "la02", "la03", "la04", "la05",
    *(f"ta{i:02d}" for i in range(1, 11)),
    "mk01", "mk02", "mk03", "mk04", "mk05",
]  # fmt: skip


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _num(x: float | None) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:g}"


def classic(names: list[str], limit: float, workers: int, repeat: int) -> list[dict[str, object]]:
    print(
        f"Medians of {repeat} run(s) per model (seeds 0..{repeat - 1}); 'reached' counts the "
        "runs that found the best-known makespan, 'proven' those that also proved it.\n"
    )
    print(
        "| instance | size | best known (lb) | werk | werk bound | werk: best known at "
        "| werk runs | plain CP-SAT | plain bound | plain: best known at | plain runs "
        "| werk vs plain (median) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")

    def show(row: Row) -> None:
        w, p = row.werk, row.plain
        lower, best = BEST_KNOWN.get(row.name, (0, 0))
        known = f"{best}" if lower == best else f"{best} ({lower})"

        def at(run: Run) -> str:
            if run.first_at_optimum_s is None:
                return f"not reached (+{(run.objective - best) / best:.1%})"
            proven = " proven" if run.status == "optimal" else ""
            return f"{run.first_at_optimum_s:.2f} s{proven}"

        if w.objective == p.objective:
            verdict = "="
        else:
            verdict = "better" if w.objective < p.objective else "**worse**"
        size = f"{row.jobs}x{row.machines}{' flex' if row.flexible else ''}"

        def runs(items: tuple[Run, ...]) -> str:
            values = " ".join(_num(r.objective) for r in items)
            reached = sum(1 for r in items if r.first_at_optimum_s is not None)
            proven = sum(1 for r in items if r.status == "optimal")
            return f"{values} (reached {reached}/{len(items)}, proven {proven})"

        print(
            f"| {row.name} | {size} | {known} | {_num(w.objective)} | {_num(w.bound)} | {at(w)} "
            f"| {runs(row.werk_runs)} | {_num(p.objective)} | {_num(p.bound)} | {at(p)} "
            f"| {runs(row.plain_runs)} | {verdict} |",
            flush=True,
        )

    rows = bench(names, time_limit_s=limit, workers=workers, repeat=repeat, on_row=show)
    return [r.to_dict() for r in rows]


def customised(orders: int, limit: float, workers: int, objective: str) -> dict[str, object]:
    problem = bicycle_plan(orders)
    started = time.perf_counter()
    heuristic = solve_heuristic(problem, objective)
    heuristic_s = time.perf_counter() - started
    schedule = solve(problem, objective, SolveOptions(time_limit_s=limit, workers=workers))
    points = {}
    for mark in (1, 2, 5, 10, 20, 30, 60):
        if mark > limit:
            break
        seen = [p.objective for p in schedule.history if p.elapsed_s <= mark]
        points[mark] = min(seen) if seen else None
    figures = kpis(problem, schedule)
    first = schedule.history[0].elapsed_s if schedule.history else None
    print(
        f"\n200-order case: {len(problem.orders)} orders, {problem.operation_count} operations, "
        f"{len(problem.machines)} machines, objective {objective}"
    )
    print(
        f"- heuristic alone: {heuristic.objective:g} in {heuristic_s:.2f} s ({heuristic.notes[0]})"
    )
    print(f"- first feasible schedule: {first:.2f} s" if first is not None else "- none")
    print("- best objective by time: " + ", ".join(f"{t} s: {_num(v)}" for t, v in points.items()))
    print(
        f"- final: {schedule.objective:g} ({schedule.status}); makespan {figures['makespan']}, "
        f"weighted tardiness {figures['total_weighted_tardiness']}, tardy orders "
        f"{figures['tardy_orders']}, setup time {figures['setup_time']}"
    )
    for note in schedule.notes:
        print(f"  - {note}")
    return {
        "orders": len(problem.orders),
        "operations": problem.operation_count,
        "heuristic": heuristic.objective,
        "heuristic_s": heuristic_s,
        "first_feasible_s": first,
        "by_time": points,
        "final": schedule.objective,
        "status": schedule.status,
        "history": [(p.elapsed_s, p.objective) for p in schedule.history],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", default=",".join(INSTANCES))
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--case-orders", type=int, default=200)
    parser.add_argument("--case-limit", type=float, default=30.0)
    parser.add_argument("--case-objective", default="tardiness")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import ortools

    print(
        f"Machine: {os.cpu_count()} CPUs ({_cpu()}), Python {platform.python_version()}, "
        f"OR-Tools {ortools.__version__}; load average at start "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}\n"
    )
    out: dict[str, object] = {}
    names = [n for n in args.instances.split(",") if n]
    if names:
        out["classic"] = classic(names, args.time_limit, args.workers, args.repeat)
    if args.case_orders:
        out["case"] = customised(
            args.case_orders, args.case_limit, args.workers, args.case_objective
        )
    print(f"\nload average at end {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()

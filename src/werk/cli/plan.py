"""``werk plan``: solve a scheduling problem, explain an infeasible one, run the benchmarks."""

from __future__ import annotations

import json
import math
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from werk.cli.output import console, errors, fail
from werk.core import WerkError

plan_app = typer.Typer(
    help="Schedule orders on machines (flexible job shop, CP-SAT) and explain what cannot be.",
    no_args_is_help=True,
)


EXIT_INFEASIBLE = 2

ProblemFile = Annotated[
    Path,
    typer.Argument(
        help="werk plan (.toml, .json), routing .csv, OR-Library/Taillard .txt or Brandimarte .fjs",
    ),
]


def _load(file: Path) -> Any:
    from werk.plan import load_problem

    if not file.is_file():
        raise fail(f"{file} not found")
    try:
        return load_problem(file)
    except WerkError as error:
        raise fail(str(error)) from None


def _print_issues(issues: list[Any]) -> None:
    table = Table("severity", "rule", "order", "step", "machine", "explanation")
    for issue in issues:
        colour = "red" if issue.severity == "error" else "yellow"
        table.add_row(
            f"[{colour}]{issue.severity}[/{colour}]",
            issue.rule,
            issue.order or "",
            issue.operation or "",
            issue.machine or "",
            issue.message,
        )
    console.print(table)


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:g}"


@plan_app.command("check")
def check_command(file: ProblemFile) -> None:
    """Explain why a problem cannot be scheduled (exit 2), or say that it can be tried."""
    from werk.plan import check

    problem = _load(file)
    issues = check(problem)
    size = (
        f"{len(problem.orders)} orders, {problem.operation_count} operations, "
        f"{len(problem.machines)} machines"
    )
    if issues:
        _print_issues(issues)
    if any(i.severity == "error" for i in issues):
        errors.print(f"[red]{problem.name}: cannot be scheduled[/red] ({size})")
        raise typer.Exit(EXIT_INFEASIBLE)
    console.print(f"[green]{problem.name}: no problems found[/green] ({size})")


@plan_app.command("solve")
def solve_command(
    file: ProblemFile,
    objective: Annotated[
        str, typer.Option(help="makespan, tardiness (total weighted) or mix (the sum)")
    ] = "makespan",
    time_limit: Annotated[float, typer.Option(help="seconds CP-SAT may search")] = 10.0,
    workers: Annotated[int, typer.Option(help="CP-SAT worker threads")] = 2,
    heuristic_only: Annotated[
        bool, typer.Option(help="dispatching rules only: instant, no OR-Tools needed")
    ] = False,
    gantt: Annotated[
        Path | None, typer.Option(help="write a Gantt chart: .html, .svg or .png")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="write the schedule and KPIs as JSON")
    ] = None,
) -> None:
    """Schedule a problem, showing each better schedule found (objective, bound, gap)."""
    from werk.plan import Infeasible, Objective, kpis, solver_for, write_gantt

    problem = _load(file)
    try:
        goal = Objective(objective)
        solver = solver_for(heuristic_only=heuristic_only, time_limit_s=time_limit, workers=workers)
    except WerkError as error:
        raise fail(str(error)) from None
    board = _Board(problem.name, goal.name, solver.name, time_limit)
    try:
        with Live(board.render(), console=console, refresh_per_second=4, transient=False) as live:
            board.live = live
            schedule = solver.solve(problem, goal, on_progress=board.add)
            board.done = True
            live.update(board.render())
        console.print()
    except Infeasible as error:
        errors.print(f"[red]{problem.name} cannot be scheduled:[/red]")
        _print_issues(error.issues)
        raise typer.Exit(EXIT_INFEASIBLE) from None
    except WerkError as error:
        raise fail(str(error)) from None
    figures = kpis(problem, schedule)
    gap = "" if schedule.gap is None else f", gap {schedule.gap:.2%}"
    console.print(
        f"[bold]{goal.name} {schedule.objective:g}[/bold] ({schedule.status}, {schedule.solver}, "
        f"bound {_fmt(schedule.bound)}{gap}, {schedule.elapsed_s:.2f} s)"
    )
    table = Table("KPI", "value")
    for key, value in figures.items():
        if key != "utilisation":
            table.add_row(key.replace("_", " "), _fmt(value) if value is not None else "-")
    console.print(table)
    for note in schedule.notes:
        console.print(f"  [dim]{note}[/dim]")
    try:
        if gantt is not None:
            console.print(f"Gantt chart: {write_gantt(gantt, problem, schedule)}")
    except WerkError as error:
        raise fail(str(error)) from None
    if json_out is not None:
        body = {**schedule.to_dict(problem), "kpis": figures}
        json_out.write_text(json.dumps(body, indent=1))
        console.print(f"schedule: {json_out}")


class _Board:
    """The live status of a solve: each incumbent with its bound and gap."""

    def __init__(self, name: str, objective: str, solver: str, limit: float) -> None:
        self.name, self.objective, self.solver, self.limit = name, objective, solver, limit
        self.rows: list[Any] = []
        self.started = time.perf_counter()
        self.live: Live | None = None
        self.done = False
        self._lock = threading.Lock()

    def add(self, progress: Any) -> None:
        # called from CP-SAT's threads
        with self._lock:
            self.rows.append(progress)
            if self.live is not None:
                self.live.update(self.render())

    def render(self) -> Group:
        table = Table("time", self.objective, "bound", "gap", title=f"{self.name} ({self.solver})")
        for p in self.rows[-12:]:
            gap = "-" if p.gap is None else f"{p.gap:.2%}"
            table.add_row(f"{p.elapsed_s:6.2f} s", f"{p.objective:g}", _fmt(p.bound), gap)
        elapsed = time.perf_counter() - self.started
        state = "done" if self.done else f"searching, {elapsed:.0f} / {self.limit:g} s"
        return Group(table, Text(state, style="dim"))


@plan_app.command("bench")
def bench_command(
    instances: Annotated[
        list[str] | None,
        typer.Option(
            "--instances",
            "-i",
            help="names (ft06, la01, ta01, mk01, ...) or files; repeat or comma-separate",
        ),
    ] = None,
    time_limit: Annotated[float, typer.Option(help="seconds per instance and model")] = 10.0,
    workers: Annotated[int, typer.Option(help="CP-SAT worker threads")] = 2,
    repeat: Annotated[int, typer.Option(help="runs per model (seeds 0..N-1); shows medians")] = 1,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the rows as JSON")] = None,
) -> None:
    """werk's model (warm start, tuned) against a plain CP-SAT model, same time and workers."""
    import os
    import platform

    from werk.plan.bench import DEFAULT_SET, bench

    names = [n for item in instances or list(DEFAULT_SET) for n in item.split(",") if n]
    machine = f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}"
    console.print(
        f"werk plan bench: {len(names)} instances, {time_limit:g} s each per model, "
        f"{workers} workers, {repeat} run(s) each, medians ({machine}; "
        f"load {os.getloadavg()[0]:.2f})"
    )
    table = Table(
        "instance",
        "size",
        "best known",
        "werk",
        "werk bound",
        "werk status",
        "werk: best known at",
        "plain",
        "plain bound",
        "plain: best known at",
    )

    def show(row: Any) -> None:
        def at(run: Any) -> str:
            return "-" if run.first_at_optimum_s is None else f"{run.first_at_optimum_s:.2f} s"

        best = "-" if row.best_known is None else str(row.best_known)
        if row.lower is not None and row.best_known is not None and row.lower != row.best_known:
            best = f"{row.best_known} (lb {row.lower})"
        cells = (
            row.name,
            f"{row.jobs}x{row.machines}" + (" flex" if row.flexible else ""),
            best,
            _fmt(row.werk.objective),
            _fmt(row.werk.bound),
            f"{row.werk.status} {row.werk.elapsed_s:.1f} s",
            at(row.werk),
            _fmt(row.plain.objective),
            _fmt(row.plain.bound),
            at(row.plain),
        )
        table.add_row(*cells)
        console.print("  " + "  ".join(cells))

    try:
        rows = bench(names, time_limit_s=time_limit, workers=workers, repeat=repeat, on_row=show)
    except (WerkError, FileNotFoundError) as error:
        raise fail(str(error)) from None
    console.print(table)
    if json_out is not None:
        json_out.write_text(json.dumps([r.to_dict() for r in rows], indent=1))

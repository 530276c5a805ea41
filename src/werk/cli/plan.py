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


PlantOption = Annotated[
    Path | None,
    typer.Option(
        "--plant",
        help="plant file: the machines the plan's steps name and it does not list, with their "
        "calendars (default: the plan's plant key)",
    ),
]


def _load(file: Path, plant_file: Path | None = None) -> Any:
    from werk.plan import load_problem

    if not file.is_file():
        raise fail(f"{file} not found")
    try:
        plant = None
        if plant_file is not None:
            from werk.twin.plant import load_plant

            plant = load_plant(plant_file)
        return load_problem(file, plant=plant)
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
def check_command(file: ProblemFile, plant: PlantOption = None) -> None:
    """Explain why a problem cannot be scheduled (exit 2), or say that it can be tried."""
    from werk.plan import check

    problem = _load(file, plant)
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
    plant: PlantOption = None,
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

    problem = _load(file, plant)
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


@plan_app.command("simulate")
def simulate_command(
    file: ProblemFile,
    plant: PlantOption = None,
    schedule_file: Annotated[
        Path | None,
        typer.Option("--schedule", help="the JSON of `werk plan solve --json` (else: solve first)"),
    ] = None,
    objective: Annotated[
        str, typer.Option(help="when solving: makespan, tardiness or mix")
    ] = "makespan",
    time_limit: Annotated[
        float, typer.Option(help="when solving: seconds CP-SAT may search")
    ] = 5.0,
    workers: Annotated[int, typer.Option(help="when solving: CP-SAT worker threads")] = 2,
    heuristic_only: Annotated[
        bool, typer.Option(help="when solving: dispatching rules only (no OR-Tools)")
    ] = False,
    replications: Annotated[int, typer.Option(help="replications (1 to 10,000)")] = 30,
    cv: Annotated[
        float, typer.Option(help="coefficient of variation of processing and changeover times")
    ] = 0.1,
    seed: Annotated[int, typer.Option(help="random seed (same seed: same random numbers)")] = 0,
    failures: Annotated[
        list[str] | None,
        typer.Option(
            "--failures",
            help="MACHINE=MTBF/MTTR in plan units (operating time between failures / repair);"
            " repeat for more machines",
        ),
    ] = None,
    early_start: Annotated[
        bool, typer.Option(help="start as soon as possible in the planned order, not on plan")
    ] = False,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="write the estimates as JSON")
    ] = None,
) -> None:
    """Execute a schedule under variability: each KPI's plan value beside its simulated mean with
    a 95 % confidence interval, then the orders most likely to be late."""
    from rich.progress import Progress as Bar

    from werk.plan import Infeasible, Objective, Schedule, solver_for
    from werk.sim.schedule import Variability, simulate

    problem = _load(file, plant)
    try:
        variability = Variability(
            duration_cv=cv,
            failures=dict(_failures(spec) for spec in failures or ()),
            early_start=early_start,
        )
        if schedule_file is not None:
            if not schedule_file.is_file():
                raise fail(f"{schedule_file} not found")
            plan = Schedule.from_dict(json.loads(schedule_file.read_text()))
        else:
            solver = solver_for(
                heuristic_only=heuristic_only, time_limit_s=time_limit, workers=workers
            )
            with console.status(f"solving {problem.name} ({solver.name})"):
                plan = solver.solve(problem, Objective(objective))
            status = "" if plan.status == plan.solver else f" ({plan.status})"
            console.print(f"plan by {plan.solver}: {objective} {plan.objective:g}{status}")
        with Bar(console=console, transient=True) as bar:
            task = bar.add_task("replications", total=replications)
            result = simulate(
                problem,
                plan,
                variability,
                replications,
                seed,
                progress=lambda done, total: bar.update(task, completed=done),
            )
    except Infeasible as error:
        errors.print(f"[red]{problem.name} cannot be scheduled:[/red]")
        _print_issues(error.issues)
        raise typer.Exit(EXIT_INFEASIBLE) from None
    except json.JSONDecodeError as error:
        raise fail(f"{schedule_file}: not JSON ({error})") from None
    except WerkError as error:
        raise fail(str(error)) from None
    _print_simulation(result)
    if json_out is not None:
        json_out.write_text(json.dumps(result.to_dict(), indent=1))
        console.print(f"estimates: {json_out}")


def _failures(spec: str) -> tuple[str, Any]:
    """``saw=2000/60`` -> ("saw", Failures(2000, 60))."""
    from werk.core import ValidationError
    from werk.sim.schedule import Failures

    machine, _, numbers = spec.partition("=")
    mtbf, _, mttr = numbers.partition("/")
    try:
        return machine.strip(), Failures(float(mtbf), float(mttr))
    except ValueError:
        raise ValidationError(
            f"--failures {spec!r}: write MACHINE=MTBF/MTTR, e.g. saw=2000/60",
            field="failures",
            rule="format",
        ) from None


def _print_simulation(result: Any) -> None:
    from werk.sim.schedule import Figure

    def _sig(value: float) -> str:
        return "-" if math.isnan(value) else f"{value:.4g}"

    def interval(figure: Any) -> str:
        if math.isnan(figure.estimate.half_width):
            return "-"
        low, high = figure.interval()
        return f"{low:.4g} .. {high:.4g}"

    v = result.variability
    failing = ", ".join(f"{m} {f.mtbf:g}/{f.mttr:g}" for m, f in v.failures.items()) or "none"
    table = Table(
        "KPI",
        "plan",
        "simulated mean",
        "95 % CI",
        title=f"{result.problem}: {result.replications} replications, cv {v.duration_cv:g}, "
        f"failures {failing}" + (", early start" if v.early_start else ""),
    )
    rows = [(name.replace("_", " "), figure) for name, figure in result.kpis.items()]
    rows += [(f"utilisation {m}", figure) for m, figure in result.utilisation.items()]
    for label, figure in rows:
        table.add_row(label, _fmt(figure.plan), _sig(figure.estimate.mean), interval(figure))
    console.print(table)
    late = result.late()
    if not late:
        console.print("[green]no order was late in any replication[/green]")
        return
    risks = Table(
        "order",
        "due",
        "plan end",
        "mean end",
        "95 % CI",
        "P(late)",
        "mean tardiness",
        title="orders most likely late",
    )
    for order in late[:10]:
        risks.add_row(
            order.order,
            _fmt(order.due),
            _fmt(order.plan_completion),
            f"{order.completion.mean:.4g}",
            interval(Figure(order.plan_completion, order.completion)),
            f"{order.p_late:.0%}",
            f"{order.mean_tardiness:.4g}",
        )
    console.print(risks)
    if len(late) > 10:
        console.print(f"  [dim]and {len(late) - 10} more orders late at times[/dim]")

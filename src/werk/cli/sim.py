"""``werk sim``: what-if runs of the line model with confidence intervals, and comparisons."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from werk.cli.output import console, errors, fail
from werk.core import WerkError

if TYPE_CHECKING:
    from werk.sim.experiment import Estimate, Results
    from werk.sim.scenario import Scenario

sim_app = typer.Typer(
    help="Simulate the line: what-if runs with replications and confidence intervals.",
    no_args_is_help=True,
)


ScenarioFile = Annotated[Path, typer.Argument(help="scenario file (.toml), see docs/simulation.md")]
Replications = Annotated[
    int | None, typer.Option("--replications", "-n", help="replications (default: the scenario's)")
]
Jobs = Annotated[
    int | None, typer.Option("--jobs", "-j", help="worker processes (default: all cores)")
]
Seed = Annotated[int | None, typer.Option(help="base seed (default: the scenario's)")]
Cluster = Annotated[
    str | None, typer.Option(help="Dask scheduler address, tcp://host:8786 (extra 'dask')")
]
JsonOut = Annotated[Path | None, typer.Option("--json", help="also write the results as JSON")]


def _load(file: Path) -> Scenario:
    from werk.sim.scenario import load_scenario

    try:
        return load_scenario(file)
    except WerkError as error:
        raise fail(str(error)) from None


def _replicate(
    scenario: Scenario, n: int | None, jobs: int | None, seed: int | None, cluster: str | None
) -> Results:
    from werk.sim.experiment import replicate

    total = n or scenario.replications
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=errors, transient=True) as bar:
        task = bar.add_task(f"{scenario.name}: replications", total=total)
        try:
            return replicate(
                scenario,
                total,
                seed=seed,
                jobs=jobs,
                cluster=cluster,
                progress=lambda done, _: bar.update(task, completed=done),
            )
        except WerkError as error:
            raise fail(str(error)) from None


def _percent(share: float) -> str:
    return "-" if math.isnan(share) else f"{share * 100:.1f}"


def _ci(estimate: Estimate, digits: int = 3) -> str:
    if estimate.n == 0 or math.isnan(estimate.mean):
        return "-"
    if math.isnan(estimate.half_width):
        return f"{estimate.mean:.{digits}g}"
    return f"{estimate.mean:.{digits}g} ± {estimate.half_width:.2g}"


def _print_results(results: Results) -> None:
    scenario = results.scenario
    n = len(results.replications)
    hours = scenario.duration_s / 3600
    console.print(
        f"[bold]{scenario.name}[/bold]: {n} replications of {hours:g} h "
        f"(warm-up {scenario.warmup_s / 3600:g} h), {results.elapsed_s:.1f} s; "
        "means with 95 % confidence intervals"
    )
    line = Table("line KPI", "mean ± 95 % CI")
    labels = {
        "throughput_per_h": "throughput (good parts/h)",
        "lead_time_s": "lead time (s)",
        "wip": "WIP (parts)",
        "scrap_per_h": "scrap (parts/h)",
    }
    for kpi, estimate in results.line().items():
        line.add_row(labels[kpi], _ci(estimate, 4))
    console.print(line)
    table = Table(
        "station", "util.", "avail.", "perf.", "qual.", "OEE", "starved", "block.", "down",
        title="per station: % of the observed time (OEE as in ISO 22400); ± the 95 % CI below",
        box=box.SIMPLE,
    )  # fmt: skip
    for spec in scenario.stations:
        est = results.station(spec.id)
        table.add_row(spec.id, *(_percent(est[k].mean) for k in STATION_COLUMNS))
        table.add_row("", *(f"[dim]±{_percent(est[k].half_width)}[/dim]" for k in STATION_COLUMNS))
    console.print(table)
    ranking = Table("rank", "station", "bottleneck in", "mean active period (s)")
    for rank, (station, share, period) in enumerate(results.bottlenecks(), 1):
        ranking.add_row(str(rank), station, f"{share:.0%} of replications", _ci(period, 4))
    console.print(ranking)


STATION_COLUMNS = (
    "utilisation",
    "availability",
    "performance",
    "quality",
    "oee",
    "starved",
    "blocked",
    "down",
)


def _write_json(path: Path, payload: Any) -> None:
    path.write_text(json.dumps(payload, indent=2, default=_number) + "\n", encoding="utf-8")
    console.print(f"results: {path}")


def _number(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else str(value)


def _summary(results: Results) -> dict[str, Any]:
    def est(e: Estimate) -> dict[str, float | None]:
        return {
            "mean": None if math.isnan(e.mean) else e.mean,
            "ci95": None if math.isnan(e.half_width) else e.half_width,
        }

    return {
        "scenario": results.scenario.name,
        "replications": len(results.replications),
        "elapsed_s": results.elapsed_s,
        "line": {k: est(v) for k, v in results.line().items()},
        "stations": {
            s.id: {k: est(v) for k, v in results.station(s.id).items()}
            for s in results.scenario.stations
        },
        "bottlenecks": [
            {"station": s, "share": share, "active_period_s": est(p)}
            for s, share, p in results.bottlenecks()
        ],
        "raw": results.replications,
    }


@sim_app.command("run")
def run_command(
    scenario_file: ScenarioFile,
    replications: Replications = None,
    jobs: Jobs = None,
    seed: Seed = None,
    cluster: Cluster = None,
    json_out: JsonOut = None,
) -> None:
    """Run a scenario as fast as possible: KPIs per line and station with 95 % CIs, bottlenecks."""
    scenario = _load(scenario_file)
    results = _replicate(scenario, replications, jobs, seed, cluster)
    _print_results(results)
    if json_out is not None:
        _write_json(json_out, _summary(results))


@sim_app.command("compare")
def compare_command(
    a_file: Annotated[Path, typer.Argument(help="scenario A (the reference)")],
    b_file: Annotated[Path, typer.Argument(help="scenario B")],
    replications: Replications = None,
    jobs: Jobs = None,
    seed: Seed = None,
    cluster: Cluster = None,
    json_out: JsonOut = None,
) -> None:
    """Compare two scenarios side by side: B - A with its 95 % CI and a paired t-test's p-value
    (both run with the same random numbers per replication)."""
    from werk.sim.experiment import compare

    a, b = _load(a_file), _load(b_file)
    n = replications or max(a.replications, b.replications)
    results_a = _replicate(a, n, jobs, seed, cluster)
    results_b = _replicate(b, n, jobs, seed, cluster)
    console.print(
        f"[bold]{a.name} vs {b.name}[/bold]: {n} paired replications (common random numbers); "
        "B - A with its 95 % CI and the paired t-test's p-value (* below 0.05)"
    )
    table = Table("KPI", "A", "B", "B - A", "95 % CI", "p")
    differences = compare(results_a, results_b)
    for d in differences:
        ci = d.estimate
        nan = math.isnan(ci.mean)
        table.add_row(
            d.kpi,
            f"{d.a:.4g}",
            f"{d.b:.4g}",
            "-" if nan else f"{ci.mean:+.3g}",
            "-" if nan else f"[{ci.low:+.3g}, {ci.high:+.3g}]",
            "-" if math.isnan(d.p_value) else f"{d.p_value:.2g}{' *' if d.significant else ''}",
        )
    console.print(table)
    if json_out is not None:
        _write_json(
            json_out,
            {
                "a": _summary(results_a),
                "b": _summary(results_b),
                "differences": [
                    {
                        "kpi": d.kpi,
                        "a": d.a,
                        "b": d.b,
                        "difference": d.estimate.mean,
                        "ci95": d.estimate.half_width,
                        "p_value": d.p_value,
                    }
                    for d in differences
                ],
            },
        )


@sim_app.command("inject")
def inject(
    machine: Annotated[str, typer.Argument(help="machine of the virtual plant, e.g. press1")],
    fault: Annotated[str, typer.Argument(help="bearing-wear or overheating")],
    api: Annotated[
        str, typer.Option(help="the running werk's API", envvar="WERK_API_URL")
    ] = "http://127.0.0.1:8080",
    token: Annotated[
        str | None, typer.Option(envvar="WERK_TOKEN", help="API token (engineer)")
    ] = None,
) -> None:
    """Inject a fault into a machine of the running werk's virtual plant (``werk demo``)."""
    import httpx

    from werk.cli.http import raise_for_answer

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        answer = httpx.post(
            f"{api}/api/v1/sim/faults",
            json={"machine": machine, "fault": fault},
            headers=headers,
            timeout=10,
        )
        raise_for_answer(answer)
    except httpx.HTTPError as error:
        errors.print(f"[red]cannot reach {escape(api)}: {escape(str(error))}[/red]")
        raise typer.Exit(1) from None
    except WerkError as error:
        errors.print(f"[red]{escape(str(error))}[/red]")
        raise typer.Exit(1) from None
    console.print(f"fault {escape(fault)} injected on {escape(machine)}")


@sim_app.command("calibrate")
def calibrate_command(
    store: Annotated[
        str, typer.Option(help="the history store: memory://, duckdb:///path, postgresql://...")
    ],
    start: Annotated[str, typer.Option(help="window start: ISO 8601 with zone, ns, or '24h' ago")],
    machines: Annotated[
        str, typer.Option(help="machines in flow order, comma-separated: press1,welder1")
    ],
    end: Annotated[str, typer.Option(help="window end (default: now)")] = "now",
    scenario_file: Annotated[
        Path | None,
        typer.Option("--scenario", help="base scenario: everything but the fitted stations"),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="write the calibrated scenario (TOML) here")
    ] = None,
    replications: Annotated[
        int, typer.Option("--replications", "-n", help="replications of the validation run")
    ] = 10,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", help="worker processes")] = 1,
    seed: Annotated[int, typer.Option(help="seed of the validation run")] = 1,
) -> None:
    """Fit cycle times, failures and repairs per machine from recorded states and counters, then
    validate: the calibrated model's throughput over the window against the recorded one."""
    import time

    from werk.core import parse_time
    from werk.sim.calibrate import calibrate
    from werk.store.base import open_store

    try:
        now = time.time_ns()
        start_ns, end_ns = parse_time(start, now), parse_time(end, now)
    except ValueError as error:
        raise fail(str(error)) from None
    ids = [m.strip() for m in machines.split(",") if m.strip()]
    try:
        history = open_store(store)
        try:
            result = calibrate(
                history,
                ids,
                start_ns,
                end_ns,
                base=scenario_file,
                replications=replications,
                seed=seed,
                jobs=jobs,
            )
        finally:
            history.close()
    except WerkError as error:
        raise fail(str(error)) from None
    table = Table(
        "machine", "quantity", "n", "mean", "CV", "fit", "KS",
        title="fitted from the history (KS: Kolmogorov-Smirnov statistic of the fit)",
        box=box.SIMPLE,
    )  # fmt: skip

    def number(value: float, digits: int = 3) -> str:
        return "-" if math.isnan(value) else f"{value:.{digits}g}"

    for f in result.fits:
        h = f.history
        table.add_row(
            h.machine, "cycle time (s)", f"{h.parts:.0f}", number(f.cycle.mean_s, 4),
            number(f.cycle.cv), f.cycle.family, number(f.cycle.ks),
        )  # fmt: skip
        if f.ttf is not None and f.ttr is not None:
            table.add_row(
                "", "time to failure (h)", str(h.failures), number(h.mttf_s / 3600),
                number(f.ttf.cv), f.ttf.family, number(f.ttf.ks),
            )  # fmt: skip
            table.add_row(
                "", "time to repair (min)", str(f.ttr.n), number(h.mttr_s / 60),
                number(f.ttr.cv), f.ttr.family, number(f.ttr.ks),
            )  # fmt: skip
        shares = ", ".join(f"{k} {_percent(v)}" for k, v in h.shares.items() if v > 0)
        table.add_row("", f"[dim]{h.window_s / 3600:.3g} h: {shares} %[/dim]")
    console.print(table)
    for note in result.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}")
    if result.validation is not None:
        v = result.validation
        console.print(
            f"validation: {v.replications} replications of {v.duration_s / 3600:.3g} h, "
            "parts per hour recorded vs simulated (95 % CI)"
        )
        for check in v.machines:
            verdict = "inside" if check.inside else "[red]outside[/red]"
            console.print(
                f"  {check.machine}: recorded {check.recorded_per_h:.4g}/h, simulated "
                f"{_ci(check.simulated, 4)}/h, error {check.relative_error:+.1%}; "
                f"the record is {verdict} the CI"
            )
    if out is not None:
        out.write_text(result.toml(relative_to=out.parent.resolve()), encoding="utf-8")
        console.print(f"calibrated scenario: {out}")

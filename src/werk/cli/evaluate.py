"""``werk eval``: evaluate werk's detectors on public benchmarks by their published protocols."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from werk.cli.output import console, errors, fail
from werk.core import WerkError

eval_app = typer.Typer(help="Evaluate detectors on public benchmarks.", no_args_is_help=True)


class Dataset(StrEnum):
    skab = "skab"
    nab = "nab"


def _progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
    )


def _skab_table(result: Any) -> Table:
    from werk.analytics.evaluation import skab

    scores = result.scores
    table = Table(
        "detector",
        "F1",
        "FAR %",
        "MAR %",
        "data",
        title=f"SKAB outlier detection: {result.files} files, {result.rows} rows",
    )
    table.add_row(
        f"[bold]werk {result.detector}[/bold]",
        f"{scores.f1:.3f}",
        f"{scores.far:.1f}",
        f"{scores.mar:.1f}",
        "valve1 (this run)",
    )
    for name, (f1, far, mar) in skab.PUBLISHED.items():
        table.add_row(
            name,
            f"{f1:.2f}",
            "—" if far is None else f"{far:.1f}",
            "—" if mar is None else f"{mar:.1f}",
            "all SKAB (published)",
        )
    return table


def _nab_table(result: Any) -> Table:
    from werk.analytics.evaluation import nab

    standard = result.scores["standard"]
    table = Table(
        "detector",
        "standard",
        "low FP",
        "low FN",
        "raw",
        "windows",
        "FP",
        title=f"NAB {result.file}: {result.rows} rows, normalised for this file "
        f"(null 0, perfect 100)",
    )
    table.add_row(
        f"[bold]werk {result.detector}[/bold]",
        f"{standard.normalised:.1f}",
        f"{result.scores['reward_low_FP_rate'].normalised:.1f}",
        f"{result.scores['reward_low_FN_rate'].normalised:.1f}",
        f"{standard.raw:.2f}",
        f"{standard.windows_found}/{standard.windows}",
        str(standard.fp),
    )
    for name, raw in nab.PUBLISHED_MACHINE_TEMPERATURE.items():
        normalised = 100.0 * (raw - standard.null) / (standard.perfect - standard.null)
        corpus = nab.PUBLISHED_CORPUS[name]
        table.add_row(
            f"{name} (corpus {corpus:.1f})", f"{normalised:.1f}", "", "", f"{raw:.2f}", "", ""
        )
    return table


def _as_json(result: Any) -> dict[str, Any]:
    if hasattr(result.scores, "f1"):
        s = result.scores
        return {
            "dataset": "skab",
            "detector": result.detector,
            "files": result.files,
            "rows": result.rows,
            "f1": s.f1,
            "far": s.far,
            "mar": s.mar,
            "tp": s.tp,
            "fp": s.fp,
            "tn": s.tn,
            "fn": s.fn,
        }
    return {
        "dataset": "nab",
        "detector": result.detector,
        "file": result.file,
        "rows": result.rows,
        "profiles": {
            name: {
                "normalised": score.normalised,
                "raw": score.raw,
                "windows_found": score.windows_found,
                "windows": score.windows,
                "fp": score.fp,
            }
            for name, score in result.scores.items()
        },
    }


@eval_app.command("anomaly")
def anomaly_command(
    dataset: Annotated[Dataset, typer.Option(help="benchmark: skab (valve1) or nab")],
    data: Annotated[
        Path,
        typer.Option(
            help="the data: SKAB's valve1 folder (or a SKAB checkout), or a folder with NAB's "
            "machine_temperature_system_failure.csv and label_windows.json (or a NAB checkout)"
        ),
    ],
    detector: Annotated[
        str | None,
        typer.Option(
            help="detector name; default: pca for SKAB, robust-z for NAB (werk's defaults). "
            "SKAB: pca, iforest, hst, robust-z, ewma. NAB: robust-z, ewma, seasonal"
        ),
    ] = None,
    batch: Annotated[
        int, typer.Option(min=1, help="rows judged per call, as the service gets them (1: live)")
    ] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
) -> None:
    """Evaluate an anomaly detector on SKAB or NAB by the benchmark's published protocol and print
    the figures beside the published leaderboard's. The data is streamed through the same
    score / learn-what-is-normal / alarm-rule step as the live analytics service."""
    from werk.analytics.evaluation import nab, run_nab, run_skab, skab

    if not data.exists():
        where = skab.DOWNLOAD if dataset is Dataset.skab else nab.DOWNLOAD
        raise fail(f"{data} not found; download the data from {where}")
    try:
        with _progress_bar() as bar:
            task = bar.add_task(dataset.value, total=None)

            def report(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            if dataset is Dataset.skab:
                result: Any = run_skab(data, detector, progress=report, batch=batch)
            else:
                result = run_nab(data, detector, progress=report, batch=batch)
    except WerkError as error:
        raise fail(str(error)) from None
    if as_json:
        console.print_json(json.dumps(_as_json(result)))
        return
    console.print(_skab_table(result) if dataset is Dataset.skab else _nab_table(result))
    if dataset is Dataset.skab:
        console.print(
            "Published figures are over all SKAB subsets; this run is valve1 only. "
            "Streamed as werk runs live: each file's first 400 rows are the warm-up (SKAB's "
            "fitting rows); thresholds from those rows only."
        )
    else:
        console.print(
            "Published rows: each detector's own raw score on this file (numenta/NAB results), "
            "normalised the same way; in brackets its score over the whole NAB corpus."
        )

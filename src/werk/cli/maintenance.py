"""``werk maintenance``: train, evaluate and inspect remaining-useful-life models."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from werk.cli.output import console, errors, fail
from werk.core import WerkError

maintenance_app = typer.Typer(
    help="Predictive maintenance: train, evaluate and inspect remaining-useful-life models.",
    no_args_is_help=True,
)


ModelDir = Annotated[
    Path, typer.Option("--model", "-m", help="a saved model: a version directory or its parent")
]


def _progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description:<26}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
    )


def _train_with_progress(histories: Any, model: Any, features: Any, source: dict[str, Any]) -> Any:
    from werk.maintenance.training import train

    with _progress_bar() as bar:
        task = bar.add_task("training", total=1.0)

        def report(step: str, done: float) -> None:
            bar.update(task, completed=done, description=step)

        return train(histories, model, features, source=source, progress=report)


def _metrics_table(title: str, rows: dict[str, dict[str, Any]]) -> Table:
    table = Table("", "RMSE", "PHM08 score", "bias", "coverage", "interval width", "n", title=title)
    for name, m in rows.items():
        table.add_row(
            name,
            f"{m['rmse']:.2f}",
            f"{m['phm08_score']:.1f}",
            f"{m['bias']:+.2f}",
            f"{m['coverage']:.2f}",
            f"{m['interval_width']:.1f}",
            str(m["count"]),
        )
    return table


@maintenance_app.command("train")
def train_command(
    config: Annotated[Path, typer.Option("--config", "-c", help="the training job (TOML)")],
) -> None:
    """Train a model as the job file says and save it as the next version."""
    from werk.maintenance.config import load_job
    from werk.maintenance.registry import ModelRegistry

    if not config.is_file():
        raise fail(f"{config} not found")
    try:
        job = load_job(config)
        histories = job.load_histories()
        console.print(
            f"{len(histories.runs)} runs to failure, {len(histories)} cycles, "
            f"{len(histories.sensor_names)} sensors"
        )
        trained = _train_with_progress(histories, job.model, job.features, job.describe_source())
        directory = ModelRegistry(job.output).save(trained)
    except WerkError as error:
        raise fail(str(error)) from None
    validation = trained.metadata["metrics"]["validation"]
    console.print(
        _metrics_table(
            f"validation on {validation['runs']} held-out runs",
            {
                "every cycle": validation["every_cycle"],
                "one cut per run": validation["one_cut_per_run"],
            },
        )
    )
    console.print(
        f"saved {trained.version} in {directory} "
        f"({trained.metadata['metrics']['train_seconds']:.1f} s)"
    )


@maintenance_app.command("eval")
def eval_command(
    data: Annotated[Path, typer.Option(help="directory with train_/test_/RUL_<subset>.txt")],
    dataset: Annotated[str, typer.Option(help="data set format (cmapss)")] = "cmapss",
    subset: Annotated[str, typer.Option(help="FD001 ... FD004")] = "FD001",
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="the kind to train, gbm (LightGBM) or cnn (1D-CNN, werk[deep]); or a saved "
            "model to evaluate instead (a directory of that name: ./cnn)",
        ),
    ] = "gbm",
    save: Annotated[
        Path | None, typer.Option(help="save the model trained here under this directory")
    ] = None,
    cap: Annotated[float, typer.Option(help="remaining life capped at (cycles)")] = 125.0,
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
) -> None:
    """Evaluate on a benchmark's test set by its protocol: RMSE and PHM08 score at the last cycle.

    With a kind (gbm, the default, or cnn), trains that kind's default pipeline on the training
    file first; with a saved model's directory, evaluates that model.
    """
    from werk.maintenance.cmapss import load_subset
    from werk.maintenance.registry import ModelRegistry, load_model
    from werk.maintenance.training import KINDS, ModelConfig, evaluate_last_cycle

    if dataset.lower() != "cmapss":
        raise fail(f"unknown dataset {dataset!r}: cmapss")
    saved = None if model in KINDS else Path(model)
    try:
        loaded = load_subset(data, subset)
        started = time.perf_counter()
        if saved is not None:
            trained = load_model(saved)
        else:
            source = {"format": "cmapss", "path": str(data), "subset": loaded.name}
            config = ModelConfig(kind=model, cap=cap)
            trained = _train_with_progress(loaded.train, config, None, source)
            if save is not None:
                ModelRegistry(save).save(trained)
        train_s = time.perf_counter() - started
        capped = evaluate_last_cycle(trained, loaded.test, loaded.test_rul, cap=trained.cap)
        uncapped = evaluate_last_cycle(trained, loaded.test, loaded.test_rul, cap=None)
    except WerkError as error:
        raise fail(str(error)) from None
    result = {
        "dataset": f"cmapss/{loaded.name}",
        "test_engines": len(loaded.test_rul),
        "rmse": capped["rmse"],
        "phm08_score": capped["phm08_score"],
        "coverage": capped["coverage"],
        "nominal_coverage": trained.model.coverage,
        "true_rul_capped": capped,
        "true_rul_uncapped": uncapped,
        "train_seconds": None if saved is not None else round(train_s, 2),
        "model_kind": trained.model.kind,
        "model_version": trained.version or None,
    }
    if as_json:
        print(json.dumps(result, indent=2))
        return
    console.print(
        _metrics_table(
            f"C-MAPSS {loaded.name}, last cycle of {len(loaded.test_rul)} test engines",
            {f"true RUL capped at {trained.cap:g}": capped, "true RUL uncapped": uncapped},
        )
    )
    console.print(f"RMSE {capped['rmse']:.2f}  PHM08 score {capped['phm08_score']:.1f}")
    console.print(
        f"interval coverage {capped['coverage']:.2f} (promised {trained.model.coverage:.2f})"
    )
    if saved is None:
        device = trained.metadata["model"].get("device")
        on = f" on {device}" if device else ""
        console.print(f"{trained.model.kind} trained in {train_s:.1f} s{on}")


@maintenance_app.command("predict")
def predict_command(
    data: Annotated[Path, typer.Argument(help="a C-MAPSS-format file of runs (e.g. test_FD001)")],
    model: ModelDir,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Health index and remaining useful life at the last cycle of each run in a file."""
    from werk.maintenance.cmapss import read_histories
    from werk.maintenance.registry import load_model

    try:
        trained = load_model(model)
        histories = read_histories(data)
        prediction = trained.predict_last(histories)
    except WerkError as error:
        raise fail(str(error)) from None
    health = trained.health_index(prediction.rul)
    rows = [
        {
            "run": int(run),
            "cycle": float(histories.cycle[row]),
            "health_index": round(float(health[i]), 3),
            "rul": round(float(prediction.rul[i]), 1),
            "rul_lower": round(float(prediction.lower[i]), 1),
            "rul_upper": round(float(prediction.upper[i]), 1),
        }
        for i, (run, row) in enumerate(zip(histories.runs, histories.last_rows(), strict=True))
    ]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table("run", "cycle", "health", "RUL", f"{trained.model.coverage:.0%} interval")
    for r in rows:
        table.add_row(
            str(r["run"]),
            f"{r['cycle']:g}",
            f"{r['health_index']:.2f}",
            f"{r['rul']:.1f}",
            f"{r['rul_lower']:.1f} … {r['rul_upper']:.1f}",
        )
    console.print(table)


@maintenance_app.command("drift")
def drift_command(
    data: Annotated[Path, typer.Argument(help="a C-MAPSS-format file of recent runs")],
    model: ModelDir,
    top: Annotated[int, typer.Option(help="features to list")] = 10,
) -> None:
    """Input drift: PSI of each feature of the data against the model's training data."""
    from werk.core.drift import PSI_MODERATE, PSI_SIGNIFICANT
    from werk.maintenance.cmapss import read_histories
    from werk.maintenance.registry import load_model

    try:
        trained = load_model(model)
        if trained.reference is None:
            raise fail(f"{model} has no training reference (reference.json)")
        report = trained.reference.report(trained.pipeline.transform(read_histories(data)))
    except WerkError as error:
        raise fail(str(error)) from None
    table = Table("feature", "PSI", "flag")
    for name, value in report.ranked()[:top]:
        flag = report.flag(name)
        colour = {"drift": "red", "moderate": "yellow"}.get(flag, "green")
        table.add_row(name, f"{value:.3f}", f"[{colour}]{flag}[/{colour}]")
    console.print(table)
    console.print(
        f"{len(report.drifted)} features drifted (PSI > {PSI_SIGNIFICANT}), "
        f"{len(report.moderate)} moderate (> {PSI_MODERATE}) of {len(report.psi)}"
    )


@maintenance_app.command("models")
def models_command(
    directory: Annotated[Path, typer.Argument(help="a model directory (its versions are listed)")],
) -> None:
    """List the saved versions of a model with their data and validation figures."""
    from werk.maintenance.registry import ModelRegistry

    registry = ModelRegistry(directory)
    versions = registry.versions()
    if not versions:
        raise fail(f"no saved model under {directory}")
    table = Table("version", "created", "kind", "runs", "features", "val. RMSE (cut)", "train s")
    for version in versions:
        meta = json.loads((directory / version / "metadata.json").read_text())
        cut = meta["metrics"]["validation"]["one_cut_per_run"]
        table.add_row(
            version,
            meta["created"],
            meta["model"]["kind"],
            str(meta["data"]["runs"]),
            str(meta["features"]["count"]),
            f"{cut['rmse']:.2f}",
            f"{meta['metrics']['train_seconds']:.1f}",
        )
    console.print(table)

"""``werk twin``: the plant file and its Asset Administration Shells."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from werk.core import WerkError

twin_app = typer.Typer(
    help="The digital twin: check the plant file, show it, export and import AAS files.",
    no_args_is_help=True,
)
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

PlantOption = Annotated[
    Path | None,
    typer.Option(
        "--plant",
        "-p",
        help="plant file (.toml or .yaml); default: `plant` in werk.toml, else ./plant.toml",
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="werk.toml (default: ./werk.toml when present)"),
]


def _plant_path(plant: Path | None, config: Path | None) -> Path:
    if plant is not None:
        return plant
    from werk.cli import _settings

    configured = _settings(config).plant
    return Path(configured) if configured else Path("plant.toml")


def _load(plant: Path | None, config: Path | None):  # type: ignore[no-untyped-def]
    from werk.twin.plant import load_plant

    try:
        return load_plant(_plant_path(plant, config))
    except WerkError as error:
        errors.print(str(error), markup=False, highlight=False)
        raise typer.Exit(1) from None


@twin_app.command("check")
def check(
    file: Annotated[Path | None, typer.Argument(help="plant file, or an .aasx/.json/.xml")] = None,
    plant: PlantOption = None,
    config: ConfigOption = None,
) -> None:
    """Validate a plant file (every problem, with line and field) or an AAS file (strictly)."""
    target = file or _plant_path(plant, config)
    if target.suffix.lower() in {".aasx", ".json", ".xml"}:
        from werk.twin.files import import_environment

        try:
            result = import_environment(target, strict=False)
        except WerkError as error:
            errors.print(f"[red]error:[/red] {error}")
            raise typer.Exit(1) from None
        _print_report(result.report)
        console.print(
            f"{target}: {len(result.env.shells())} shells, {len(result.env.submodels())} submodels"
        )
        if result.errors:
            raise typer.Exit(2)
        return
    loaded = _load(target, None)
    signals = sum(1 for _ in loaded.signals())
    console.print(f"{target}: [green]valid[/green], {len(loaded.assets)} assets, {signals} signals")


@twin_app.command("show")
def show(plant: PlantOption = None, config: ConfigOption = None) -> None:
    """Print the plant's ISA-95 hierarchy with each asset's signals and material flow."""
    loaded = _load(plant, config)
    tree = Tree(f"[bold]{loaded.name}[/bold] ({loaded.id})")
    nodes: dict[str, Tree] = {}
    for _, asset in loaded.walk():
        parent = nodes.get(asset.parent or "", tree)
        label = f"[cyan]{asset.level}[/cyan] [bold]{asset.id}[/bold]"
        if asset.name and asset.name != asset.id:
            label += f" {asset.name}"
        if asset.nameplate is not None:
            plate = asset.nameplate
            label += f" [dim]({plate.manufacturer_name}, {plate.product_designation})[/dim]"
        if asset.feeds:
            label += f" [yellow]→ {', '.join(asset.feeds)}[/yellow]"
        node = parent.add(label)
        for signal in asset.signals:
            source = f" [dim]{signal.source}[/dim]" if signal.source else ""
            node.add(f"{signal.id} [green]{signal.signal.unit}[/green]{source}")
        nodes[asset.id] = node
    console.print(tree)


@twin_app.command("export")
def export(
    output: Annotated[Path, typer.Option("--output", "-o", help="file to write")],
    fmt: Annotated[
        str | None, typer.Option("--format", "-f", help="aasx, json or xml (default: by suffix)")
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(help="werk URL the time series link to (default: the configured API)"),
    ] = None,
    plant: PlantOption = None,
    config: ConfigOption = None,
) -> None:
    """Build the AAS of every asset from the plant file and write it as AASX, JSON or XML."""
    from werk.cli import _settings
    from werk.twin.aas import build_environment
    from werk.twin.files import export_environment

    loaded = _load(plant, config)
    if base_url is None:
        base_url = _settings(config).api.url
    env = build_environment(loaded, base_url=base_url)
    try:
        written = export_environment(env, output, fmt=fmt)
    except (WerkError, OSError) as error:
        errors.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    console.print(
        f"wrote {written}: {len(env.shells())} shells, {len(env.submodels())} submodels, "
        f"{len(env.files)} supplementary files"
    )


@twin_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="an .aasx, .json or .xml file")],
    strict: Annotated[
        bool,
        typer.Option(
            "--strict/--failsafe",
            help="strict: refuse the file on the first violation; failsafe: keep what is valid",
        ),
    ] = False,
    twin_dir: Annotated[
        Path | None,
        typer.Option(help="twin repository folder (default: twin.directory of werk.toml)"),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="write the imported environment to this file instead"),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Import an AAS file into the twin repository, printing every problem found."""
    from werk.twin.files import export_environment, import_environment

    try:
        result = import_environment(file, strict=strict)
    except WerkError as error:
        errors.print(f"[red]refused:[/red] {error}", markup=True, highlight=False)
        raise typer.Exit(2) from None
    _print_report(result.report)
    env = result.env
    if not len(env):
        errors.print("[red]nothing to import[/red]")
        raise typer.Exit(2)
    if output is not None:
        export_environment(env, output)
        where = str(output)
    else:
        from werk.cli import _settings
        from werk.twin.repository import TwinRepository

        directory = twin_dir or Path(_settings(config).twin.directory)
        try:
            count = TwinRepository(directory).load_environment(list(env.objects))
        except WerkError as error:
            errors.print(f"[red]error:[/red] {error}")
            raise typer.Exit(1) from None
        where = f"{directory} ({count} identifiables)"
    console.print(
        f"imported {len(env.shells())} shells, {len(env.submodels())} submodels, "
        f"{len(env.concept_descriptions())} concept descriptions into {where}"
    )


def _print_report(report: list) -> None:  # type: ignore[type-arg]
    if not report:
        return
    table = Table("where", "rule", "problem", "dropped")
    for issue in report[:50]:
        style = "red" if issue.level == "error" else "yellow"
        table.add_row(issue.path, f"[{style}]{issue.rule}[/{style}]", issue.message, issue.dropped)
    console.print(table)
    if len(report) > 50:
        console.print(f"... and {len(report) - 50} more")

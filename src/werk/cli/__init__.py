"""The ``werk`` command."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from werk import __version__
from werk.cli.alarms import alarms_app
from werk.cli.analytics import analytics_app
from werk.cli.certs import certs
from werk.cli.connect import connect_app
from werk.cli.evaluate import eval_app
from werk.cli.maintenance import maintenance_app
from werk.cli.output import console, errors, fail
from werk.cli.plan import plan_app
from werk.cli.sim import sim_app
from werk.cli.twin import twin_app
from werk.core import WerkError, iso, parse_duration, parse_time
from werk.settings import Settings, load_settings

if TYPE_CHECKING:
    from werk.runtime import Partition

app = typer.Typer(
    name="werk",
    help="werk: connect machines, keep their history and twin, and see whether the AI helps.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
token_app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(twin_app, name="twin")
app.add_typer(plan_app, name="plan")
app.add_typer(maintenance_app, name="maintenance")
app.add_typer(connect_app, name="connect")
app.add_typer(sim_app, name="sim")
app.add_typer(alarms_app, name="alarms")
app.add_typer(analytics_app, name="analytics")
app.add_typer(eval_app, name="eval")
app.command("certs")(certs)


ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="werk.toml (default: ./werk.toml when present)"),
]

SPARKS = "▁▂▃▄▅▆▇█"


def _settings(config: Path | None, **overrides: Any) -> Settings:
    if config is None and Path("werk.toml").is_file():
        config = Path("werk.toml")
    return load_settings(config, **overrides)


def _version(value: bool) -> None:
    if value:
        console.print(f"werk {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise here
    if not verbose:  # asyncua logs every request and every node it adds at INFO
        logging.getLogger("asyncua").setLevel(logging.WARNING)


@app.command()
def demo(
    port: Annotated[int, typer.Option(envvar="WERK_API__PORT", help="HTTP port")] = 8080,
    data_dir: Annotated[Path, typer.Option(help="where the demo keeps its history")] = Path("var"),
) -> None:
    """Run werk with a built-in demo line: history, API and live feed on http://127.0.0.1:PORT."""
    from werk.api.tokens import Role, TokenStore

    settings = load_settings(
        None,
        demo=True,
        store={"url": f"duckdb:///{data_dir / 'demo.duckdb'}"},
        api={"port": port, "tokens_file": str(data_dir / "tokens.json")},
    )

    def announce() -> None:
        tokens = TokenStore(Path(settings.api.tokens_file))
        for info in tokens.list():  # fresh demo tokens each run; old ones stop working
            if info.name.startswith("demo-"):
                tokens.revoke(info.id)
        _, operator = tokens.create(Role.operator, "demo-operator")
        _, viewer = tokens.create(Role.viewer, "demo-viewer")
        base = f"http://127.0.0.1:{port}"
        history = f"{base}/api/v1/history?signal=press1.temperature&start=1m"
        console.print(
            f"[bold]werk demo[/bold] {__version__}: a press line of 3 machines, 18 signals"
        )
        console.print(f"  dashboard and API   {base}/")
        console.print(f"  API docs            {base}/docs")
        console.print(f"  latest values       curl '{base}/api/v1/latest'")
        console.print(f"  history (1 min)     curl '{history}'")
        console.print(f"  live feed           ws://127.0.0.1:{port}/api/v1/live")
        console.print(f"  AAS shells (twin)   curl '{base}/api/v3.0/shells'")
        console.print(f"  operator token      {operator}")
        console.print(f"  viewer token        {viewer}")
        console.print("  stop with Ctrl-C")

    _run_server(settings, on_ready=announce)


@app.command()
def serve(
    config: ConfigOption = None,
    role: Annotated[
        str,
        typer.Option(
            help="all: one process does everything; api: an API replica of a scaled-out werk "
            "(live feed from the bus, writes to the bus, no recorder); auto: api on nats://, "
            "else all"
        ),
    ] = "auto",
) -> None:
    """Run the platform as configured in werk.toml (API on 127.0.0.1:8080 unless configured)."""
    from werk.runtime import API, ROLES

    settings = _settings(config)
    if role == "auto":
        role = "all" if settings.bus.url.lower().startswith("memory:") else "api"
    if role not in ("all", "api"):
        raise fail(f"--role {role}: choose all, api or auto")
    roles = ROLES if role == "all" else frozenset({API})
    url = f"http://{settings.api.host}:{settings.api.port}/"
    _run_server(
        settings,
        on_ready=lambda: console.print(f"werk {__version__} serving ({role}) on {url}"),
        roles=roles,
    )


PortOption = Annotated[
    int | None,
    typer.Option(envvar="WERK_API__PORT", help="HTTP port (health, status, sample writes)"),
]


@app.command()
def ingest(config: ConfigOption = None, port: PortOption = None) -> None:
    """Run the connectors (and HTTP sample writes) of a scaled-out werk: field -> bus.

    Samples pass the data-quality screen here; a write is answered once JetStream stored it.
    Recording and analytics are the workers' (werk worker); see docs/scale-out.md.
    """
    from werk.runtime import INGEST

    settings = _settings(config, **({"api": {"port": port}} if port is not None else {}))
    _run_server(
        settings,
        on_ready=lambda: console.print(f"werk {__version__} ingest on {settings.api.url}/"),
        roles=frozenset({INGEST}),
    )


@app.command()
def worker(
    config: ConfigOption = None,
    partition: Annotated[
        str,
        typer.Option(
            envvar="WERK_PARTITION",
            help="i/N: this worker runs the analytics of the assets that hash to i of N "
            "(0 also runs alarms, retention and maintenance); recording is shared by all",
        ),
    ] = "0/1",
    port: PortOption = None,
) -> None:
    """Run a worker of a scaled-out werk: bus -> store (a consumer group), twin state, analytics."""
    from werk.runtime import WORKER, Partition

    try:
        parsed = Partition.parse(partition)
    except ValueError as error:
        raise fail(str(error)) from None
    settings = _settings(config, **({"api": {"port": port}} if port is not None else {}))
    _run_server(
        settings,
        on_ready=lambda: console.print(
            f"werk {__version__} worker {parsed} on {settings.api.url}/"
        ),
        roles=WORKER,
        partition=parsed,
    )


def _run_server(
    settings: Settings,
    on_ready: Callable[[], None] | None = None,
    roles: frozenset[str] | None = None,
    partition: Partition | None = None,
) -> None:
    from werk.app import serve as serve_app
    from werk.runtime import ROLES

    async def run() -> None:
        ready = asyncio.Event()
        server = asyncio.create_task(
            serve_app(settings, ready=ready, roles=roles or ROLES, partition=partition)
        )
        waiter = asyncio.create_task(ready.wait())
        await asyncio.wait({server, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if ready.is_set() and on_ready is not None:
            on_ready()
        waiter.cancel()
        await server

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    except WerkError as error:
        raise fail(str(error)) from None
    except OSError as error:
        raise fail(f"cannot serve on {settings.api.host}:{settings.api.port}: {error}") from None


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="viewer, operator, engineer or admin")] = "viewer",
    name: Annotated[str, typer.Option(help="who or what uses it")] = "cli",
    config: ConfigOption = None,
) -> None:
    """Make a token. It is printed once; only its hash is kept."""
    from werk.api.tokens import Role, TokenStore

    settings = _settings(config)
    try:
        parsed = Role.parse(role)
    except ValueError as error:
        raise fail(str(error)) from None
    info, token = TokenStore(Path(settings.api.tokens_file)).create(parsed, name)
    errors.print(f"token {info.id} ({parsed.name}, {name}); keep it safe, it is not shown again:")
    print(token)


@token_app.command("list")
def token_list(config: ConfigOption = None) -> None:
    """List tokens (ids, names and roles; never the secrets)."""
    from werk.api.tokens import TokenStore

    settings = _settings(config)
    table = Table("id", "name", "role", "created")
    for info in TokenStore(Path(settings.api.tokens_file)).list():
        table.add_row(info.id, info.name, info.role.name, iso(info.created)[:19] + "Z")
    console.print(table)


@token_app.command("revoke")
def token_revoke(token_id: str, config: ConfigOption = None) -> None:
    """Revoke a token by id."""
    from werk.api.tokens import TokenStore

    settings = _settings(config)
    if not TokenStore(Path(settings.api.tokens_file)).revoke(token_id):
        raise fail(f"no token with id {token_id}")
    console.print(f"revoked {token_id}")


@app.command("import")
def import_file(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV (long: signal,timestamp,value[,quality] or wide: "
            "timestamp,<signal>...) or Parquet"
        ),
    ],
    config: ConfigOption = None,
    api: Annotated[
        str | None,
        typer.Option(help="post to a running werk at this URL instead of opening the store"),
    ] = None,
    token: Annotated[
        str | None, typer.Option(envvar="WERK_TOKEN", help="operator token for --api")
    ] = None,
) -> None:
    """Import history from a file, validating every row; good rows are kept, bad ones reported."""
    from werk.cli.importing import import_into_store, import_via_api

    settings = _settings(config)
    if not file.is_file():
        raise fail(f"{file} not found")
    try:
        if api:
            if not token:
                raise fail("--api needs an operator token: --token or WERK_TOKEN")
            report = import_via_api(file, settings.catalog(), api, token, console)
        else:
            report = import_into_store(file, settings, console)
    except WerkError as error:
        raise fail(str(error)) from None
    _print_report(report)
    if report.errors and not report.accepted:
        raise typer.Exit(2)


def _print_report(report: Any) -> None:
    samples = f" ({report.submitted} samples)" if report.submitted != report.rows else ""
    console.print(
        f"{report.rows} rows{samples} read: [green]{report.accepted} stored[/green], "
        f"[red]{len(report.errors)} rejected[/red]"
    )
    for rule, count in sorted(report.warnings.items()):
        console.print(f"[yellow]{count} stored but flagged uncertain[/yellow] ({rule})")
    if report.errors:
        table = Table("row", "signal", "field", "rule", "problem")
        for error in report.errors[:20]:
            table.add_row(
                str(error.row), error.signal or "", error.field, error.rule, error.message
            )
        console.print(table)
        if len(report.errors) > 20:
            console.print(f"... and {len(report.errors) - 20} more")


@app.command()
def query(
    signal: Annotated[str, typer.Argument(help="signal id, e.g. press1.temperature")],
    since: Annotated[str, typer.Option(help="start: 1h, 30m, ISO 8601 or ns")] = "1h",
    until: Annotated[str, typer.Option(help="end: now, ISO 8601 or ns")] = "now",
    bucket: Annotated[
        str | None, typer.Option(help="rollup bucket, e.g. 1m (default: about 60 buckets)")
    ] = None,
    raw: Annotated[bool, typer.Option(help="print raw samples instead of a rollup")] = False,
    limit: Annotated[int, typer.Option(help="raw samples at most")] = 50,
    config: ConfigOption = None,
    api: Annotated[str | None, typer.Option(help="werk URL (default: the configured one)")] = None,
    token: Annotated[str | None, typer.Option(envvar="WERK_TOKEN", help="viewer token")] = None,
) -> None:
    """Print a signal's history: a rollup table with a sparkline, or raw samples.

    Asks the running werk over HTTP when one answers (its store may be locked by it), else reads
    the configured store directly.
    """
    from werk.cli.query import fetch_history

    settings = _settings(config)
    now = time.time_ns()
    try:
        start, end = parse_time(since, now), parse_time(until, now)
        bucket_ns = parse_duration(bucket) if bucket else _nice_bucket(end - start)
    except ValueError as error:
        raise fail(str(error)) from None
    base = api or settings.api.url
    try:
        rows = fetch_history(settings, base, token, signal, start, end, bucket_ns, raw, limit)
    except WerkError as error:
        raise fail(str(error)) from None
    if not rows:
        console.print(f"no samples of {signal} between {iso(start)} and {iso(end)}")
        return
    if raw:
        table = Table("timestamp (UTC)", "value", "quality")
        for row in rows:
            table.add_row(_short(row["timestamp"], 23), _number(row["value"]), row["quality"])
    else:
        table = Table("bucket (UTC)", "min", "mean", "max", "last", "count")
        for row in rows:
            table.add_row(
                _short(row["timestamp"], 19),
                *(_number(row[k]) for k in ("min", "mean", "max", "last")),
                str(row["count"]),
            )
    console.print(table)
    if not raw:
        console.print(f"{signal}  {sparkline([row['mean'] for row in rows])}")


def sparkline(values: list[float | None]) -> str:
    finite = [v for v in values if v is not None and v == v]
    if not finite:
        return ""
    low, high = min(finite), max(finite)
    span = (high - low) or 1.0
    return "".join(
        " " if v is None or v != v else SPARKS[round((v - low) / span * (len(SPARKS) - 1))]
        for v in values
    )


def _number(value: float | None) -> str:
    """A value for a table; NaN travels as null (a BAD sample may carry no value)."""
    return "—" if value is None else f"{value:.6g}"


def _short(timestamp: str, length: int) -> str:
    """ISO 8601 cut to ``length`` characters, for narrow terminals (it says UTC in the header)."""
    return timestamp[:length].replace("T", " ")


def _nice_bucket(span_ns: int) -> int:
    for text in ("1s", "5s", "10s", "30s", "1m", "5m", "15m", "1h", "6h", "1d", "7d"):
        if span_ns / parse_duration(text) <= 60:
            return parse_duration(text)
    return parse_duration("30d")


if __name__ == "__main__":  # pragma: no cover
    app()

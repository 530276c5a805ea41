"""``werk analytics``: SPC charts, OEE, before/after KPIs, data quality and "is it helping?"
from a running werk.

Every command asks the API (``--api``, default the configured URL) with a token (``--token`` or
``WERK_TOKEN``; a viewer token reads, marking a change needs an engineer's), so the figures are
the ones the dashboard shows. Times are what the API takes: ``24h`` (ago), ISO 8601 or ns.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from werk.cli.http import api_url, call_api, in_path
from werk.cli.output import console, fail

analytics_app = typer.Typer(
    help='SPC, OEE, before/after KPIs, data quality and "is it helping?".', no_args_is_help=True
)

ApiOption = Annotated[str | None, typer.Option("--api", help="werk URL (default: configured)")]
TokenOption = Annotated[
    str | None, typer.Option(envvar="WERK_TOKEN", help="API token (viewer; engineer to mark)")
]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="werk.toml (default: ./werk.toml if present)")
]
Since = Annotated[str, typer.Option(help="start: 24h (ago), ISO 8601 or ns")]
Until = Annotated[str, typer.Option(help="end: now, ISO 8601 or ns")]
JsonFlag = Annotated[bool, typer.Option("--json", help="print the API's answer as JSON")]
IdealCycle = Annotated[
    float | None,
    typer.Option(help="ideal cycle time per part, s (default: the plant file's, else 2)"),
]
Shifts = Annotated[
    str | None,
    typer.Option(
        help="shifts, e.g. early=06:00-14:00,late=14:00-22:00 (default: the asset's calendar in "
        "the plant file, else three shifts)"
    ),
]
Zone = Annotated[
    str | None,
    typer.Option(
        "--tz",
        help="the shifts' time zone, e.g. Europe/Berlin (default: the plant file's, else UTC)",
    ),
]


def _share(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def _number(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}g}"


def _minutes(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 60:.1f}"


# -- rendering (kept apart from HTTP so the answers' shapes are tested) ---------------------------


def render_spc(body: dict[str, Any], out: Console = console, last: int = 20) -> None:
    limits = body["limits"]
    chart = "I-MR" if limits["chart"] == "individuals" else f"X̄-R (n = {limits['subgroup']})"
    out.print(
        f"{escape(body['signal'])}: {chart} from {body['values']} values, limits from "
        f"{limits['baseline']} {'points' if limits['subgroup'] == 1 else 'subgroups'}"
    )
    out.print(
        f"centre {limits['center']:.6g}  LCL {limits['lcl']:.6g}  UCL {limits['ucl']:.6g}  "
        f"sigma {limits['sigma']:.4g}  range: centre {limits['range_center']:.4g}, "
        f"UCL {limits['range_ucl']:.4g}"
    )
    cap = body.get("capability")
    if cap:
        out.print(
            f"capability: Cp {_number(cap['cp'])}  Cpk {_number(cap['cpk'])}  "
            f"Pp {_number(cap['pp'])}  Ppk {_number(cap['ppk'])}  (n = {cap['count']})"
        )
    counts = ", ".join(f"{name} {n}" for name, n in body["counts"].items() if n)
    out.print(f"violations: {counts or 'none'}")
    if body["violations"]:
        table = Table("time (UTC)", "rule", "value", "z", "what", title=f"last {last}")
        for v in body["violations"][-last:]:
            table.add_row(
                str(v["timestamp"])[:19].replace("T", " "),
                v["rule"],
                f"{v['value']:.6g}",
                _number(v["z"]),
                v["description"],
            )
        out.print(table)


def render_oee(body: dict[str, Any], out: Console = console) -> None:
    for machine in body["assets"]:
        table = Table(
            "period",
            "A",
            "P",
            "Q",
            "OEE",
            "good",
            "scrap",
            "down min",
            "setup min",
            "small stops min",
            "MTBF min",
            "MTTR min",
            title=f"{escape(machine['asset'])}: OEE by {body['by']} "
            f"(ideal cycle {machine['ideal_cycle_s']:g} s)",
        )
        for row in [*machine["periods"], {**machine["total"], "period": "total"}]:
            losses = row["losses"]
            table.add_row(
                escape(row["period"]),
                _share(row["availability"]),
                _share(row["performance"]),
                _share(row["quality"]),
                _share(row["oee"]),
                f"{row['good']:g}",
                f"{row['scrap']:g}",
                _minutes(losses["breakdowns_s"]),
                _minutes(losses["setup_s"]),
                _minutes(losses["small_stops_s"]),
                _minutes(row["mtbf_s"]),
                _minutes(row["mttr_s"]),
            )
        out.print(table)


def render_compare(body: dict[str, Any], out: Console = console) -> None:
    change = body["change"]
    what = f"{change.get('title') or 'change'} at {change.get('at')}"
    unit = "" if body["unit"] == "1" else f" {body['unit']}"
    low, high = body["interval"]
    out.print(f"{escape(body['kpi'])} of {escape(body['asset'])} around {escape(what)}")
    out.print(
        f"before: {body['before']['mean']:.4g}{unit} (n = {body['before']['n']})   "
        f"after: {body['after']['mean']:.4g}{unit} (n = {body['after']['n']})"
    )
    out.print(
        f"difference {body['difference']:+.4g}{unit}, {100 * body['confidence']:g} % interval "
        f"[{low:+.4g}, {high:+.4g}] ({body['method']})"
    )
    style = {"better": "green", "worse": "red"}.get(body["verdict"], "yellow")
    out.print(f"[{style}]{body['verdict']}[/{style}]")


# -- commands -------------------------------------------------------------------------------------


def _show(
    path: str,
    params: dict[str, Any],
    token: str | None,
    base: str,
    as_json: bool,
    render: Callable[[dict[str, Any]], None],
) -> None:
    """GET ``path`` and print the answer: as JSON, or through ``render``."""
    body = call_api("GET", base, path, token, params=params)
    if as_json:
        console.print_json(json.dumps(body))
    else:
        render(body)


@analytics_app.command("spc")
def spc_command(
    signal: Annotated[str, typer.Argument(help="signal id, e.g. press1.temperature")],
    since: Since = "24h",
    until: Until = "now",
    subgroup: Annotated[int, typer.Option(help="1: I-MR; 2-10: X̄-R")] = 1,
    baseline_end: Annotated[
        str | None, typer.Option(help="limits from points before this (default: all)")
    ] = None,
    lsl: Annotated[float | None, typer.Option(help="lower spec limit")] = None,
    usl: Annotated[float | None, typer.Option(help="upper spec limit")] = None,
    rules: Annotated[str | None, typer.Option(help="Nelson rules, e.g. 1,2,5 or 'we'")] = None,
    as_json: JsonFlag = False,
    api: ApiOption = None,
    token: TokenOption = None,
    config: ConfigOption = None,
) -> None:
    """A Shewhart chart of a signal: limits, Nelson-rule violations, Cp/Cpk with spec limits."""
    params = {
        "start": since,
        "end": until,
        "subgroup": subgroup,
        "baseline_end": baseline_end,
        "lsl": lsl,
        "usl": usl,
        "rules": rules,
        "points": "false",
    }
    _show(f"/spc/{in_path(signal)}", params, token, api_url(api, config), as_json, render_spc)


@analytics_app.command("oee")
def oee_command(
    asset: Annotated[list[str], typer.Argument(help="asset id(s)")],
    since: Since = "24h",
    until: Until = "now",
    by: Annotated[str, typer.Option(help="shift, day or total")] = "shift",
    ideal_cycle: IdealCycle = None,
    shifts: Shifts = None,
    tz: Zone = None,
    breaks: Annotated[str | None, typer.Option(help="planned breaks, e.g. 12:00-12:30")] = None,
    as_json: JsonFlag = False,
    api: ApiOption = None,
    token: TokenOption = None,
    config: ConfigOption = None,
) -> None:
    """OEE per ISO 22400 (availability × performance × quality) with losses, MTBF and MTTR."""
    params = {
        "asset": asset,
        "start": since,
        "end": until,
        "by": by,
        "ideal_cycle_s": ideal_cycle,
        "shifts": shifts,
        "tz": tz,
        "breaks": breaks,
    }
    _show("/oee", params, token, api_url(api, config), as_json, render_oee)


@analytics_app.command("compare")
def compare_command(
    asset: Annotated[str, typer.Argument(help="asset id")],
    change: Annotated[str | None, typer.Option(help="a marked change's id")] = None,
    at: Annotated[str | None, typer.Option(help="or the change time")] = None,
    kpi: Annotated[
        str, typer.Option(help="oee, availability, performance, quality, scrap, downtime or alarms")
    ] = "oee",
    days: Annotated[int, typer.Option(help="days on each side")] = 14,
    method: Annotated[str, typer.Option(help="welch or bootstrap")] = "welch",
    confidence: Annotated[float, typer.Option(help="e.g. 0.95")] = 0.95,
    ideal_cycle: IdealCycle = None,
    shifts: Shifts = None,
    tz: Zone = None,
    as_json: JsonFlag = False,
    api: ApiOption = None,
    token: TokenOption = None,
    config: ConfigOption = None,
) -> None:
    """A KPI's daily values before and after a change: difference, interval and verdict."""
    if (change is None) == (at is None):
        raise fail("give --change (a marked change's id) or --at (a time), one of them")
    params = {
        "asset": asset,
        "change": change,
        "at": at,
        "kpi": kpi,
        "days": days,
        "method": method,
        "confidence": confidence,
        "ideal_cycle_s": ideal_cycle,
        "shifts": shifts,
        "tz": tz,
    }
    _show("/kpis/compare", params, token, api_url(api, config), as_json, render_compare)


@analytics_app.command("mark")
def mark_command(
    title: Annotated[str, typer.Argument(help="what changed, in a line")],
    at: Annotated[str | None, typer.Option(help="when it took effect (default: now)")] = None,
    description: Annotated[str, typer.Option(help="more detail")] = "",
    asset: Annotated[str | None, typer.Option(help="the asset it concerns")] = None,
    api: ApiOption = None,
    token: TokenOption = None,
    config: ConfigOption = None,
) -> None:
    """Mark a change (engineer token), to compare KPIs before and after it later."""
    body = {"title": title, "description": description, "at": at, "asset": asset}
    made = call_api("POST", api_url(api, config), "/changes", token, body=body)
    console.print(f"marked {made['id']}: {escape(made['title'])} at {made['at']}")


@analytics_app.command("changes")
def changes_command(
    asset: Annotated[str | None, typer.Option(help="only this asset's")] = None,
    api: ApiOption = None,
    token: TokenOption = None,
    config: ConfigOption = None,
) -> None:
    """The marked changes of the last year, newest first."""
    body = call_api("GET", api_url(api, config), "/changes", token, params={"asset": asset})
    table = Table("id", "at (UTC)", "asset", "title", "by")
    for c in body["changes"]:
        table.add_row(
            c["id"],
            str(c["at"])[:19],
            escape(c["asset"] or ""),
            escape(c["title"] or ""),
            escape(c["user"] or ""),
        )
    console.print(table)


def render_helping(body: dict[str, Any], out: Console = console) -> None:
    """The "is it helping?" page: findings first, then each part's headline figures."""
    out.print(f"[bold]Is it helping?[/] {body['start'][:19]} – {body['end'][:19]} UTC")
    for finding in body["findings"] or ["nothing needs a look"]:
        out.print(f"  • {escape(finding)}")
    alarms = body["alarms"]
    precision = alarms["precision"]
    rates = alarms["rates"]
    out.print(
        f"alarms: {rates['alarms']}, {rates['per_operator_hour']} per operator-hour "
        f"({rates['benchmark']}), precision {_share(precision['precision'])} "
        f"({precision['real']} real, {precision['false']} false, {precision['unjudged']} unjudged)"
    )
    table = Table("detector", "on", "anomalous", "worst input drift (PSI)", "active")
    for d in body["detectors"]:
        drift = d["drift"] or {}
        table.add_row(
            escape(d["detector"]),
            escape(d["source"]),
            _share(d["anomalous_share"]),
            _number(drift.get("worst_psi")),
            "yes" if d["active"] else "",
        )
    if body["detectors"]:
        out.print(table)
    render_quality(body["quality"], out)


def render_quality(assets: dict[str, Any], out: Console = console) -> None:
    table = Table("asset", "signals", "fresh", "plausible", "coverage", "problems")
    for asset, row in sorted(assets.items()):
        problems = "; ".join(f"{s}: {', '.join(why)}" for s, why in row["problems"].items())
        table.add_row(
            escape(asset),
            str(row["signals"]),
            str(row["fresh"]),
            str(row["plausible"]),
            _share(row["coverage"]),
            escape(problems[:120]),
        )
    out.print(table)


@analytics_app.command("helping")
def helping_command(
    since: Since = "7d",
    until: Until = "now",
    as_json: JsonFlag = False,
    api: ApiOption = None,
    token: TokenOption = None,
    config: ConfigOption = None,
) -> None:
    """Is it helping? Alarm precision and load, detector drift, data-quality coverage."""
    params = {"start": since, "end": None if until == "now" else until}
    _show("/helping", params, token, api_url(api, config), as_json, render_helping)


@analytics_app.command("quality")
def quality_command(
    asset: Annotated[str | None, typer.Option(help="only this asset")] = None,
    as_json: JsonFlag = False,
    api: ApiOption = None,
    token: TokenOption = None,
    config: ConfigOption = None,
) -> None:
    """Data-quality coverage per asset: signals fresh and plausible, and what is wrong."""
    _show(
        "/quality",
        {"asset": asset},
        token,
        api_url(api, config),
        as_json,
        lambda body: render_quality(body["assets"]),
    )

"""``werk alarms``: list, acknowledge, shelve and judge alarms on a running werk, over HTTP.

Every command talks to the API (``--api``, default the configured URL) with a token (``--token``
or ``WERK_TOKEN``): a viewer token reads, an operator token acknowledges and shelves. Actions are
recorded under the token's name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from werk.cli.http import api_url, call_api, in_path
from werk.cli.output import console, fail
from werk.core import iso, parse_duration

alarms_app = typer.Typer(
    help="Alarms: list, acknowledge, shelve; audit trail and KPIs.", no_args_is_help=True
)

ApiOption = Annotated[
    str | None, typer.Option("--api", help="werk URL (default: the configured one)")
]
TokenOption = Annotated[
    str | None,
    typer.Option(envvar="WERK_TOKEN", help="API token: viewer to read, operator to act"),
]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="werk.toml (default: ./werk.toml if present)")
]

_STATE_STYLE = {
    "unack": "bold red",
    "acked": "yellow",
    "rtnunack": "magenta",
    "shelved": "dim",
    "normal": "green",
}


def _when(ns: int | None) -> str:
    return iso(ns)[:19].replace("T", " ") if ns else ""


@alarms_app.command("list")
def list_command(
    state: Annotated[
        list[str] | None, typer.Option(help="only this state (repeatable): unack, acked, ...")
    ] = None,
    priority: Annotated[
        str | None, typer.Option(help="at least: low, medium, high, urgent")
    ] = None,
    source: Annotated[str | None, typer.Option(help="signal or asset")] = None,
    asset: Annotated[str | None, typer.Option(help="asset")] = None,
    api: ApiOption = None,
    token: TokenOption = None,
    config: ConfigOption = None,
) -> None:
    """Alarms needing attention: active, unacknowledged, shelved (most urgent first)."""
    params: dict[str, Any] = {
        "state": state or [],
        "priority": priority,
        "source": source,
        "asset": asset,
    }
    body = call_api(
        "GET",
        api_url(api, config),
        "/alarms",
        token,
        params={k: v for k, v in params.items() if v},
    )
    if not body["alarms"]:
        console.print("no alarms need attention")
        return
    table = Table("id", "state", "priority", "raised (UTC)", "message", "acknowledged by")
    for alarm in body["alarms"]:
        state_name = alarm["state"]
        style = _STATE_STYLE.get(state_name, "")
        table.add_row(
            escape(alarm["id"]),
            f"[{style}]{state_name}[/{style}]" if style else state_name,
            alarm["priority"],
            _when(alarm.get("raised_at")),
            escape(alarm.get("message") or ""),
            escape(alarm.get("acked_by") or ""),
        )
    console.print(table)


@alarms_app.command("ack")
def ack_command(
    alarm_id: Annotated[str, typer.Argument(help="the alarm, e.g. press1.temperature@high")],
    verdict: Annotated[
        str | None, typer.Option(help="real or false: was it a real problem?")
    ] = None,
    comment: Annotated[str | None, typer.Option(help="a note for the log")] = None,
    api: ApiOption = None,
    token: TokenOption = None,
    config: ConfigOption = None,
) -> None:
    """Acknowledge an alarm (operator token)."""
    if verdict is not None and verdict.lower() not in ("real", "false"):
        raise fail(f"--verdict {verdict!r}: real or false")
    body = {"verdict": verdict.lower() if verdict else None, "comment": comment}
    alarm = call_api(
        "POST", api_url(api, config), f"/alarms/{in_path(alarm_id)}/acknowledge", token, body=body
    )
    console.print(
        f"{escape(alarm['id'])}: {alarm['state']} (acknowledged by "
        f"{escape(alarm.get('acked_by') or 'anonymous')})"
    )


@alarms_app.command("shelve")
def shelve_command(
    alarm_id: Annotated[str, typer.Argument(help="the alarm")],
    duration: Annotated[str, typer.Option("--for", help="how long: 30m, 2h ...")] = "1h",
    reason: Annotated[str | None, typer.Option(help="why (kept in the log)")] = None,
    api: ApiOption = None,
    token: TokenOption = None,
    config: ConfigOption = None,
) -> None:
    """Shelve an alarm for a while (operator token); it comes back by itself."""
    try:
        seconds = parse_duration(duration) / 1e9
    except ValueError as error:
        raise fail(str(error)) from None
    alarm = call_api(
        "POST",
        api_url(api, config),
        f"/alarms/{in_path(alarm_id)}/shelve",
        token,
        body={"duration_s": seconds, "reason": reason},
    )
    capped = " (cut to the maximum allowed)" if alarm.get("capped") else ""
    console.print(
        f"{escape(alarm['id'])}: shelved until {_when(alarm['shelved_until'])} UTC{capped}"
    )


@alarms_app.command("unshelve")
def unshelve_command(
    alarm_id: Annotated[str, typer.Argument(help="the alarm")],
    api: ApiOption = None,
    token: TokenOption = None,
    config: ConfigOption = None,
) -> None:
    """Show a shelved alarm again (operator token)."""
    alarm = call_api("POST", api_url(api, config), f"/alarms/{in_path(alarm_id)}/unshelve", token)
    console.print(f"{escape(alarm['id'])}: {alarm['state']}")


@alarms_app.command("history")
def history_command(
    alarm_id: Annotated[str | None, typer.Argument(help="one alarm (default: all)")] = None,
    since: Annotated[str, typer.Option(help="start: 24h, ISO 8601 or ns")] = "24h",
    limit: Annotated[int, typer.Option(help="events at most")] = 50,
    api: ApiOption = None,
    token: TokenOption = None,
    config: ConfigOption = None,
) -> None:
    """The audit trail: every transition, who and when, newest first."""
    params: dict[str, Any] = {"start": since, "limit": limit}
    if alarm_id:
        params["alarm"] = alarm_id
    body = call_api("GET", api_url(api, config), "/alarms/history", token, params=params)
    table = Table("time (UTC)", "alarm", "transition", "state", "by", "note")
    for event in body["events"]:
        data = event["data"]
        note = data.get("comment") or data.get("shelve_reason") or data.get("verdict") or ""
        table.add_row(
            event["timestamp"][:19].replace("T", " "),
            escape(str(data.get("alarm_id", ""))),
            event["kind"].removeprefix("alarm."),
            str(data.get("state", "")),
            escape(event.get("user") or "system"),
            escape(str(note)),
        )
    console.print(table)


@alarms_app.command("kpis")
def kpis_command(
    since: Annotated[str, typer.Option(help="start: 24h, 7d, ISO 8601 or ns")] = "24h",
    until: Annotated[str, typer.Option(help="end: now, ISO 8601 or ns")] = "now",
    api: ApiOption = None,
    token: TokenOption = None,
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
) -> None:
    """Is it helping? Alarm precision, rates per operator against ISA-18.2, floods, bad actors."""
    params = {"start": since} if until == "now" else {"start": since, "end": until}
    figures = call_api("GET", api_url(api, config), "/alarms/kpis", token, params=params)
    if as_json:
        console.print_json(data=figures)
        return
    rates, precision, ack = figures["rates"], figures["precision"], figures["time_to_acknowledge"]
    table = Table("figure", "value", "benchmark")
    table.add_row("alarms (shown to operators)", str(rates["alarms"]), "")
    table.add_row(
        "per operator-hour",
        f"{rates['per_operator_hour']:g}",
        f"{rates['benchmark']} (ISA-18.2: <= 6 acceptable, <= 12 manageable)",
    )
    table.add_row("peak per 10 min", f"{rates['peak_per_operator_10min']:g}", "flood: > 10")
    table.add_row("time in flood", f"{rates['flood_share']:.1%}", "< 1 %")
    shown = "n/a" if precision["precision"] is None else f"{precision['precision']:.0%}"
    table.add_row(
        "alarm precision",
        shown,
        f"{precision['real']} real, {precision['false']} false, {precision['unjudged']} unjudged",
    )
    mean = "n/a" if ack["mean_s"] is None else f"{ack['mean_s']:.0f} s"
    table.add_row("mean time to acknowledge", mean, f"{ack['count']} acknowledged")
    table.add_row("top-10 share", f"{figures['bad_actors']['share']:.0%}", "")
    table.add_row("chattering alarms", str(len(figures["chattering"])), "3+ in 1 min")
    table.add_row("stale alarms", str(len(figures["stale"])), "active > 24 h")
    console.print(table)
    for actor in figures["bad_actors"]["alarms"][:10]:
        console.print(f"  {actor['count']:>5}  {escape(actor['alarm_id'])}")

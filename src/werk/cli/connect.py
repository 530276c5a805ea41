"""``werk connect``: browse a device into a plant-file section; show the connectors' health."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from werk.cli.output import console, errors, fail
from werk.core import WerkError

connect_app = typer.Typer(
    help="Browse devices (OPC UA, Sparkplug B) and see the connectors' health.",
    no_args_is_help=True,
)


@connect_app.command()
def browse(
    url: Annotated[str, typer.Argument(help="opc.tcp://host:4840 or spb://host:1883")],
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option", "-o", help="protocol option key=value (JSON value), e.g. -o timeout_s=5"
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-O", help="write the section to this file")
    ] = None,
) -> None:
    """List a device's variables as a plant-file section (signals with their source)."""
    from werk.connect.discover import browsers, plant_section, protocol_of

    options = {}
    for item in option or []:
        key, sep, raw = item.partition("=")
        if not sep:
            raise fail(f"--option {item!r}: expected key=value")
        try:
            options[key] = json.loads(raw)
        except json.JSONDecodeError:
            options[key] = raw
    try:
        with console.status(f"browsing {url} ..."):
            found = asyncio.run(browsers.open(url, options))
    except WerkError as error:
        raise fail(str(error)) from None
    except (OSError, TimeoutError) as error:
        raise fail(f"cannot reach {url}: {error or type(error).__name__}") from None
    text = plant_section(found, protocol_of(url))
    if output is not None:
        output.write_text(text, encoding="utf-8")
        errors.print(f"{len(found)} variables written to {output}")
    else:
        console.print(text, markup=False, highlight=False)
        errors.print(f"{len(found)} variables found")


@connect_app.command()
def status(
    api: Annotated[
        str, typer.Option(help="the running werk's API", envvar="WERK_API_URL")
    ] = "http://127.0.0.1:8080",
    token: Annotated[str | None, typer.Option(envvar="WERK_TOKEN", help="API token")] = None,
) -> None:
    """Show every connector of a running werk: state, counters, rejected input, spool."""
    import httpx

    from werk.cli.http import raise_for_answer

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        answer = httpx.get(f"{api}/api/v1/connectors", headers=headers, timeout=10)
        raise_for_answer(answer)
    except httpx.HTTPError as error:
        raise fail(f"cannot reach {api}: {error}") from None
    except WerkError as error:
        raise fail(str(error)) from None
    table = Table("connector", "state", "messages", "samples", "rejected", "spool", "dropped")
    for c in answer.json()["connectors"]:
        rejected = ", ".join(f"{k} {v}" for k, v in c["rejected"].items()) or "0"
        table.add_row(
            c["name"],
            c["state"] + (f" ({c['last_error']})" if c["last_error"] else ""),
            str(c["messages"]),
            str(c["samples"]),
            rejected,
            str(c["pending"]),
            str(c["dropped"]),
        )
    console.print(table)

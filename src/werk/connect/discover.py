"""Browsing a device and writing what was found as a plant-file section.

Each protocol that can list its variables registers a browser, ``async browse(url, options) ->
list[Discovered]`` (``browsers.open(url, options)`` gives the coroutine): OPC UA walks the address
space, Sparkplug listens for births. ``werk connect browse`` prints the result as
``[assets.<asset>.signals.<name>]`` tables with ``source`` set, ready to paste into the plant file
(the asset tables themselves — level, parent — are the engineer's).
"""

from __future__ import annotations

import json
import re
from collections.abc import Coroutine, Iterable
from typing import Any

from werk.connect.base import PROTOCOL_OF_SCHEME, Discovered
from werk.core import Registry

browsers: Registry[Coroutine[Any, Any, list[Discovered]]] = Registry("browser", "werk.browsers")
browsers.register("opc.tcp", "werk.connect.opcua.browse:browse")
browsers.register("spb", "werk.connect.sparkplug.browse:browse")


_NOT_ID = re.compile(r"[^A-Za-z0-9_-]+")


def id_short(text: str) -> str:
    """A name fit for a plant-file key and an AAS idShort: letters, digits, _ and -."""
    cleaned = _NOT_ID.sub("_", text).strip("_-") or "signal"
    return cleaned if cleaned[0].isalpha() else f"s_{cleaned}"


def plant_section(found: Iterable[Discovered], protocol: str) -> str:
    lines: list[str] = []
    seen: set[tuple[str, str]] = set()
    for item in found:
        asset, name = id_short(item.asset), id_short(item.name)
        if (asset, name) in seen:
            continue
        seen.add((asset, name))
        lines.append(f"[assets.{asset}.signals.{name}]")
        if item.unit:
            lines.append(f"unit = {json.dumps(item.unit)}")
        if item.data_type != "double":
            lines.append(f"data_type = {json.dumps(item.data_type)}")
        if item.description:
            lines.append(f"description = {json.dumps(item.description)}")
        lines.append(f"source = {{ {protocol} = {json.dumps(item.address)} }}")
        lines.append("")
    return "\n".join(lines)


def protocol_of(url: str) -> str:
    scheme = url.split("://", 1)[0].lower()
    return PROTOCOL_OF_SCHEME.get(scheme, scheme)

"""Browse a Sparkplug B plant: listen for births and list their metrics as plant-file signals.

Births are not retained, so a browser either waits for them or asks: by default it sends one
``Node Control/Rebirth`` NCMD to every edge node it hears from without having seen its NBIRTH
(harmless by design — it is what a host does after a restart), then listens ``timeout_s``
seconds. ``rebirth = false`` only listens. Protocol metrics (``bdSeq``, ``Node Control/*`` ...)
and metrics werk does not record as samples (strings, arrays, data sets, templates) are left out;
a metric's ``engUnit`` property (Ignition's convention) becomes the signal's unit.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Mapping
from typing import Any

from werk.connect.base import ConnectError, Discovered
from werk.connect.mqtt.session import MqttSession
from werk.connect.sparkplug.codec import (
    BD_SEQ_METRIC,
    NAMESPACE,
    NUMERIC,
    PLANT_TYPE,
    Address,
    MessageType,
    SparkplugError,
    decode_payload,
    parse_topic,
    rebirth_payload,
    topic,
)
from werk.connect.stats import ConnectorStats

_PROTOCOL_PREFIXES = ("Node Control/", "Device Control/", "Properties/")


async def browse(url: str, options: Mapping[str, Any]) -> list[Discovered]:
    timeout_s = float(options.get("timeout_s", 5.0))
    ask = bool(options.get("rebirth", True))
    groups = options.get("groups", ["+"])
    groups = [groups] if isinstance(groups, str) else list(groups)
    stats = ConnectorStats("spb-browse")
    session = MqttSession(
        url,
        client_id=str(options.get("client_id") or f"werk-browse-{uuid.uuid4().hex[:8]}"),
        subscriptions=[(f"{NAMESPACE}/{g}/#", 0) for g in groups],
        stats=stats,
        persistent=False,
    )
    found: dict[str, Discovered] = {}
    born: set[tuple[str, str]] = set()
    asked: set[tuple[str, str]] = set()
    async with session:
        try:
            await asyncio.wait_for(session.wait_connected(), timeout_s)
        except TimeoutError:
            raise ConnectError(
                f"cannot reach the MQTT broker at {session.address}: {stats.last_error}"
            ) from None
        deadline = time.monotonic() + timeout_s
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                async for messages in session.batches():
                    for message in messages:
                        node = _take(message.topic, message.payload, found, born)
                        if ask and node is not None and node not in born and node not in asked:
                            asked.add(node)
                            await session.publish(
                                topic(MessageType.NCMD, *node),
                                rebirth_payload(time.time_ns() // 10**6),
                            )
    return sorted(found.values(), key=_node_first)


def _node_first(item: Discovered) -> tuple[str, str, str, str]:
    address = Address.parse(item.address)
    return (address.group, address.node, address.device or "", address.metric)


def _take(
    topic_name: str,
    payload: bytes,
    found: dict[str, Discovered],
    born: set[tuple[str, str]],
) -> tuple[str, str] | None:
    """Record the metrics of a birth; the (group, node) of any node message."""
    try:
        where = parse_topic(topic_name)
    except SparkplugError:
        return None
    if where.kind in (MessageType.STATE, MessageType.NCMD, MessageType.DCMD):
        return None
    node = (where.group, where.node)
    if where.kind not in (MessageType.NBIRTH, MessageType.DBIRTH):
        return node
    try:
        birth = decode_payload(payload)
    except SparkplugError:
        return node
    if where.kind is MessageType.NBIRTH:
        born.add(node)
    for metric in birth.metrics:
        name = metric.name
        if not name or name == BD_SEQ_METRIC or name.startswith(_PROTOCOL_PREFIXES):
            continue
        if metric.datatype not in NUMERIC:
            continue
        address = str(Address(where.group, where.node, where.device, name))
        unit = metric.properties.get("engUnit")
        found[address] = Discovered(
            asset=where.device or where.node,
            name=name,
            address=address,
            data_type=PLANT_TYPE.get(metric.datatype, "double"),
            unit=unit if isinstance(unit, str) and unit else None,
        )
    return node

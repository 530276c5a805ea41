"""The running connectors of a werk process: built from settings and the plant file, supervised,
and the executor of write commands that arrive on the bus.

Binding: a connector takes every plant signal whose ``source`` uses its protocol
(``source = { opcua = "ns=2;s=Press1.Temp" }`` goes to an ``opc.tcp://`` connector), or only those
of the assets it lists. A connector that raises out of ``run`` (a bug, not a lost connection —
connectors handle those themselves) is logged with its traceback and restarted after a backoff:
one broken connector never takes the others or the process down.

Writes: the API publishes ``command.write`` events (operator token; the event is the audit record:
who, when, which signal, which value). The connector set executes those for signals it owns and
answers with ``command.written`` or ``command.failed``, whose parent is the command.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from werk.connect.backoff import Backoff
from werk.connect.base import (
    PROTOCOL_OF_SCHEME,
    Binding,
    ConnectError,
    Connector,
    ConnectorConfig,
    Writable,
    connectors,
)
from werk.connect.outlet import Outlet, Publish
from werk.connect.spool import Spool
from werk.core import EVENTS, Bus, ConfigError, Event, SampleBatch

if TYPE_CHECKING:
    from werk.settings import ConnectorSettings
    from werk.twin.plant import Plant

log = logging.getLogger(__name__)

WRITE = "command.write"
WRITTEN = "command.written"
FAILED = "command.failed"


def bindings_for(protocol: str, plant: Plant | None, assets: Sequence[str] | None) -> list[Binding]:
    if plant is None:
        return []
    wanted = set(assets) if assets is not None else None
    found = []
    for asset in plant.assets:
        if wanted is not None and asset.id not in wanted:
            continue
        for s in asset.signals:
            if s.source is not None and s.source.protocol == protocol:
                found.append(Binding(s.id, s.source.address, s.data_type, asset.id))
    return found


class ConnectorSet:
    def __init__(self, running: Sequence[tuple[Connector, Outlet]]) -> None:
        self.running = list(running)
        self._owner: dict[str, tuple[Connector, Binding]] = {}
        for connector, _ in self.running:
            for binding in getattr(connector, "bindings", ()):
                self._owner.setdefault(binding.signal, (connector, binding))

    @classmethod
    def build(
        cls,
        configured: Sequence[ConnectorSettings],
        plant: Plant | None,
        publish: Callable[[str], Publish],
        spool_root: Path,
    ) -> ConnectorSet:
        """Open every configured connector (``publish(name)`` gives its way downstream)."""
        running = []
        for settings in configured:
            name = settings.display_name
            scheme = urlsplit(settings.url).scheme.lower()
            protocol = PROTOCOL_OF_SCHEME.get(scheme, scheme)
            bindings = tuple(bindings_for(protocol, plant, settings.assets))
            if plant is not None and settings.assets:
                unknown = [a for a in settings.assets if a not in {x.id for x in plant.assets}]
                if unknown:
                    raise ConfigError(
                        f"connector {name}: assets {', '.join(unknown)} are not in the plant file"
                    )
            config = ConnectorConfig(name=name, bindings=bindings, options=settings.options)
            connector = connectors.open(settings.url, config)
            spool = Spool(
                spool_root / name,
                max_bytes=int(settings.spool.max_mb * 2**20),
                overflow=settings.spool.overflow,
            )
            outlet = Outlet(
                publish(name), connector.stats, spool=spool, max_skew_s=settings.max_skew_s
            )
            log.info("connector %s: %s with %d signals", name, settings.url, len(bindings))
            running.append((connector, outlet))
        return cls(running)

    def __len__(self) -> int:
        return len(self.running)

    def stats(self) -> list[dict[str, Any]]:
        return [
            {**connector.stats.as_dict(), "pending": outlet.pending}
            for connector, outlet in self.running
        ]

    async def run(self) -> None:
        """Run every connector until cancelled; restart one that crashes."""
        await asyncio.gather(*(self._supervise(c, o) for c, o in self.running))

    async def _supervise(self, connector: Connector, outlet: Outlet) -> None:
        backoff = Backoff(initial=1.0, maximum=60.0)
        outlet.start()
        try:
            while True:
                try:
                    await connector.run(outlet)
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    connector.stats.disconnected(error)
                    log.exception("connector %s failed; restarting", connector.name)
                    await asyncio.sleep(backoff.delay())
        finally:
            connector.stats.stopped()
            await outlet.close()

    # -- writes ----------------------------------------------------------------------------------

    async def write(self, signal: str, value: Any) -> None:
        owner = self._owner.get(signal)
        if owner is None:
            raise ConnectError(f"no connector of this process serves signal {signal!r}")
        connector, binding = owner
        if not isinstance(connector, Writable):
            raise ConnectError(f"connector {connector.name} cannot write")
        await connector.write(binding, value)

    async def follow_commands(self, bus: Bus, emit: Callable[[Event], Awaitable[None]]) -> None:
        """Execute ``command.write`` events for the signals this set owns."""
        async with bus.subscribe(f"{EVENTS}.{WRITE}", name="connect.commands") as commands:
            async for message in commands:
                command: Event = message.payload
                if command.source not in self._owner:
                    continue  # another process's connector may own it
                try:
                    await self.write(command.source, command.data.get("value"))
                except Exception as error:
                    log.warning("write %s failed: %s", command.source, error)
                    result = Event(
                        FAILED, command.source, {"error": str(error)}, command.context.child()
                    )
                else:
                    result = Event(
                        WRITTEN,
                        command.source,
                        {"value": command.data.get("value")},
                        command.context.child(),
                    )
                await emit(result)


def ingest_publisher(
    ingest: Callable[..., Awaitable[None]],
) -> Callable[[str], Publish]:
    """``publish(name)`` for :meth:`ConnectorSet.build` from ``Runtime.ingest``."""

    def publisher(name: str) -> Publish:
        source = name.replace(".", "_")  # a bus topic token: samples.<source>

        async def publish(batch: SampleBatch) -> None:
            await ingest(batch, source=source)

        return publish

    return publisher

"""The running werk: what the API and the CLI act on, built by the composition root (``werk.app``).

``Runtime`` holds plain parts (bus, store, catalog, live state, tokens, clock) and the two verbs
every producer uses: ``ingest`` samples and ``emit`` events. Both go through the bus; nothing
writes to the store sideways.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from werk.core import (
    EVENTS,
    SAMPLES,
    Bus,
    Clock,
    Context,
    Event,
    SampleBatch,
    SignalCatalog,
    StoreUnavailable,
)
from werk.settings import Settings
from werk.store.base import TimeSeriesStore
from werk.twin.state import LiveState

if TYPE_CHECKING:
    from werk.api.tokens import TokenStore
    from werk.connect.runner import ConnectorSet
    from werk.twin.plant import Plant
    from werk.twin.repository import TwinRepository

T = TypeVar("T")


@dataclass
class Runtime:
    settings: Settings
    catalog: SignalCatalog
    bus: Bus
    store: TimeSeriesStore
    state: LiveState
    tokens: TokenStore
    clock: Clock
    twin: TwinRepository | None = None
    plant: Plant | None = None
    connectors: ConnectorSet | None = None

    async def ingest(
        self, batch: SampleBatch, context: Context | None = None, *, source: str = "api"
    ) -> None:
        """Publish samples and return once the recorder has committed them to the store.

        Raises ``StoreUnavailable`` when the commit does not happen within the ingest timeout, and
        the store's error when the commit failed; the caller then knows nothing was acknowledged.
        """
        if not len(batch):
            return
        publish = self.bus.publish(f"{SAMPLES}.{source}", batch, context, confirm=True)
        try:
            # asyncio.timeout, not wait_for: wait_for on Python 3.11 can swallow a cancellation
            # that races with the commit, and a connector's loop would then never stop.
            async with asyncio.timeout(self.settings.api.ingest_timeout_s):
                await publish
        except TimeoutError:
            raise StoreUnavailable(
                f"the store did not commit within {self.settings.api.ingest_timeout_s:g} s"
            ) from None

    async def emit(self, event: Event, *, confirm: bool = False) -> None:
        """Publish an event (the recorder stores it; the live feed shows it)."""
        await self.bus.publish(f"{EVENTS}.{event.kind}", event, event.context, confirm=confirm)

    async def query(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking store call in a worker thread."""
        return await asyncio.to_thread(call, *args, **kwargs)

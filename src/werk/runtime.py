"""The running werk: what the API and the CLI act on, built by the composition root (``werk.app``).

``Runtime`` holds plain parts (bus, store, catalog, live state, tokens, clock) and the two verbs
every producer uses: ``ingest`` samples and ``emit`` events. Both go through the bus; nothing
writes to the store sideways.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
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
    from werk.analytics.alarms.manager import AlarmManager
    from werk.analytics.quality import QualityScreen
    from werk.analytics.service import AnalyticsService
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
    quality: QualityScreen | None = None
    """The data-quality screen every ingested batch passes (werk.analytics.quality)."""
    analytics: AnalyticsService | None = None
    alarms: AlarmManager | None = None
    asset_of: dict[str, str] = field(default_factory=dict)
    """Signal id -> asset id, for the events that name both."""

    async def ingest(
        self, batch: SampleBatch, context: Context | None = None, *, source: str = "api"
    ) -> None:
        """Publish samples and return once the recorder has committed them to the store.

        Raises ``StoreUnavailable`` when the commit does not happen within the ingest timeout, and
        the store's error when the commit failed; the caller then knows nothing was acknowledged.
        """
        if not len(batch):
            return
        screened = None
        if self.quality is not None:
            screened = self.quality.screen(batch, self.clock.now_ns())
            batch = screened.batch
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
        if screened is not None and screened.transitions:
            from werk.analytics.quality import condition_of

            for transition in screened.transitions:
                condition = condition_of(transition, self.asset_of.get(transition.signal))
                await self.emit(condition.event())

    async def emit(self, event: Event, *, confirm: bool = False) -> None:
        """Publish an event (the recorder stores it; the live feed shows it)."""
        await self.bus.publish(f"{EVENTS}.{event.kind}", event, event.context, confirm=confirm)

    async def query(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking store call in a worker thread."""
        return await asyncio.to_thread(call, *args, **kwargs)

"""The running werk: what the API and the CLI act on, built by the composition root (``werk.app``).

``Runtime`` holds plain parts (bus, store, catalog, live state, tokens, clock) and the two verbs
every producer uses: ``ingest`` samples and ``emit`` events. Both go through the bus; nothing
writes to the store sideways.
"""

from __future__ import annotations

import asyncio
import zlib
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
    from werk.plan.service import PlanService
    from werk.twin.plant import Plant
    from werk.twin.repository import TwinRepository

T = TypeVar("T")

INGEST = "ingest"
"""Connectors and the data-quality screen: field -> bus (``werk ingest``)."""
RECORD = "record"
"""The recorder: bus -> store, a durable consumer group shared by every worker (``werk worker``)."""
ANALYTICS = "analytics"
"""Detectors, freshness, alarms and maintenance, for a partition of the assets (``werk worker``)."""
API = "api"
"""The live feed pushed from the bus to WebSocket clients (``werk serve``)."""
ROLES = frozenset({INGEST, RECORD, ANALYTICS, API})
"""Every role: the embedded single process (``werk demo``, ``werk serve`` on ``memory://``)."""
WORKER = frozenset({RECORD, ANALYTICS})


@dataclass(frozen=True, slots=True)
class Partition:
    """Worker ``index`` of ``count`` owns the assets whose key hashes to it.

    The key is a signal's asset, or the signal id for a signal without one, so a machine's
    detectors (which look at all its signals together) live in one worker. The hash is CRC-32 of
    the UTF-8 key modulo ``count``: stable across processes, hosts and Python versions (Python's
    own ``hash`` of a string is salted per process).
    """

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"partition {self.index}/{self.count}: need 0 <= index < count")

    @classmethod
    def parse(cls, text: str) -> Partition:
        """``"i/N"`` (``"1/3"``: the second of three workers)."""
        index, sep, count = text.partition("/")
        try:
            return cls(int(index), int(count) if sep else 1)
        except ValueError as error:
            raise ValueError(f"partition {text!r}: expected i/N, 0 <= i < N ({error})") from None

    @property
    def whole(self) -> bool:
        return self.count == 1

    @property
    def leader(self) -> bool:
        """Partition 0 also runs what must run once in the cluster (alarms, retention,
        maintenance): they are stateful over every asset."""
        return self.index == 0

    def owns(self, key: str) -> bool:
        return self.whole or zlib.crc32(key.encode()) % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


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
    planner: PlanService | None = None
    """The planner on the bus (werk.plan.service), where this process serves the API."""
    asset_of: dict[str, str] = field(default_factory=dict)
    """Signal id -> asset id, for the events that name both."""
    roles: frozenset[str] = ROLES
    """What this process does (``INGEST``, ``RECORD``, ``ANALYTICS``, ``API``)."""
    partition: Partition = field(default_factory=Partition)
    """The assets whose analytics this process runs."""

    def owns(self, signal: str) -> bool:
        """Whether ``signal``'s analytics run here: its asset (or itself) is in the partition."""
        return self.partition.owns(self.asset_of.get(signal) or signal)

    async def ingest(
        self, batch: SampleBatch, context: Context | None = None, *, source: str = "api"
    ) -> None:
        """Publish samples and return once they are safe: on the in-process bus, once the recorder
        has committed them to the store; on ``nats://``, once JetStream has stored them (the
        durable recorder group then commits them at least once, the store keeps them once).

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

"""The live feed behind ``/api/v1/live``: one bus subscription fanned out to many clients.

The hub holds a single subscription for samples and one for events. It hands every message to
every client without waiting on any of them: each client has a bounded buffer and a sender task of
its own. A client that cannot keep up never stalls the bus (and with it ingest and the recorder):
when its buffer is full, its pending samples are conflated to the newest value per signal and it
is told how many it missed with ``{"type": "lagged", "skipped": n}``. Pushes are throttled to
``1 / interval_s`` per client; samples that arrive in between go out together, in messages of at
most ``LiveClient.MAX_ROWS`` samples.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from werk.api.encode import event_row, sample_rows
from werk.core import EVENTS, SAMPLES, Bus, Event, SampleBatch

log = logging.getLogger(__name__)

Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Interest:
    """What a client wants: some signals (``None``: all of them) and whether events too."""

    signals: frozenset[str] | None = frozenset()
    events: bool = False

    def to_dict(self) -> dict[str, Any]:
        signals: Any = "*" if self.signals is None else sorted(self.signals)
        return {"signals": signals, "events": self.events}


class LiveClient:
    """One connection's buffer and sender. ``offer_*`` never block; ``run`` does the sending."""

    MAX_CONTROL = 32  # replies waiting to go out before we stop reading the client's requests
    MAX_ROWS = 2_000
    """Samples in one message at most (~200 kB): WebSocket clients refuse large messages (the
    Python ``websockets`` library above 1 MiB by default, which 10,000 rows can exceed)."""

    def __init__(
        self,
        send: Send,
        *,
        buffer_size: int = 10_000,
        event_buffer_size: int = 1_000,
        interval_s: float = 0.1,
    ) -> None:
        self._send = send
        self.buffer_size = buffer_size
        self.event_buffer_size = event_buffer_size
        self.interval_s = interval_s
        self.interest = Interest()
        self._control: deque[dict[str, Any]] = deque()
        self._samples: list[SampleBatch] = []
        self._sample_count = 0
        self._events: deque[Event] = deque()
        self._skipped_samples = 0
        self._skipped_events = 0
        self._wake = asyncio.Event()
        self._control_room = asyncio.Event()
        self._control_room.set()
        self.lagged = 0  # samples and events skipped over the connection's life

    # -- fed by the hub (must stay cheap and never await) ----------------------------------------

    def offer_samples(self, batch: SampleBatch) -> None:
        selected = self._select(batch)
        if not len(selected):
            return
        if self._sample_count + len(selected) > self.buffer_size:
            self._conflate(selected)
        else:
            self._samples.append(selected)
            self._sample_count += len(selected)
        self._wake.set()

    def offer_event(self, event: Event) -> None:
        if not self.interest.events:
            return
        self._events.append(event)
        if len(self._events) > self.event_buffer_size:
            self._events.popleft()
            self._skipped_events += 1
        self._wake.set()

    def post(self, message: dict[str, Any]) -> None:
        """Queue a control message (acknowledgement, snapshot, error); it goes out first."""
        self._control.append(message)
        if len(self._control) >= self.MAX_CONTROL:
            self._control_room.clear()
        self._wake.set()

    async def room_for_control(self) -> None:
        """Wait until replies drain: a client that sends requests but never reads cannot make
        its replies pile up without bound; it waits for its own backlog instead."""
        await self._control_room.wait()

    def _select(self, batch: SampleBatch) -> SampleBatch:
        wanted = self.interest.signals
        if wanted is None:
            return batch
        codes = [i for i, name in enumerate(batch.names) if name in wanted]
        if not codes:
            return SampleBatch.empty()
        if len(codes) == len(batch.names):
            return batch
        return batch.take(np.isin(batch.index, codes))

    def _conflate(self, incoming: SampleBatch) -> None:
        merged = SampleBatch.concat([*self._samples, incoming])
        newest = sorted(merged.latest().items(), key=lambda item: item[1][0])
        # More distinct signals than the buffer holds: keep the most recently updated ones.
        kept = newest[-self.buffer_size :]
        conflated = SampleBatch.from_columns(
            [name for name, _ in kept],
            [s[0] for _, s in kept],
            [s[1] for _, s in kept],
            np.array([s[2] for _, s in kept], dtype=np.uint8),
        )
        self._skipped_samples += len(merged) - len(conflated)
        self._samples = [conflated]
        self._sample_count = len(conflated)

    # -- the sender ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Send what is buffered, at most once per ``interval_s``, until cancelled."""
        loop = asyncio.get_running_loop()
        last = -self.interval_s
        try:
            while True:
                await self._wake.wait()
                pause = last + self.interval_s - loop.time()
                if pause > 0:
                    await asyncio.sleep(pause)
                self._wake.clear()
                last = loop.time()
                await self._flush()
        finally:
            self._control_room.set()  # nobody will drain replies any more: release the reader

    async def _flush(self) -> None:
        while self._control:
            await self._send(self._control.popleft())
            if len(self._control) < self.MAX_CONTROL:
                self._control_room.set()
        skipped_samples, skipped_events = self._skipped_samples, self._skipped_events
        samples = SampleBatch.concat(self._samples)
        events = list(self._events)
        self._samples, self._sample_count, self._events = [], 0, deque()
        self._skipped_samples = self._skipped_events = 0
        if skipped_samples or skipped_events:
            self.lagged += skipped_samples + skipped_events
            await self._send(
                {
                    "type": "lagged",
                    "skipped": skipped_samples + skipped_events,
                    "samples": skipped_samples,
                    "events": skipped_events,
                }
            )
        if len(samples):
            rows = sample_rows(samples)
            for start in range(0, len(rows), self.MAX_ROWS):
                await self._send(
                    {"type": "samples", "samples": rows[start : start + self.MAX_ROWS]}
                )
        for event in events:
            await self._send({"type": "event", **event_row(event)})


class LiveHub:
    """Holds the API's bus subscriptions and fans them out to the connected clients."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.clients: set[LiveClient] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._starts = 0

    async def start(self) -> None:
        # Counted: the same app may run under two lifespans (a test client inside a server).
        self._starts += 1
        if self._starts > 1:
            return
        # Subscribe now rather than in the tasks, so nothing published after start() is missed.
        samples = self.bus.subscribe(f"{SAMPLES}.>", name="api.live.samples")
        events = self.bus.subscribe(f"{EVENTS}.>", name="api.live.events")
        self._tasks = [
            asyncio.create_task(self._pump(samples, LiveClient.offer_samples), name="api.live"),
            asyncio.create_task(self._pump(events, LiveClient.offer_event), name="api.live.ev"),
        ]

    async def stop(self) -> None:
        self._starts = max(0, self._starts - 1)
        if self._starts:
            return
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def stats(self) -> dict[str, Any]:
        return {"clients": len(self.clients), "lagged": sum(c.lagged for c in self.clients)}

    async def _pump(self, subscription: Any, deliver: Callable[[LiveClient, Any], None]) -> None:
        async with subscription:
            async for message in subscription:
                for client in list(self.clients):
                    try:
                        deliver(client, message.payload)
                    except Exception:  # one broken client must not end the feed for the others
                        log.exception("live feed: a client could not take a message")

"""The outlet: where a connector delivers samples; the one place that makes sure nothing is lost.

``deliver(batch)`` returns once the batch is durable — committed to the store through the bus, or,
when the bus or store is unavailable, written to the connector's on-disk spool. A connector
acknowledges its device only after ``deliver`` returns (MQTT PUBACK, say), so everything a device
was told is safe is safe.

On the way in, the outlet screens every batch the same way for every protocol:

- a value that is NaN or infinite is kept, flagged ``BAD`` and counted as ``not-finite``;
- a timestamp further than ``max_skew_s`` from this machine's clock (a device clock that jumped
  to 1970 or 2099) is refused and counted as ``clock-skew``; the rest of the batch goes on.

While the spool holds anything, new batches queue behind it and a replay task sends the spooled
ones in order, with backoff while downstream stays away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable

import numpy as np

from werk.connect.backoff import Backoff
from werk.connect.spool import Spool, SpoolEntry
from werk.connect.stats import ConnectorStats
from werk.core import NS_PER_S, BusError, Quality, SampleBatch, StoreError

log = logging.getLogger(__name__)

Publish = Callable[[SampleBatch], Awaitable[None]]

# What downstream raises when it cannot take a batch right now: spool and retry. Anything else is
# a bug and propagates.
UNAVAILABLE = (StoreError, BusError, TimeoutError, ConnectionError)


class Outlet:
    def __init__(
        self,
        publish: Publish,
        stats: ConnectorStats,
        *,
        spool: Spool | None = None,
        max_skew_s: float = 3600.0,
        now_ns: Callable[[], int] = time.time_ns,
        retry: Backoff | None = None,
    ) -> None:
        self._publish = publish
        self.stats = stats
        self.spool = spool
        self.max_skew_ns = int(max_skew_s * NS_PER_S)
        self._now_ns = now_ns
        self._retry = retry or Backoff(initial=0.2, maximum=10.0)
        self._order = asyncio.Lock()
        self._replayer: asyncio.Task[None] | None = None
        self._replaying: SpoolEntry | None = None
        self._space = asyncio.Event()

    # -- the connector's side --------------------------------------------------------------------

    async def deliver(self, batch: SampleBatch) -> None:
        """Screen ``batch`` and return once it is committed or spooled (see the module doc)."""
        batch = self.screen(batch)
        if len(batch):
            await self._deliver(batch)

    async def mark(
        self, signals: Iterable[str], quality: Quality, timestamp_ns: int | None = None
    ) -> None:
        """Write a value-less sample of ``quality`` for each signal: how a lost connection
        (``BAD``), a dead Sparkplug node (``STALE``) or an unrecoverable gap shows in history and
        in the live view."""
        names = tuple(dict.fromkeys(signals))
        if not names:
            return
        n = len(names)
        when = self._now_ns() if timestamp_ns is None else timestamp_ns
        await self._deliver(
            SampleBatch(
                names,
                np.arange(n, dtype=np.int32),
                np.full(n, when, np.int64),
                np.full(n, np.nan),
                np.full(n, int(quality), np.uint8),
            )
        )

    def screen(self, batch: SampleBatch) -> SampleBatch:
        if not len(batch):
            return batch
        now = self._now_ns()
        skewed = np.abs(batch.timestamps - now) > self.max_skew_ns
        if skewed.any():
            self.stats.reject(
                "clock-skew",
                int(skewed.sum()),
                f"timestamps more than {self.max_skew_ns / NS_PER_S:g} s from this clock",
            )
            batch = batch.take(~skewed)
        not_finite = ~np.isfinite(batch.values) & (batch.quality < Quality.BAD)
        if not_finite.any():
            self.stats.reject("not-finite", int(not_finite.sum()), "kept, flagged bad")
            quality = batch.quality.copy()
            quality[not_finite] = Quality.BAD
            values = batch.values.copy()
            values[not_finite] = np.nan
            batch = SampleBatch(batch.names, batch.index, batch.timestamps, values, quality)
        return batch

    @property
    def pending(self) -> int:
        """Samples waiting in the spool."""
        return self.spool.rows if self.spool is not None else 0

    async def close(self) -> None:
        """Stop replaying; what is still spooled stays on disk for the next start."""
        if self._replayer is not None:
            self._replayer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._replayer

    def start(self) -> None:
        """Replay what an earlier run left in the spool."""
        if self.spool is not None and not self.spool.empty:
            self._ensure_replayer()

    # -- inside ----------------------------------------------------------------------------------

    async def _deliver(self, batch: SampleBatch) -> None:
        async with self._order:
            if self.spool is None or self.spool.empty:
                try:
                    await self._publish(batch)
                    self.stats.samples += len(batch)
                    return
                except UNAVAILABLE as error:
                    if self.spool is None:
                        raise  # no spool: the caller sees the error and keeps its data
                    log.warning(
                        "%s: downstream unavailable (%s); spooling to %s",
                        self.stats.name,
                        error,
                        self.spool.directory,
                    )
            await self._to_spool(batch)
            self._ensure_replayer()

    async def _to_spool(self, batch: SampleBatch) -> None:
        assert self.spool is not None
        spool = self.spool
        estimate = 64 + 21 * len(batch) + sum(len(n) for n in batch.names)
        if not spool.fits(estimate):
            if spool.overflow == "drop-newest":
                self._dropped(len(batch))
                return
            if spool.overflow == "drop-oldest":
                self._dropped(spool.make_room(estimate, keep=self._replaying))
            else:  # block: hold the connector until replay frees room
                log.warning("%s: spool full; holding input until it drains", self.stats.name)
                while not spool.fits(estimate):
                    self._ensure_replayer()
                    self._space.clear()
                    await self._space.wait()
        entry = await asyncio.to_thread(spool.write, spool.reserve(), batch)
        spool.add(entry)
        self.stats.spooled += len(batch)

    def _dropped(self, samples: int) -> None:
        if samples:
            self.stats.dropped += samples
            log.warning(
                "%s: spool full (%.1f MiB): %s policy dropped %d samples (%d in all)",
                self.stats.name,
                self.spool.max_bytes / 2**20 if self.spool else 0,
                self.spool.overflow if self.spool else "",
                samples,
                self.stats.dropped,
            )

    def _ensure_replayer(self) -> None:
        if self._replayer is None or self._replayer.done():
            self._replayer = asyncio.create_task(self._replay(), name=f"{self.stats.name}.replay")

    async def _replay(self) -> None:
        assert self.spool is not None
        spool = self.spool
        while (entry := spool.oldest()) is not None:
            try:
                batch = await asyncio.to_thread(spool.read, entry)
            except (OSError, ValueError) as error:  # unreadable: set it aside, count it, go on
                log.error("%s: spool file %s unreadable: %s", self.stats.name, entry.path, error)
                with contextlib.suppress(OSError):
                    entry.path.rename(entry.path.with_suffix(".bad"))
                spool.remove(entry)
                self._dropped(entry.rows)
                continue
            self._replaying = entry  # in flight: the drop-oldest policy leaves it alone
            try:
                await self._publish(batch)
                failed: BaseException | None = None
            except UNAVAILABLE as error:
                failed = error
            finally:
                self._replaying = None
            if failed is not None:
                delay = self._retry.delay()
                log.debug("%s: replay waits %.1f s: %s", self.stats.name, delay, failed)
                await asyncio.sleep(delay)
                continue
            self._retry.reset()
            spool.remove(entry)
            self.stats.replayed += entry.rows
            self.stats.samples += entry.rows
            self._space.set()
        log.info("%s: spool drained (%d samples replayed)", self.stats.name, self.stats.replayed)

"""The recorder: bus -> store, with group commit.

It gathers messages until ``max_rows`` samples wait or the oldest has waited ``max_delay_s``,
writes them in one store call (in a worker thread), then acks every message of the group. A
publisher that asked for confirmation therefore resumes only once its samples are committed.

If the store fails, the recorder retries with backoff while holding the group (new messages wait
in the bus: backpressure, nothing dropped); after the last retry it nacks the group, so
confirming publishers see the error. On shutdown the bus drains its queues and the recorder
commits everything it received before it returns.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from werk.core import EVENTS, SAMPLES, Bus, Event, Message, SampleBatch, StoreError
from werk.store.base import TimeSeriesStore

log = logging.getLogger(__name__)

_END = object()


class Recorder:
    def __init__(
        self,
        bus: Bus,
        store: TimeSeriesStore,
        *,
        max_rows: int = 100_000,
        max_delay_s: float = 0.1,
        retry_delays_s: Sequence[float] = (0.1, 0.5, 2.0),
    ) -> None:
        self.store = store
        self.max_rows = max_rows
        self.max_delay_s = max_delay_s
        self.retry_delays_s = tuple(retry_delays_s)
        self.samples_written = 0
        self.commits = 0
        self.failures = 0
        # Subscribe at construction, so nothing published after this line is missed.
        self._samples = bus.subscribe(f"{SAMPLES}.>", name="recorder.samples", durable=True)
        self._events = bus.subscribe(f"{EVENTS}.>", name="recorder.events", durable=True)

    async def run(self) -> None:
        """Record until the bus closes; then commit what is left and return."""
        await asyncio.gather(
            self._record(self._samples, self._write_samples, lambda p: len(p)),
            self._record(self._events, self._write_events, lambda p: 1),
        )

    def _write_samples(self, payloads: list[Any]) -> None:
        written = self.store.write(SampleBatch.concat(payloads))
        self.samples_written += written

    def _write_events(self, payloads: list[Any]) -> None:
        events: list[Event] = payloads
        self.store.append_events(events)

    async def _record(
        self,
        subscription: Any,
        write: Callable[[list[Any]], None],
        size: Callable[[Any], int],
    ) -> None:
        # A pump task moves messages into a local queue, so the commit loop can look at what is
        # waiting without cancelling the subscription's iterator.
        local: asyncio.Queue[Any] = asyncio.Queue(maxsize=1024)

        async def pump() -> None:
            async with subscription:
                async for message in subscription:
                    await local.put(message)
            await local.put(_END)

        pump_task = asyncio.create_task(pump())
        loop = asyncio.get_running_loop()
        group: list[Message] = []
        try:
            while True:
                item = await local.get()
                if item is _END:
                    return
                # Group commit: take what is already waiting (it piled up during the last
                # commit), bounded by rows and time; commit at once when nothing else waits, so
                # a lone publisher is never delayed by a batching window.
                group, rows = [item], size(item.payload)
                deadline = loop.time() + self.max_delay_s
                ended = False
                while rows < self.max_rows and loop.time() < deadline:
                    if local.empty():
                        await asyncio.sleep(0)  # let the pump hand over what the bus holds
                        if local.empty():
                            break
                    item = local.get_nowait()
                    if item is _END:
                        ended = True
                        break
                    group.append(item)
                    rows += size(item.payload)
                await self._commit(group, write)
                group = []
                if ended:
                    return
        finally:
            if group:  # cancelled mid-group: tell the publishers instead of leaving them waiting
                for message in group:
                    message.nack(StoreError("recorder stopped before commit"))
            pump_task.cancel()

    async def _commit(self, group: list[Message], write: Callable[[list[Any]], None]) -> None:
        payloads = [m.payload for m in group]
        for attempt, delay in enumerate((*self.retry_delays_s, None)):
            try:
                await asyncio.to_thread(write, payloads)
            except StoreError as error:
                self.failures += 1
                if delay is None:
                    log.error("store write failed after %d attempts: %s", attempt + 1, error)
                    for message in group:
                        message.nack(error)
                    return
                if attempt == 0:
                    log.warning("store write failed, retrying: %s", error)
                await asyncio.sleep(delay)
            except Exception as error:
                # Not the store's health but a message it refuses (a poison message): retrying
                # cannot help. Commit the group one by one so only the bad message is refused.
                self.failures += 1
                if len(group) > 1:
                    for message in group:
                        await self._commit([message], write)
                    return
                log.error("store refused a message on %s: %s", group[0].topic, error)
                group[0].nack(error)
                return
            else:
                if attempt:
                    log.info("store write succeeded after %d retries", attempt)
                self.commits += 1
                for message in group:
                    message.ack()
                return

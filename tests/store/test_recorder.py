import asyncio

import numpy as np
import pytest

from werk.core import Event, MemoryBus, SampleBatch, StoreError, StoreUnavailable
from werk.store.memory import MemoryStore
from werk.store.recorder import Recorder


class FlakyStore(MemoryStore):
    """A store whose writes fail ``failures`` times before they succeed."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.calls = 0

    def write(self, batch: SampleBatch) -> int:
        self.calls += 1
        if self.failures:
            self.failures -= 1
            raise StoreUnavailable("disk went away")
        return super().write(batch)


def batch(signal: str, start: int, n: int) -> SampleBatch:
    return SampleBatch.of(signal, np.arange(start, start + n), np.arange(n, dtype=float))


async def test_group_commit_acks_only_after_write_and_batches_messages():
    bus, store = MemoryBus(), MemoryStore()
    recorder = Recorder(bus, store, max_rows=1_000_000, max_delay_s=0.05)
    task = asyncio.create_task(recorder.run())
    await asyncio.gather(
        *(bus.publish("samples.t", batch(f"s{i}", 0, 10), confirm=True) for i in range(20))
    )
    # every confirmed publish returned, so everything must already be in the store
    assert store.count() == 200
    assert recorder.commits < 20, "messages arriving together are committed together"
    await bus.close()
    await task


async def test_size_bound_commits_before_the_delay():
    bus, store = MemoryBus(), MemoryStore()
    recorder = Recorder(bus, store, max_rows=100, max_delay_s=60)
    task = asyncio.create_task(recorder.run())
    await asyncio.wait_for(bus.publish("samples.t", batch("a", 0, 150), confirm=True), 2)
    assert store.count("a") == 150
    await bus.close()
    await task


async def test_shutdown_flushes_everything_received():
    bus, store = MemoryBus(), MemoryStore()
    recorder = Recorder(bus, store, max_rows=10**9, max_delay_s=3600)
    task = asyncio.create_task(recorder.run())
    for i in range(10):
        await bus.publish("samples.t", batch("a", i * 100, 100))  # no confirm: fire and forget
    await bus.publish("events.note", Event("note", source="t"))
    await bus.close()
    await asyncio.wait_for(task, 2)
    assert store.count("a") == 1000
    assert len(store.events(0, 2**62)) == 1


async def test_a_poison_message_is_refused_alone_and_recording_goes_on():
    bus, store = MemoryBus(), MemoryStore()
    recorder = Recorder(bus, store, retry_delays_s=())
    task = asyncio.create_task(recorder.run())
    good = [Event("note", data={"i": i}) for i in range(3)]
    poison = Event("note", data={"value": object()})  # not serialisable by any store
    results = await asyncio.gather(
        bus.publish("events.note", good[0], confirm=True),
        bus.publish("events.note", poison, confirm=True),
        bus.publish("events.note", good[1], confirm=True),
        return_exceptions=True,
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], Exception)
    await bus.publish("events.note", good[2], confirm=True)  # the recorder is still alive
    assert {e.id for e in store.events(0, 2**62)} == {e.id for e in good}
    await bus.close()
    await task


async def test_store_failure_is_retried_then_reported_to_the_publisher():
    bus = MemoryBus()
    store = FlakyStore(failures=2)
    recorder = Recorder(bus, store, max_delay_s=0.01, retry_delays_s=(0.01, 0.01))
    task = asyncio.create_task(recorder.run())
    await bus.publish("samples.t", batch("a", 0, 5), confirm=True)  # 2 failures, 3rd try works
    assert store.count("a") == 5 and store.calls == 3

    store.failures = 5
    with pytest.raises(StoreError, match="disk went away"):
        await bus.publish("samples.t", batch("a", 5, 5), confirm=True)
    assert store.count("a") == 5
    await bus.close()
    await task

"""The outlet: screening, and store-and-forward through the on-disk spool."""

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest

from tests.connect.harness import Downstream, wait_for
from werk.connect import Backoff, ConnectorStats, Outlet, Spool
from werk.core import NS_PER_S, Quality, SampleBatch


def samples(start: int, n: int, signal: str = "press1.temp") -> SampleBatch:
    now = time.time_ns()
    return SampleBatch.of(signal, now + np.arange(start, start + n), np.arange(start, start + n))


def outlet_for(tmp_path: Path, downstream: Downstream, **spool: object) -> Outlet:
    return Outlet(
        downstream.publish,
        ConnectorStats("test"),
        spool=Spool(tmp_path / "spool", **spool),  # type: ignore[arg-type]
        retry=Backoff(initial=0.01, maximum=0.05),
    )


async def test_not_finite_values_are_kept_flagged_bad_and_counted(tmp_path: Path) -> None:
    downstream = Downstream()
    outlet = outlet_for(tmp_path, downstream)
    now = time.time_ns()
    batch = SampleBatch.of("a", [now, now + 1, now + 2], [1.0, float("nan"), float("inf")])
    await outlet.deliver(batch)
    (sent,) = downstream.batches
    assert sent.quality.tolist() == [Quality.GOOD, Quality.BAD, Quality.BAD]
    assert sent.values[0] == 1.0 and np.isnan(sent.values[1:]).all()
    assert outlet.stats.rejected["not-finite"] == 2
    assert outlet.stats.samples == 3


async def test_timestamps_beyond_the_skew_are_refused_the_rest_delivered(tmp_path: Path) -> None:
    downstream = Downstream()
    outlet = Outlet(downstream.publish, ConnectorStats("t"), max_skew_s=60)
    now = time.time_ns()
    far = [now - 86_400 * NS_PER_S, now, now + 10 * NS_PER_S, now + 3600 * NS_PER_S]
    await outlet.deliver(SampleBatch.of("a", far, [1.0, 2.0, 3.0, 4.0]))
    assert downstream.values() == [2.0, 3.0]
    assert outlet.stats.rejected["clock-skew"] == 2


async def test_batches_spool_while_downstream_is_away_and_replay_in_order(tmp_path: Path) -> None:
    downstream = Downstream()
    outlet = outlet_for(tmp_path, downstream)
    await outlet.deliver(samples(0, 10))
    downstream.down = True
    for start in range(10, 60, 10):
        await outlet.deliver(samples(start, 10))  # returns: the batch is on disk
    assert outlet.pending == 50
    assert len(list((tmp_path / "spool").glob("*.arrow"))) == 5
    downstream.down = False
    await outlet.deliver(samples(60, 10))  # queues behind the spooled ones
    await wait_for(lambda: outlet.pending == 0)
    assert downstream.values() == list(range(70))  # nothing lost, nothing reordered
    assert outlet.stats.spooled == 60 and outlet.stats.replayed == 60
    assert list((tmp_path / "spool").iterdir()) == []
    await outlet.close()


async def test_a_restart_replays_what_the_last_run_spooled(tmp_path: Path) -> None:
    downstream = Downstream(down=True)
    first = outlet_for(tmp_path, downstream)
    await first.deliver(samples(0, 5))
    await first.deliver(samples(5, 5))
    await first.close()  # the process stops with data in the spool
    (tmp_path / "spool" / "000000000099-3.tmp").write_bytes(b"half a write")  # cut by a crash

    downstream.down = False
    second = outlet_for(tmp_path, downstream)
    assert second.pending == 10
    second.start()
    await wait_for(lambda: second.pending == 0)
    assert downstream.values() == list(range(10))
    assert not (tmp_path / "spool" / "000000000099-3.tmp").exists()
    await second.close()


async def overflowed(tmp_path: Path, overflow: str) -> tuple[Downstream, Outlet]:
    """200 samples delivered while downstream is away, to a spool with room for fewer."""
    downstream = Downstream(down=True)
    outlet = outlet_for(tmp_path, downstream, max_bytes=6000, overflow=overflow)
    for start in range(0, 200, 20):
        await outlet.deliver(samples(start, 20))
    return downstream, outlet


async def test_drop_oldest_keeps_the_recent_past_and_counts_the_loss(tmp_path: Path) -> None:
    downstream, outlet = await overflowed(tmp_path, "drop-oldest")
    assert outlet.stats.dropped > 0
    assert outlet.stats.dropped + outlet.pending == 200
    downstream.down = False
    await wait_for(lambda: outlet.pending == 0)
    kept = downstream.values()
    assert kept == list(range(200 - len(kept), 200))  # the newest survive, in order
    await outlet.close()


async def test_drop_newest_keeps_the_start_of_the_outage(tmp_path: Path) -> None:
    downstream, outlet = await overflowed(tmp_path, "drop-newest")
    assert outlet.stats.dropped + outlet.pending == 200
    downstream.down = False
    await wait_for(lambda: outlet.pending == 0)
    kept = downstream.values()
    assert kept == list(range(len(kept)))
    await outlet.close()


async def test_block_holds_the_connector_until_replay_frees_room(tmp_path: Path) -> None:
    downstream = Downstream(down=True)
    outlet = outlet_for(tmp_path, downstream, max_bytes=3000, overflow="block")
    delivered = 0

    async def produce() -> None:
        nonlocal delivered
        for start in range(0, 200, 20):
            await outlet.deliver(samples(start, 20))
            delivered += 20

    producer = asyncio.create_task(produce())
    await asyncio.sleep(0.3)
    assert not producer.done() and delivered < 200  # held: nothing acknowledged upstream
    downstream.down = False
    await asyncio.wait_for(producer, 5)
    await wait_for(lambda: outlet.pending == 0)
    assert downstream.values() == list(range(200))
    assert outlet.stats.dropped == 0
    await outlet.close()


async def test_an_unreadable_spool_file_is_set_aside_and_replay_goes_on(tmp_path: Path) -> None:
    downstream = Downstream(down=True)
    first = outlet_for(tmp_path, downstream)
    for start in range(0, 30, 10):
        await first.deliver(samples(start, 10))
    await first.close()
    middle = sorted((tmp_path / "spool").glob("*.arrow"))[1]
    middle.write_bytes(b"not arrow")

    downstream.down = False
    second = outlet_for(tmp_path, downstream)
    second.start()
    await wait_for(lambda: second.pending == 0)
    assert downstream.values() == list(range(10)) + list(range(20, 30))
    assert second.stats.dropped == 10
    assert middle.with_suffix(".bad").exists()
    await second.close()


async def test_mark_writes_value_less_samples_of_a_quality(tmp_path: Path) -> None:
    downstream = Downstream()
    outlet = outlet_for(tmp_path, downstream)
    await outlet.mark(["a", "b", "a"], Quality.STALE, timestamp_ns=time.time_ns())
    (sent,) = downstream.batches
    assert sent.names == ("a", "b")
    assert np.isnan(sent.values).all() and (sent.quality == Quality.STALE).all()


def test_spool_refuses_an_unknown_overflow_policy(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="overflow"):
        Spool(tmp_path, overflow="drop-all")  # type: ignore[arg-type]

"""Bus throughput: 10,000-value batches published to a durable subscriber that acks.

    .venv/bin/python benchmarks/bus.py [--batches 300] [--values 10000] [--nats nats://127.0.0.1:4222]

Runs MemoryBus and NatsBus (JetStream, file storage) in one process, one after the other, and
prints messages/s and values/s for each: confirm=False (the publisher does not wait) and
confirm=True (memory: until the subscriber acked; NATS: until the PubAck, stored).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import time
import uuid

import numpy as np

from werk.bus.nats import NatsBus
from werk.core import MemoryBus, SampleBatch


async def run(bus, batches: int, values: int, confirm: bool) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    names = [f"press{i}.signal{j}" for i in range(4) for j in range(25)]
    batch = SampleBatch.from_columns(
        rng.choice(names, values),
        np.arange(values, dtype=np.int64) * 1_000_000,
        rng.normal(size=values),
    )
    subscription = bus.subscribe("samples.>", name="recorder.samples", durable=True)
    received = 0
    async with subscription:

        async def consume() -> None:
            nonlocal received
            async for message in subscription:
                received += len(message.payload)
                message.ack()
                if received >= batches * values:
                    return

        consumer = asyncio.create_task(consume())
        started = time.perf_counter()
        for n in range(batches):
            await bus.publish(f"samples.press{n % 4}", batch, confirm=confirm)
        await consumer
        elapsed = time.perf_counter() - started
    return batches / elapsed, batches * values / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--values", type=int, default=10_000)
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    args = parser.parse_args()
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; {args.batches} batches x {args.values} values"
    )
    print(f"{'bus':<24}{'confirm':>8}{'messages/s':>14}{'values/s':>16}")
    for confirm in (False, True):
        memory = MemoryBus()
        msgs, vals = await run(memory, args.batches, args.values, confirm)
        await memory.close()
        print(f"{'memory://':<24}{confirm!s:>8}{msgs:>14,.0f}{vals:>16,.0f}")
        name = f"bench_{uuid.uuid4().hex[:8]}"
        nats_bus = NatsBus.from_url(f"{args.nats}?stream={name}&prefix={name}")
        try:
            msgs, vals = await run(nats_bus, args.batches, args.values, confirm)
            print(f"{'nats:// (JetStream file)':<24}{confirm!s:>8}{msgs:>14,.0f}{vals:>16,.0f}")
        finally:
            js = (await nats_bus.connect())._js
            await js.delete_stream(name)
            await nats_bus.close()


if __name__ == "__main__":
    asyncio.run(main())

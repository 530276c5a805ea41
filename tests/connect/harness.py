"""What the connector tests share: polling for a condition, a downstream an outlet publishes to,
a connector running in the background, and the head of a plant file."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from werk.connect import Outlet
from werk.core import Quality, SampleBatch, StoreUnavailable

T = TypeVar("T")

# Generous: the suite runs on loaded two-core machines, and a condition that is met returns at
# once. A test that means a bound passes its own timeout.
TIMEOUT_S = 30.0


async def wait_for(
    condition: Callable[[], T],
    timeout: float = TIMEOUT_S,
    what: str = "condition",
    *,
    interval: float = 0.02,
) -> T:
    """Poll ``condition`` every ``interval`` seconds until it is true; return what it returned."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f"not met within {timeout} s: {what}"
        await asyncio.sleep(interval)
    return result


class Downstream:
    """Where an outlet publishes: records batches; ``hold`` blocks, ``down`` refuses."""

    def __init__(self, *, down: bool = False, hold: bool = False) -> None:
        self.batches: list[SampleBatch] = []
        self.down = down
        self.hold = hold

    async def publish(self, batch: SampleBatch) -> None:
        while self.hold:
            await asyncio.sleep(0.01)
        if self.down:
            raise StoreUnavailable("store away")
        self.batches.append(batch)

    def values(self, quality: Quality | None = None) -> list[float]:
        """Every value published, in order; only those of ``quality`` if given."""
        return [
            float(v)
            for b in self.batches
            for v, q in zip(b.values, b.quality, strict=True)
            if quality is None or q == quality
        ]

    def of(self, signal: str) -> list[tuple[float, int]]:
        """(value, quality) of every sample of ``signal``, in order."""
        return [(v, q) for b in self.batches for name, _, v, q in b.rows() if name == signal]

    def last(self, signal: str) -> float | None:
        """The last GOOD value of ``signal``, or None."""
        good = [v for v, q in self.of(signal) if q == Quality.GOOD]
        return good[-1] if good else None


@dataclass
class Running:
    connector: Any
    downstream: Downstream
    outlet: Outlet
    task: asyncio.Task[None]


@contextlib.asynccontextmanager
async def running(
    connector: Any,
    downstream: Downstream | None = None,
    *,
    connect_timeout: float | None = None,
    **outlet_options: Any,
) -> AsyncIterator[Running]:
    """``connector.run(Outlet(downstream.publish, connector.stats, **outlet_options))`` as a
    task, cancelled at the end. With ``connect_timeout``, first wait that long for the connector
    to connect (or to fail, which raises here)."""
    downstream = downstream if downstream is not None else Downstream()
    outlet = Outlet(downstream.publish, connector.stats, **outlet_options)
    task = asyncio.create_task(connector.run(outlet))
    try:
        if connect_timeout is not None:
            await wait_for(
                lambda: connector.stats.state == "connected" or task.done(),
                connect_timeout,
                "connect",
            )
            if task.done():
                task.result()
        yield Running(connector, downstream, outlet, task)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def plant_text(assets: str = "", *, plant_id: str = "t", name: str = "Test plant") -> str:
    """A plant file: the plant, a site and an area in it, then ``assets`` (TOML, under area)."""
    return f"""
[plant]
id = "{plant_id}"
name = "{name}"

[assets.site]
level = "site"
name = "Site"

[assets.area]
level = "area"
parent = "site"
name = "Area"
{assets}"""

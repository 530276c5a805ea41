"""A built-in signal generator for ``werk demo`` until the virtual plant lands.

Three machines of a small press line, each with temperature, vibration, spindle current, pressure,
a parts counter and its state (always running), sampled at 10 Hz with noise, slow drift and a
daily cycle. It publishes through ``Runtime.ingest`` like any producer, so the demo exercises the
real recorder and store.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from werk.core import NS_PER_S, Context, SampleBatch
from werk.runtime import Runtime

log = logging.getLogger(__name__)

MACHINES = ("press1", "press2", "oven1")
RATE_HZ = 10
PUBLISH_EVERY_S = 0.5  # the plant file's expected_interval_s: samples arrive in blocks this often

# signal name -> (base value, noise); "parts" is a counter
_KINDS = {
    "temperature": (45.0, 0.3),
    "vibration": (2.5, 0.15),
    "current": (32.0, 1.0),
    "pressure": (180.0, 2.0),
    "parts": (0.0, 0.0),
    "state": (0.0, 0.0),  # 0: running (the built-in feed's machines never stop)
}

# The demo line's twin: assets, nameplates and these signals (units, ranges, expected interval).
DEMO_PLANT = Path(__file__).with_name("demo_plant.toml")
# Its what-if scenarios (the dashboard's planning view offers them when [sim] scenarios is absent).
DEMO_SCENARIOS = Path(__file__).with_name("scenarios")


class DemoFeed:
    """Generates the next block of samples for every demo signal, from a seeded random source."""

    def __init__(self, seed: int = 7) -> None:
        self.random = np.random.default_rng(seed)
        self.names = tuple(f"{machine}.{kind}" for machine in MACHINES for kind in _KINDS)
        self.base = np.array([_KINDS[name.split(".")[1]][0] for name in self.names])
        self.noise = np.array([_KINDS[name.split(".")[1]][1] for name in self.names])
        self.is_counter = np.array([name.endswith(".parts") for name in self.names])
        self.counters = np.zeros(len(self.names))
        self.drift = np.zeros(len(self.names))

    def block(self, after_ns: int, until_ns: int) -> SampleBatch:
        """Samples on the ``RATE_HZ`` grid with ``after < t <= until``, for every signal."""
        step = NS_PER_S // RATE_HZ
        first = (after_ns // step + 1) * step
        times = np.arange(first, until_ns + 1, step, dtype=np.int64)
        per_signal = len(times)
        if per_signal == 0:
            return SampleBatch.empty()
        n_signals = len(self.names)
        day = 2 * np.pi * (times % (86_400 * NS_PER_S)) / (86_400 * NS_PER_S)
        self.drift += self.random.normal(0.0, 0.02, n_signals) * self.noise
        values = (
            self.base[:, None] * (1 + 0.05 * np.sin(day)[None, :])
            + self.drift[:, None]
            + self.random.normal(0.0, 1.0, (n_signals, per_signal)) * self.noise[:, None]
        )
        parts = self.counters[:, None] + np.cumsum(
            self.random.random((n_signals, per_signal)) < 0.05, axis=1
        )
        values = np.where(self.is_counter[:, None], parts, values)
        self.counters = parts[:, -1]
        return SampleBatch(
            self.names,
            np.repeat(np.arange(n_signals, dtype=np.int32), per_signal),
            np.tile(times, n_signals),
            values.reshape(-1),
            np.zeros(n_signals * per_signal, np.uint8),
        )


async def run_demo_feed(runtime: Runtime, *, every_s: float = PUBLISH_EVERY_S) -> None:
    """Publish demo samples until cancelled."""
    feed = DemoFeed()
    context = Context(user="demo")
    log.info("demo feed: %d signals at %d Hz", len(feed.names), RATE_HZ)
    last = runtime.clock.now_ns() - int(every_s * NS_PER_S)
    while True:
        now = runtime.clock.now_ns()
        batch = feed.block(last, now)
        last = now
        try:
            await runtime.ingest(batch, context.child(), source="demo")
        except Exception as error:  # the demo must survive a hiccup of the store
            log.warning("demo feed: samples not stored: %s", error)
        await runtime.clock.sleep(every_s)

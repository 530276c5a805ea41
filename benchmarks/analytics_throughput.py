"""Do the analytics keep up? End-to-end ingest with and without data quality + anomaly detection.

    .venv/bin/python benchmarks/analytics_throughput.py --signals 200 --seconds 600 --repeat 3

The same stream goes through a whole werk runtime (memory bus, DuckDB store in a temporary
directory, recorder, twin state, alarms) twice per repeat, alternating: once with ``[analytics]``
off, once on, where every signal gets the data-quality screen (range, spike, flatline, clock skew,
gaps) on ingest and the default univariate detector on the bus. A run ends when the recorder has
committed every sample *and* the analytics service has scored every sample, so "keeps up" means
the whole pipeline, not just the publisher. Values/s for each and the ratio are printed.

Samples come as a connector delivers them: ``--signals`` signals sampled once a second, one batch
of ``--batch-seconds`` seconds of all signals at a time; a noisy sine per signal with a spike and a
level shift here and there, so the detectors and the screen have something to find.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from werk.app import open_runtime
from werk.core import SampleBatch
from werk.settings import Settings

S = 1_000_000_000


def batches(signals: int, seconds: int, batch_seconds: int, seed: int = 7) -> list[SampleBatch]:
    rng = np.random.default_rng(seed)
    t0 = time.time_ns() - seconds * S
    names = tuple(f"m{i // 10}.s{i % 10}" for i in range(signals))
    phase = rng.uniform(0, 6.3, signals)
    out = []
    for start in range(0, seconds, batch_seconds):
        steps = np.arange(start, min(start + batch_seconds, seconds))
        ts = np.repeat(t0 + steps * S, signals)
        index = np.tile(np.arange(signals, dtype=np.int32), len(steps))
        base = 50 + 10 * np.sin(steps[:, None] / 300 + phase[None, :])
        values = (base + rng.normal(0, 1, (len(steps), signals))).reshape(-1)
        spikes = rng.random(len(values)) < 1e-4
        values[spikes] += 40
        out.append(SampleBatch(names, index, ts, values, np.zeros(len(values), np.uint8)))
    return out


def settings(directory: Path, signals: int, analytics: bool) -> Settings:
    return Settings(
        store={"url": f"duckdb:///{directory}/werk.duckdb"},
        api={"tokens_file": str(directory / "tokens.json")},
        twin={"directory": str(directory / "twin")},
        signals=[
            {
                "id": f"m{i // 10}.s{i % 10}",
                "asset": f"m{i // 10}",
                "minimum": 0,
                "maximum": 100,
                "expected_interval_s": 1.0,
            }
            for i in range(signals)
        ],
        analytics={"enabled": analytics},
    )


async def run_once(stream: list[SampleBatch], signals: int, analytics: bool) -> float:
    total = sum(len(b) for b in stream)
    with tempfile.TemporaryDirectory() as tmp:
        async with open_runtime(settings(Path(tmp), signals, analytics)) as runtime:
            started = time.perf_counter()
            for batch in stream:
                await runtime.ingest(batch, source="bench")
            while runtime.analytics is not None and runtime.analytics.values < total:
                await asyncio.sleep(0.001)
            elapsed = time.perf_counter() - started
            if runtime.analytics is not None:
                found = runtime.analytics.values
                assert found == total, f"analytics saw {found} of {total} values"
    return total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--signals", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=600, help="seconds of data per signal")
    parser.add_argument("--batch-seconds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    stream = batches(args.signals, args.seconds, args.batch_seconds)
    total = sum(len(b) for b in stream)
    python = platform.python_version()
    print(f"machine: {os.cpu_count()} CPUs, {platform.platform()}, python {python}")
    print(f"command: {' '.join(sys.argv)}")
    print(
        f"stream: {args.signals} signals × {args.seconds} s = {total:,} values in {len(stream)} "
        f"batches of {len(stream[0]):,}"
    )
    without, with_ = [], []
    for _ in range(args.repeat):
        without.append(asyncio.run(run_once(stream, args.signals, analytics=False)))
        with_.append(asyncio.run(run_once(stream, args.signals, analytics=True)))
        print(f"  without analytics {without[-1]:>12,.0f} values/s   with {with_[-1]:>12,.0f}")
    a, b = statistics.median(without), statistics.median(with_)
    print(f"median: without {a:,.0f} values/s, with {b:,.0f} values/s; slowdown {a / b:.2f}×")
    print("target: >= 100,000 values/s with analytics, slowdown <= 2×")


if __name__ == "__main__":
    main()

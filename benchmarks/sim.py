"""Simulation benchmark: werk's line model against a bare SimPy model of the same line, in one run,
and 30 replications of an 8-hour shift of a 10-station line on all cores. Prints Markdown for
docs/benchmarks.md.

    .venv/bin/python benchmarks/sim.py --hours 100 --repeat 7 --jobs 2

Events are SimPy's own count of scheduled events (``Environment._eid``), the same counter for
both models. The bare model is the textbook SimPy line: a process per station that gets a part
from its input ``Store``, waits its cycle time and puts the part into the next ``Store``; cycle
times come from the same lognormal distributions, pre-drawn in numpy blocks like werk's. werk's
model does the same plus what a line model needs: state accounting per station (busy, setup, down,
starved, blocked, off-shift), failures, scrap and rework checks, setups per variant, WIP and lead
time; the comparison line runs it without failures or scrap so both models schedule the same
events.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np
import simpy

from werk.sim.experiment import replicate
from werk.sim.model import LineModel
from werk.sim.scenario import Scenario, scenario_from_dict

STATIONS = 10
MEANS_S = [30.0, 32.0, 29.0, 31.0, 35.0, 30.0, 28.0, 33.0, 30.0, 31.0]
CV = 0.25
BUFFER = 5


def line(hours: float, failures: bool) -> Scenario:
    stations: dict[str, Any] = {}
    for i, mean in enumerate(MEANS_S[:STATIONS]):
        station: dict[str, Any] = {
            "cycle_time": {"dist": "lognormal", "mean_s": mean, "cv": CV},
            "input_capacity": BUFFER,
        }
        if failures:
            station |= {"mttf_h": 4, "mttr_min": 10, "scrap_rate": 0.01}
        stations[f"m{i + 1}"] = station
    return scenario_from_dict(
        {
            "scenario": {"name": f"line of {STATIONS}"},
            "run": {"duration": hours * 3600, "warmup": "1h" if failures else 0, "seed": 1},
            "stations": stations,
        }
    )


def bare_simpy(hours: float, seed: int = 1) -> tuple[int, float]:
    """The same line in plain SimPy: (events, seconds)."""
    env = simpy.Environment()
    stores = [simpy.Store(env, capacity=1 if i == 0 else BUFFER) for i in range(STATIONS)]
    sigma2 = np.log1p(CV**2)

    def draws(mean: float, rng: np.random.Generator) -> Any:
        mu = np.log(mean) - sigma2 / 2
        while True:
            yield from rng.lognormal(mu, np.sqrt(sigma2), 4096).tolist()

    def station(i: int) -> Generator[Any, Any, None]:
        cycle = draws(MEANS_S[i], np.random.default_rng([seed, i])).__next__
        inbox = stores[i]
        outbox = stores[i + 1] if i + 1 < STATIONS else None
        timeout = env.timeout
        while True:
            part = yield inbox.get()
            yield timeout(cycle())
            if outbox is not None:
                yield outbox.put(part)

    def source() -> Generator[Any, Any, None]:
        n = 0
        while True:
            n += 1
            yield stores[0].put(n)

    for i in range(STATIONS):
        env.process(station(i))
    env.process(source())
    started = time.perf_counter()
    env.run(until=hours * 3600)
    return next(env._eid), time.perf_counter() - started


def werk_model(scenario: Scenario) -> tuple[int, float, float]:
    """(events, seconds, throughput per h)."""
    model = LineModel(scenario, 0)
    started = time.perf_counter()
    kpis = model.run()
    return int(kpis["events"]), time.perf_counter() - started, kpis["throughput_per_h"]


def _cpu() -> str:
    try:
        for row in Path("/proc/cpuinfo").read_text().splitlines():
            if row.startswith("model name"):
                return row.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=100.0, help="simulated hours, one run")
    parser.add_argument("--repeat", type=int, default=7, help="runs of each model")
    parser.add_argument("--jobs", type=int, default=2, help="processes for the replications")
    parser.add_argument("--replications", type=int, default=30)
    args = parser.parse_args()

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"**Machine:** {os.cpu_count()} CPUs (`{_cpu()}`), Python {platform.python_version()}, "
        f"SimPy {simpy.__version__}, numpy {np.__version__}; "
        f"load average {load:.1f} at the start.\n"
    )
    plain = line(args.hours, failures=False)
    full = line(args.hours, failures=True)
    rows: dict[str, list[tuple[float, float]]] = {"bare": [], "werk": [], "werk_full": []}
    throughput = {}
    for _ in range(args.repeat):  # interleaved, so a change in the machine's load hits both
        events, seconds = bare_simpy(args.hours)
        rows["bare"].append((events, seconds))
        events, seconds, throughput["werk"] = werk_model(plain)
        rows["werk"].append((events, seconds))
        events, seconds, throughput["werk_full"] = werk_model(full)
        rows["werk_full"].append((events, seconds))
    # best of N, as timeit does: on a shared machine the other loads only ever slow a run down
    rate = {k: max(e / s for e, s in v) for k, v in rows.items()}
    median = {k: statistics.median(e / s for e, s in v) for k, v in rows.items()}
    print(
        f"One run of {args.hours:g} simulated hours of a {STATIONS}-station line (lognormal cycle "
        f"times, cv {CV}, buffers of {BUFFER}), best of {args.repeat} interleaved runs:\n"
    )
    print(
        "| model | events per run | events/s (best) | vs bare SimPy (best) "
        "| median events/s | vs bare (median) | runs (events/s) |"
    )
    print("|---|---|---|---|---|---|---|")
    labels = {
        "bare": "bare SimPy (get, timeout, put)",
        "werk": "werk line model, same line",
        "werk_full": "werk line model + failures (MTTF 4 h, MTTR 10 min), 1 % scrap",
    }
    for key, label in labels.items():
        runs = " ".join(f"{e / s / 1e3:.0f}k" for e, s in rows[key])
        print(
            f"| {label} | {rows[key][0][0]:,} | {rate[key] / 1e3:,.0f}k "
            f"| {rate[key] / rate['bare']:.2f}x | {median[key] / 1e3:,.0f}k "
            f"| {median[key] / median['bare']:.2f}x | {runs} |"
        )

    shift = line(8.0, failures=True)
    for jobs in (1, args.jobs) if args.jobs > 1 else (1,):
        started = time.perf_counter()
        results = replicate(shift, args.replications, jobs=jobs)
        wall = time.perf_counter() - started
        estimate = results.estimate("throughput_per_h")
        print(
            f"\n{args.replications} replications of an 8-hour shift (1 h warm-up) of the "
            f"{STATIONS}-station line with failures and scrap, {jobs} process(es): "
            f"**{wall:.1f} s** wall ({results.events / 1e6:.1f} M events); throughput "
            f"{estimate.mean:.1f} ± {estimate.half_width:.1f} parts/h (95 % CI)."
        )


if __name__ == "__main__":
    main()

"""Anomaly detectors on SKAB and NAB by their published protocols, and their speed.

    python benchmarks/anomaly_eval.py --skab ../shared/data/skab/valve1 --nab ../shared/data/nab
    python benchmarks/anomaly_eval.py --speed

The same code as ``werk eval anomaly`` (werk.analytics.evaluation): the data streamed through
``werk.analytics.detectors.judge`` as the service runs it (``--batch`` rows a call, default 1);
figures go to docs/analytics/anomaly.md with the command that produced them.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np

from werk.analytics.detectors import univariate
from werk.analytics.evaluation import run_nab, run_skab


def speed(values: int = 1_000_000, batch: int = 1000) -> None:
    data = np.random.default_rng(0).normal(size=values)
    cases: tuple[tuple[str | None, dict[str, int]], ...] = (
        (None, {}),  # the default: robust-z with its default settings
        ("ewma", {}),
        ("seasonal", {"period": 1440}),
    )
    for name, options in cases:
        detector = univariate(name, **options)
        detector.learn_many(data[:5000])
        started = time.perf_counter()
        for start in range(0, values, batch):
            chunk = data[start : start + batch]
            detector.score_many(chunk)
            detector.learn_many(chunk)
        micro = (time.perf_counter() - started) / values * 1e6
        label = name or "default"
        print(f"{label:9s} score_many + learn_many, batches of {batch}: {micro:.3f} µs a value")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skab", type=Path, help="SKAB valve1 folder")
    parser.add_argument("--nab", type=Path, help="folder with the NAB file and label_windows.json")
    parser.add_argument("--detector", help="a detector name instead of the default")
    parser.add_argument("--batch", type=int, default=1, help="rows per judged batch (1: live)")
    parser.add_argument("--speed", action="store_true", help="time the univariate detectors")
    args = parser.parse_args()
    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, python {platform.python_version()}")
    if args.skab:
        s = run_skab(args.skab, args.detector, batch=args.batch).scores
        print(f"SKAB valve1: F1 {s.f1:.3f}  FAR {s.far:.1f} %  MAR {s.mar:.1f} %")
    if args.nab:
        result = run_nab(args.nab, args.detector, batch=args.batch)
        for profile, score in result.scores.items():
            print(
                f"NAB {result.file} {profile}: {score.normalised:.1f} (raw {score.raw:.2f}, "
                f"{score.windows_found}/{score.windows} windows, {score.fp} FP)"
            )
    if args.speed:
        speed()


if __name__ == "__main__":
    main()

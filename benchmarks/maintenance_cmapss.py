"""Predictive maintenance on NASA's C-MAPSS: the default pipeline by the standard protocol.

    .venv/bin/python benchmarks/maintenance_cmapss.py --data ../shared/data/cmapss --subset FD001

Trains the default gradient-boosted pipeline on ``train_<subset>.txt`` (validation and interval
calibration on held-out *training* engines, nothing tuned on the test set), then predicts at the
last cycle of each test engine and prints RMSE and the PHM08 score against the true RUL capped at
125 (and uncapped), the coverage of the 90 % interval, the training time and the machine, with
published deep-learning figures beside them.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

from werk.maintenance.cmapss import load_subset
from werk.maintenance.models import GbmParams
from werk.maintenance.training import ModelConfig, evaluate_last_cycle, train

PUBLISHED = {  # RMSE on FD001, last test cycle, RUL capped at 125 (docs: /work/shared README)
    "CNN (Babu et al., 2016)": 18.45,
    "LSTM (Zheng et al., 2017)": 16.14,
    "deep CNN (Li et al., 2018)": 12.61,
}


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="directory of the C-MAPSS files")
    parser.add_argument("--subset", default="FD001")
    parser.add_argument("--threads", type=int, default=1, help="LightGBM threads")
    parser.add_argument("--repeat", type=int, default=1, help="trainings with seeds 0, 1, ...")
    args = parser.parse_args()

    import lightgbm

    subset = load_subset(args.data, args.subset)
    print(
        f"machine: {os.cpu_count()} CPUs ({_cpu()}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, LightGBM {lightgbm.__version__}, "
        f"numpy {np.__version__}, load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"data: C-MAPSS {subset.name}: {len(subset.train.runs)} training engines "
        f"({len(subset.train)} cycles), {len(subset.test_rul)} test engines"
    )
    rows = []
    for seed in range(args.repeat):
        config = ModelConfig(seed=seed, gbm=GbmParams(threads=args.threads))
        started = time.perf_counter()
        trained = train(subset.train, config)
        elapsed = time.perf_counter() - started
        capped = evaluate_last_cycle(trained, subset.test, subset.test_rul, cap=125.0)
        uncapped = evaluate_last_cycle(trained, subset.test, subset.test_rul, cap=None)
        validation = trained.metadata["metrics"]["validation"]["one_cut_per_run"]
        rows.append((seed, elapsed, capped, uncapped, validation))
        print(
            f"seed {seed}: train {elapsed:.1f} s ({args.threads} thread(s)) | "
            f"test RMSE {capped['rmse']:.2f}, PHM08 {capped['phm08_score']:.1f}, "
            f"coverage {capped['coverage']:.2f} (90 % promised), width "
            f"{capped['interval_width']:.1f} | uncapped truth: RMSE {uncapped['rmse']:.2f}, "
            f"PHM08 {uncapped['phm08_score']:.1f}, coverage {uncapped['coverage']:.2f} | "
            f"validation (one cut per held-out engine) RMSE {validation['rmse']:.2f}"
        )
        print(
            f"  operating conditions found: {trained.pipeline.conditions.count}, sensors kept: "
            f"{len(trained.pipeline.kept)}, features: {len(trained.pipeline.names)}"
        )
    if args.repeat > 1:
        rmses = np.asarray([r[2]["rmse"] for r in rows])
        scores = np.asarray([r[2]["phm08_score"] for r in rows])
        print(
            f"over {args.repeat} seeds: RMSE {rmses.mean():.2f} ± {rmses.std():.2f}, "
            f"PHM08 {scores.mean():.1f} ± {scores.std():.1f}"
        )
    print("published RMSE on FD001 (same protocol):")
    for name, value in PUBLISHED.items():
        print(f"  {name:<28} {value:.2f}")


if __name__ == "__main__":
    main()

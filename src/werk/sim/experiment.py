"""What-if experiments: replications of a scenario, on all cores or a Dask cluster, summarised with
95 % confidence intervals, and two scenarios compared.

Replication ``i`` of every scenario draws from the same random streams (seeded from the seed,
``i`` and the station's name; see :mod:`werk.sim.model`): common random numbers. A comparison is
therefore a **paired** t-test on the per-replication differences, which removes the noise the two
scenarios share. Confidence intervals use Student's t with ``n - 1`` degrees of freedom.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from werk.core.errors import MissingExtraError
from werk.sim.scenario import Scenario

Progress = Callable[[int, int], None]  # (done, total)

LINE_KPIS = ("throughput_per_h", "lead_time_s", "wip", "scrap_per_h")
STATION_KPIS = (
    "utilisation",
    "availability",
    "performance",
    "quality",
    "oee",
    "busy",
    "setup",
    "down",
    "starved",
    "blocked",
    "off_shift",
    "technical_availability",
    "active_period_s",
    "parts_per_h",
)


def json_number(value: float | None, digits: int = 6) -> float | None:
    """A figure for JSON: rounded to ``digits``; None where it is missing or not finite (JSON has
    no NaN or infinity)."""
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


@dataclass(frozen=True, slots=True)
class Estimate:
    """A mean over replications with its 95 % confidence interval (Student's t)."""

    mean: float
    half_width: float
    n: int

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    @classmethod
    def of(cls, values: Sequence[float] | np.ndarray, confidence: float = 0.95) -> Estimate:
        data = np.asarray(values, dtype=float)
        data = data[~np.isnan(data)]
        n = len(data)
        if n == 0:
            return cls(math.nan, math.nan, 0)
        mean = float(data.mean())
        if n < 2:
            return cls(mean, math.nan, n)
        half = t_quantile(1 - (1 - confidence) / 2, n - 1) * float(data.std(ddof=1)) / math.sqrt(n)
        return cls(mean, half, n)


@dataclass(frozen=True, slots=True)
class Difference:
    """``b - a`` of one KPI: mean, 95 % CI, and the paired t-test's two-sided p-value."""

    kpi: str
    a: float
    b: float
    estimate: Estimate
    p_value: float

    @property
    def significant(self) -> bool:
        return self.p_value < 0.05


@dataclass
class Results:
    """The KPIs of every replication of one scenario."""

    scenario: Scenario
    replications: list[dict[str, float]] = field(default_factory=list)
    elapsed_s: float = 0.0

    def values(self, kpi: str) -> np.ndarray:
        return np.array([r.get(kpi, math.nan) for r in self.replications])

    def estimate(self, kpi: str) -> Estimate:
        return Estimate.of(self.values(kpi))

    def line(self) -> dict[str, Estimate]:
        return {kpi: self.estimate(kpi) for kpi in LINE_KPIS}

    def station(self, station_id: str) -> dict[str, Estimate]:
        return {kpi: self.estimate(f"{station_id}.{kpi}") for kpi in STATION_KPIS}

    def bottlenecks(self) -> list[tuple[str, float, Estimate]]:
        """Stations ranked by the average active period method (Roser et al.): the station whose
        active periods (busy, setup or down, uninterrupted by starving or blocking) are longest
        on average constrains the line. Each with the share of replications in which it was the
        bottleneck and its mean active period."""
        ids = [s.id for s in self.scenario.stations]
        periods = np.array([self.values(f"{s}.active_period_s") for s in ids])  # stations x reps
        first = np.argmax(np.nan_to_num(periods, nan=-1.0), axis=0)
        shares = np.bincount(first, minlength=len(ids)) / max(periods.shape[1], 1)
        ranked = [(s, float(shares[i]), Estimate.of(periods[i])) for i, s in enumerate(ids)]
        ranked.sort(key=lambda row: (-row[1], -row[2].mean))
        return ranked

    @property
    def events(self) -> float:
        return float(self.values("events").sum())


def compare(a: Results, b: Results, kpis: Sequence[str] | None = None) -> list[Difference]:
    """``b - a`` for each KPI, paired replication by replication (common random numbers)."""
    n = min(len(a.replications), len(b.replications))
    if kpis is None:
        shared = {s.id for s in a.scenario.stations} & {s.id for s in b.scenario.stations}
        kpis = [
            *LINE_KPIS,
            *(
                f"{s.id}.{k}"
                for s in a.scenario.stations
                if s.id in shared
                for k in ("oee", "utilisation")
            ),
        ]
    out = []
    for kpi in kpis:
        x, y = a.values(kpi)[:n], b.values(kpi)[:n]
        keep = ~(np.isnan(x) | np.isnan(y))
        diff = y[keep] - x[keep]
        estimate = Estimate.of(diff)
        out.append(
            Difference(
                kpi, float(np.mean(x[keep])), float(np.mean(y[keep])), estimate, paired_p(diff)
            )
        )
    return out


def paired_p(diff: np.ndarray) -> float:
    n = len(diff)
    if n < 2:
        return math.nan
    sd = float(diff.std(ddof=1))
    mean = float(diff.mean())
    if sd == 0:
        return 1.0 if mean == 0 else 0.0
    t = mean / (sd / math.sqrt(n))
    return 2 * t_sf(abs(t), n - 1)


def t_quantile(p: float, df: int) -> float:
    """Student's t quantile (scipy when installed, else an accurate series: |error| < 1e-3)."""
    try:
        from scipy.stats import t as student
    except ImportError:  # pragma: no cover - scipy ships with the sim extra
        return _t_quantile_series(p, df)
    return float(student.ppf(p, df))


def t_sf(t: float, df: int) -> float:
    """P(T > t) for Student's t with ``df`` degrees of freedom."""
    try:
        from scipy.stats import t as student
    except ImportError:  # pragma: no cover
        x = df / (df + t * t)
        return 0.5 * _regularised_beta(x, df / 2, 0.5)
    return float(student.sf(t, df))


def _t_quantile_series(p: float, df: int) -> float:
    # Cornish-Fisher expansion around the normal quantile (Abramowitz & Stegun 26.7.5)
    from statistics import NormalDist

    z = NormalDist().inv_cdf(p)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def _regularised_beta(x: float, a: float, b: float) -> float:  # pragma: no cover - fallback
    # continued fraction (Numerical Recipes 6.4)
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    c, d, f = 1.0, 0.0, 1.0
    for i in range(200):
        m = i // 2
        if i == 0:
            num = 1.0
        elif i % 2 == 0:
            num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        else:
            num = -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1))
        d = 1 + num * d
        d = 1 / (d if abs(d) > 1e-30 else 1e-30)
        c = 1 + num / (c if abs(c) > 1e-30 else 1e-30)
        f *= c * d
        if abs(1 - c * d) < 1e-12:
            break
    return front * (f - 1) / a


# ------------------------------------------------------------------------------------------------
# running


def _one(scenario: Scenario, replication: int, seed: int) -> tuple[int, dict[str, float]]:
    from werk.sim.model import run_replication

    return replication, run_replication(scenario, replication, seed)


def replicate(
    scenario: Scenario,
    replications: int | None = None,
    *,
    seed: int | None = None,
    jobs: int | None = 1,
    cluster: str | None = None,
    progress: Progress | None = None,
) -> Results:
    """Run ``replications`` (default: the scenario's) independent replications.

    ``jobs``: worker processes (``None``: all cores; 1: in this process). ``cluster``: the address
    of a Dask scheduler (``tcp://host:8786``), which then runs them instead.
    """
    import time

    count = replications or scenario.replications
    base_seed = scenario.seed if seed is None else seed
    started = time.perf_counter()
    rows: dict[int, dict[str, float]] = {}
    for done, (index, row) in enumerate(_run(scenario, count, base_seed, jobs, cluster), 1):
        rows[index] = row
        if progress is not None:
            progress(done, count)
    results = Results(scenario, [rows[i] for i in range(count)])
    results.elapsed_s = time.perf_counter() - started
    return results


def _run(
    scenario: Scenario, count: int, seed: int, jobs: int | None, cluster: str | None
) -> Iterator[tuple[int, dict[str, float]]]:
    if cluster:
        yield from _run_dask(scenario, count, seed, cluster)
        return
    workers = jobs or os.cpu_count() or 1
    if workers <= 1 or count == 1:
        for i in range(count):
            yield _one(scenario, i, seed)
        return
    # spawn: safe with threads (a progress bar, an event loop) in the parent, on every platform
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(workers, count), mp_context=context) as pool:
        futures = [pool.submit(_one, scenario, i, seed) for i in range(count)]
        for future in as_completed(futures):
            yield future.result()


def _run_dask(
    scenario: Scenario, count: int, seed: int, address: str
) -> Iterator[tuple[int, dict[str, float]]]:
    try:
        import dask.distributed
    except ImportError as error:
        raise MissingExtraError("dask.distributed", "dask") from error
    distributed: Any = dask.distributed  # dask's API is untyped
    client = distributed.Client(address)
    try:
        futures = client.map(_one, [scenario] * count, range(count), [seed] * count, pure=False)
        for future in distributed.as_completed(futures):
            yield future.result()
    finally:
        client.close()

"""Calibration from history: fit the line model to recorded machine states, then validate it.

For each machine, the store holds ``<machine>.state`` (state changes, read as a piecewise constant
series; codes: running 0, idle 1, blocked 2, starved 3, down 4, setup 5) and ``<machine>.parts``
(a cycle counter). From them, over a window:

- **cycle times**: running time between two counter steps divided by the parts of the step (exact
  per cycle when the counter is recorded at every increment, a batch mean otherwise);
- **time to failure**: running time between two entries into ``down`` (failures are
  operation-dependent, as in the model); MTTF = running time / failures;
- **time to repair**: durations of ``down`` (not cut by the window's edges);
- shares of the window per state, and throughput (counter steps per hour).

Each sample is fitted with the families of :mod:`werk.sim.distributions` (exponential, lognormal
and gamma by moments, Weibull by maximum likelihood); the smallest Kolmogorov-Smirnov statistic
wins, but exponential (one parameter) is kept for failures and repairs whenever the CV is within
0.5 .. 1.5 and the KS test does not reject it (p >= 0.05): with a few dozen failures the other
families' better KS is mostly noise. An exponential time to failure takes its mean from running
time / failures, which also counts the intervals cut by the window's edges. The fits become
``[stations.<machine>]`` of a scenario, which is then run (replications over the recorded
window's length) and its throughput per machine compared with the recorded one: the relative
error, and whether the record lies in the simulated 95 % CI.
"""

from __future__ import annotations

import copy
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from werk.core.errors import MissingExtraError, WerkError
from werk.core.machine import MachineState
from werk.sim.experiment import Estimate
from werk.store.base import TimeSeriesStore

RUNNING, IDLE, BLOCKED, STARVED, DOWN, SETUP = MachineState
NS = 1_000_000_000
_PAGE = 10_000
_MIN_FIT = 3  # samples below which only the mean is used


class CalibrationError(WerkError):
    """The history cannot be calibrated (no states, nothing produced ...)."""


@dataclass(frozen=True, slots=True)
class Fit:
    """A fitted distribution: family, mean and CV (seconds), the KS statistic and its p-value,
    and ``spec``: the scenario value (``{dist = ..., mean_s = ...}``)."""

    family: str
    n: int
    mean_s: float
    cv: float
    ks: float
    p_value: float
    spec: dict[str, Any]


@dataclass
class MachineHistory:
    """What one machine did in the window, as recorded."""

    machine: str
    window_s: float
    shares: dict[str, float]
    parts: float
    cycle_times: np.ndarray
    ttf: np.ndarray
    ttr: np.ndarray
    failures: int
    running_s: float

    @property
    def throughput_per_h(self) -> float:
        return self.parts / (self.window_s / 3600.0) if self.window_s > 0 else math.nan

    @property
    def mttf_s(self) -> float:
        return self.running_s / self.failures if self.failures else math.inf

    @property
    def mttr_s(self) -> float:
        return float(self.ttr.mean()) if len(self.ttr) else math.nan


@dataclass
class MachineFit:
    history: MachineHistory
    cycle: Fit
    ttf: Fit | None
    ttr: Fit | None

    def station(self) -> dict[str, Any]:
        out: dict[str, Any] = {"cycle_time": self.cycle.spec}
        if self.ttf is not None and self.ttr is not None:
            out["time_to_failure"] = self.ttf.spec
            out["time_to_repair"] = self.ttr.spec
        return out


@dataclass(frozen=True, slots=True)
class Check:
    """Recorded vs simulated cycles per hour of one machine."""

    machine: str
    recorded_per_h: float
    simulated: Estimate

    @property
    def relative_error(self) -> float:
        return (self.simulated.mean - self.recorded_per_h) / self.recorded_per_h

    @property
    def inside(self) -> bool:
        return self.simulated.contains(self.recorded_per_h)


@dataclass
class Validation:
    replications: int
    duration_s: float
    machines: list[Check]

    @property
    def line(self) -> Check:
        """The last machine of the line: its output is the line's."""
        return self.machines[-1]


@dataclass
class Calibration:
    start_ns: int
    end_ns: int
    fits: list[MachineFit]
    scenario: dict[str, Any]
    validation: Validation | None = None
    notes: list[str] = field(default_factory=list)

    def toml(self, relative_to: Path | None = None) -> str:
        """The calibrated scenario as TOML; a plant path is made relative to ``relative_to``."""
        data = copy.deepcopy(self.scenario)
        plant = data.get("scenario", {}).get("plant")
        if isinstance(plant, str) and relative_to is not None:
            data["scenario"]["plant"] = os.path.relpath(plant, relative_to).replace(os.sep, "/")
        head = (
            "# calibrated by `werk sim calibrate` from the store's history: "
            f"{self.start_ns} .. {self.end_ns} ns\n"
        )
        return head + dump_toml(data)


# ------------------------------------------------------------------------------------------------
# reading the history


def read_series(
    store: TimeSeriesStore, signal: str, start_ns: int, end_ns: int
) -> tuple[np.ndarray, np.ndarray]:
    """All samples of ``signal`` in ``[start, end)``, paged with ``after``."""
    stamps: list[np.ndarray] = []
    values: list[np.ndarray] = []
    after: int | None = None
    while True:
        batch = store.read(signal, start_ns, end_ns, limit=_PAGE, after=after)
        if not len(batch.timestamps):
            break
        stamps.append(np.asarray(batch.timestamps, dtype=np.int64))
        values.append(np.asarray(batch.values, dtype=float))
        if len(batch.timestamps) < _PAGE:
            break
        after = int(batch.timestamps[-1])
    if not stamps:
        return np.empty(0, np.int64), np.empty(0)
    return np.concatenate(stamps), np.concatenate(values)


def observe(store: TimeSeriesStore, machine: str, start_ns: int, end_ns: int) -> MachineHistory:
    """Cycle times, failures, repairs, state shares and throughput of ``machine`` in the window
    (which begins at its first recorded state inside ``[start, end)``)."""
    ts, raw = read_series(store, f"{machine}.state", start_ns, end_ns)
    ts, raw = ts[~np.isnan(raw)], raw[~np.isnan(raw)]
    if not len(ts):
        raise CalibrationError(
            f"no recorded states for {machine!r}: the signal {machine}.state has no samples "
            f"between {start_ns} and {end_ns} ns"
        )
    codes = raw.astype(int)
    keep = np.concatenate([[True], codes[1:] != codes[:-1]])  # repeated samples: one run
    starts = (ts[keep] - ts[0]) / NS
    codes = codes[keep]
    window = (end_ns - ts[0]) / NS
    ends = np.append(starts[1:], window)
    durations = ends - starts
    shares = {
        state.label: float(durations[codes == state].sum() / window) if window > 0 else 0.0
        for state in MachineState
    }
    running = codes == RUNNING
    cum_running = np.concatenate([[0.0], np.cumsum(durations * running)])

    def running_until(t: np.ndarray) -> np.ndarray:
        i = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(starts) - 1)
        return np.asarray(cum_running[i] + np.clip(t - starts[i], 0.0, None) * running[i])

    # failures: entries into down after the first run; repairs: down runs inside the window
    entries = np.flatnonzero((codes == DOWN) & (np.arange(len(codes)) > 0))
    ttf = np.diff(running_until(starts[entries])) if len(entries) > 1 else np.empty(0)
    complete = entries[entries < len(codes) - 1]
    ttr = durations[complete]

    pts, pvals = read_series(store, f"{machine}.parts", start_ns, end_ns)
    good = ~np.isnan(pvals) & (pts >= ts[0])
    pts, pvals = (pts[good] - ts[0]) / NS, pvals[good]
    steps = np.diff(pvals)
    made = steps > 0  # a drop is a counter reset: that interval is skipped
    cycles = np.empty(0)
    if len(pts) > 1:
        run_between = np.diff(running_until(pts))
        use = made & (run_between > 0)
        cycles = run_between[use] / steps[use]
    return MachineHistory(
        machine=machine,
        window_s=float(window),
        shares=shares,
        parts=float(steps[made].sum()) if len(steps) else 0.0,
        cycle_times=cycles,
        ttf=ttf,
        ttr=ttr,
        failures=len(entries),
        running_s=float(cum_running[-1]),
    )


# ------------------------------------------------------------------------------------------------
# fitting


def _scipy_stats() -> Any:
    try:
        from scipy import stats
    except ImportError as error:  # pragma: no cover - scipy ships with the sim extra
        raise MissingExtraError("scipy", "sim") from error
    return stats


def _round(value: float) -> float:
    return float(f"{value:.4g}")


def fit(samples: Sequence[float] | np.ndarray, unit: str = "s", *, failures: bool = False) -> Fit:
    """Fit durations (seconds); ``unit`` (s, min, h) is the unit of the spec's parameters.
    ``failures``: also try exponential and prefer it when the CV is near 1 and KS accepts it
    (the KS statistic and p-value are then those of the exponential)."""
    x = np.asarray(samples, dtype=float)
    x = x[np.isfinite(x) & (x > 0)]
    n = len(x)
    if n == 0:
        raise CalibrationError("nothing to fit: no positive durations")
    scale = {"s": 1.0, "min": 60.0, "h": 3600.0}[unit]
    mean = float(x.mean())
    cv = float(x.std(ddof=1) / mean) if n > 1 else math.nan
    mean_key = f"mean_{unit}"
    if n < _MIN_FIT or (not failures and cv < 0.01):
        family = "exponential" if failures else "fixed"
        spec: dict[str, Any] = (
            {"dist": "exponential", mean_key: _round(mean / scale)}
            if failures
            else {"dist": "fixed", f"value_{unit}": _round(mean / scale)}
        )
        return Fit(family, n, mean, cv, math.nan, math.nan, spec)
    stats = _scipy_stats()
    candidates: dict[str, tuple[Any, dict[str, Any]]] = {}
    sigma2 = math.log1p(cv**2)
    candidates["lognormal"] = (
        stats.lognorm(math.sqrt(sigma2), scale=mean * math.exp(-sigma2 / 2)),
        {"dist": "lognormal", mean_key: _round(mean / scale), "cv": _round(cv)},
    )
    candidates["gamma"] = (
        stats.gamma(1 / cv**2, scale=mean * cv**2),
        {"dist": "gamma", mean_key: _round(mean / scale), "cv": _round(cv)},
    )
    try:
        shape, _, wscale = stats.weibull_min.fit(x, floc=0)
        candidates["weibull"] = (
            stats.weibull_min(shape, scale=wscale),
            {"dist": "weibull", "shape": _round(shape), f"scale_{unit}": _round(wscale / scale)},
        )
    except (ValueError, RuntimeError, FloatingPointError):  # pragma: no cover - degenerate data
        pass
    if failures:
        candidates["exponential"] = (
            stats.expon(scale=mean),
            {"dist": "exponential", mean_key: _round(mean / scale)},
        )
    tests = {name: stats.kstest(x, frozen.cdf) for name, (frozen, _) in candidates.items()}
    best = min(tests, key=lambda name: float(tests[name].statistic))
    if failures and 0.5 <= cv <= 1.5 and float(tests["exponential"].pvalue) >= 0.05:
        best = "exponential"
    test = tests[best]
    return Fit(best, n, mean, cv, float(test.statistic), float(test.pvalue), candidates[best][1])


def fit_machine(history: MachineHistory) -> MachineFit:
    if not len(history.cycle_times):
        raise CalibrationError(
            f"{history.machine}: no cycle times (the counter {history.machine}.parts made no "
            "step while the machine was running)"
        )
    cycle = fit(history.cycle_times, "s")
    ttf = ttr = None
    if history.failures and len(history.ttr):
        ttf = fit(history.ttf, "h", failures=True) if len(history.ttf) else None
        if ttf is None or ttf.n < _MIN_FIT:  # too few complete intervals: MTTF, exponential
            mean_h = _round(history.mttf_s / 3600)
            ttf = Fit(
                "exponential",
                history.failures,
                history.mttf_s,
                math.nan,
                math.nan,
                math.nan,
                {"dist": "exponential", "mean_h": mean_h},
            )
        elif ttf.family == "exponential":
            spec = {"dist": "exponential", "mean_h": _round(history.mttf_s / 3600)}
            ttf = Fit("exponential", ttf.n, history.mttf_s, ttf.cv, ttf.ks, ttf.p_value, spec)
        ttr = fit(history.ttr, "min", failures=True)
    return MachineFit(history, cycle, ttf, ttr)


# ------------------------------------------------------------------------------------------------
# the scenario and its validation

_REPLACED = ("cycle_time", "time_to_failure", "time_to_repair", "mttf_h", "mttr_min")


def calibrated_scenario(
    fits: Sequence[MachineFit],
    duration_s: float,
    *,
    base: Mapping[str, Any] | None = None,
    base_dir: Path | None = None,
    replications: int = 10,
    seed: int = 1,
) -> tuple[dict[str, Any], list[str]]:
    """A scenario (as the loader's dict) with the fitted stations; the rest from ``base``. Also
    notes on what was replaced or dropped."""
    notes: list[str] = []
    data: dict[str, Any] = copy.deepcopy(dict(base)) if base else {}
    head = data.setdefault("scenario", {})
    head["name"] = f"{head.get('name', 'line')}-calibrated"
    if isinstance(head.get("plant"), str) and base_dir is not None:
        head["plant"] = str((base_dir / head["plant"]).resolve())
    run = data.setdefault("run", {})
    run["duration"] = _round(duration_s)
    run.setdefault("warmup", 0)
    run["replications"] = replications
    run["seed"] = seed
    stations = data.setdefault("stations", {})
    for machine_fit in fits:
        machine = machine_fit.history.machine
        table = stations.setdefault(machine, {})
        for key in _REPLACED:
            table.pop(key, None)
        for variant, spec in (table.get("variants") or {}).items():
            if isinstance(spec, dict) and spec.pop("cycle_time", None) is not None:
                notes.append(
                    f"{machine}: the cycle time of variant {variant} is replaced by the fitted one "
                    "(the history does not tell variants apart)"
                )
        table.update(machine_fit.station())
        if machine_fit.ttf is None:
            notes.append(f"{machine}: no complete failure recorded; the model has no failures")
    return data, notes


def validate(
    scenario_data: Mapping[str, Any],
    histories: Sequence[MachineHistory],
    *,
    base_dir: Path | None = None,
    jobs: int | None = 1,
) -> Validation:
    """Run the calibrated scenario and compare cycles per hour per machine with the record."""
    from werk.sim.experiment import replicate
    from werk.sim.scenario import scenario_from_dict

    scenario = scenario_from_dict(scenario_data, file="<calibrated>", base=base_dir)
    results = replicate(scenario, jobs=jobs)
    recorded = {h.machine: h for h in histories}
    checks = []
    for station in scenario.stations:  # flow order: the last one is the line's output
        if station.id not in recorded:
            continue
        good = results.values(f"{station.id}.parts_per_h")
        quality = results.values(f"{station.id}.quality")
        cycles = np.where(quality > 0, good / np.where(quality > 0, quality, 1.0), 0.0)
        checks.append(Check(station.id, recorded[station.id].throughput_per_h, Estimate.of(cycles)))
    return Validation(len(results.replications), scenario.duration_s, checks)


def calibrate(
    store: TimeSeriesStore,
    machines: Sequence[str],
    start_ns: int,
    end_ns: int,
    *,
    base: Path | None = None,
    replications: int = 10,
    seed: int = 1,
    jobs: int | None = 1,
    run_validation: bool = True,
) -> Calibration:
    """Observe, fit and (by default) validate ``machines`` over ``[start, end)``."""
    import tomllib

    if end_ns <= start_ns:
        raise CalibrationError("the window is empty: end must be after start")
    if not machines:
        raise CalibrationError("no machines given")
    histories = [observe(store, m, start_ns, end_ns) for m in machines]
    fits = [fit_machine(h) for h in histories]
    base_data = None
    if base is not None:
        try:
            base_data = tomllib.loads(base.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise CalibrationError(f"cannot read the scenario {base}: {error}") from error
    duration = max(h.window_s for h in histories)
    data, notes = calibrated_scenario(
        fits,
        duration,
        base=base_data,
        base_dir=base.parent if base else None,
        replications=replications,
        seed=seed,
    )
    calibration = Calibration(start_ns, end_ns, fits, data, notes=notes)
    if run_validation:
        calibration.validation = validate(data, histories, jobs=jobs)
    return calibration


# ------------------------------------------------------------------------------------------------
# TOML out (scenario files only: tables, scalars, lists and inline tables)


def dump_toml(data: Mapping[str, Any]) -> str:
    lines: list[str] = []
    _table(data, [], lines)
    return "\n".join(lines).lstrip("\n") + "\n"


def _table(data: Mapping[str, Any], path: list[str], lines: list[str]) -> None:
    scalars = {k: v for k, v in data.items() if not _is_table(v)}
    tables = {k: v for k, v in data.items() if _is_table(v)}
    if path and (scalars or not tables):
        lines.append("")
        lines.append("[" + ".".join(_key(p) for p in path) + "]")
    for key, value in scalars.items():
        lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in tables.items():
        _table(value, [*path, key], lines)


def _is_table(value: Any) -> bool:
    return isinstance(value, Mapping) and "dist" not in value


def _key(key: str) -> str:
    bare = key.replace("_", "").replace("-", "").isalnum() and key.isascii()
    return key if bare else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, Sequence):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")

"""The analytics service: every sample batch on the bus through the detectors, limits and SPC.

It follows ``samples.>`` like the recorder and the twin state do, and tells what it finds as
condition events (``anomaly.*``, ``limit.*``, ``spc.*``; see :mod:`werk.core.condition`),
which the alarm manager turns into alarms. Data quality is not here: it is screened on the way in
(:mod:`werk.analytics.quality`), so the stored samples carry it.

What watches which signal is a :class:`Watchlist`, built from the plant file's ``analytics``
tables and werk.toml's defaults by :func:`werk.analytics.plan.watchlist`. Per batch, each watched
signal's usable samples (quality below BAD, finite) are scored first and then learnt (predict,
then learn: a detector never judges data it has already seen), leaving out what it judged
anomalous so an anomaly does not teach the detector that it is normal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from werk.analytics.base import ANOMALOUS, Detector, Explains, top_contributors
from werk.analytics.detectors import AlarmRule, alarm_rule, decide, judge
from werk.analytics.detectors.bank import RobustZBank
from werk.analytics.drift import InputDrift
from werk.analytics.limits import LimitState
from werk.analytics.spc import SpcProcessor
from werk.core import SAMPLES, Bus, Event, Quality, SampleBatch
from werk.core.condition import Condition, describe

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SignalWatch:
    """What watches one signal."""

    signal: str
    asset: str | None
    priority: str = "medium"
    detector: Detector | None = None
    detector_name: str = ""
    limits: LimitState | None = None
    spc: SpcProcessor | None = None
    rule: AlarmRule = field(default_factory=alarm_rule)
    slot: int = -1
    """The signal's place in the watchlist's robust-z bank (-1: its own ``detector``, or none)."""
    last_score: float = float("nan")
    scored: int = 0
    anomalous: int = 0
    drift: InputDrift = field(init=False)

    def __post_init__(self) -> None:
        self.drift = InputDrift((self.signal,))


@dataclass(slots=True)
class MachineWatch:
    """A multivariate detector over some signals of one asset, on rows aligned by time."""

    asset: str
    signals: tuple[str, ...]
    detector: Detector
    detector_name: str
    priority: str = "medium"
    rule: AlarmRule = field(default_factory=alarm_rule)
    last_row: npt.NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    last_score: float = float("nan")
    drift: InputDrift = field(init=False)

    def __post_init__(self) -> None:
        if not len(self.last_row):
            self.last_row = np.full(len(self.signals), np.nan)
        self.drift = InputDrift(self.signals)


@dataclass(slots=True)
class Watchlist:
    signals: dict[str, SignalWatch] = field(default_factory=dict)
    machines: list[MachineWatch] = field(default_factory=list)
    bank: RobustZBank | None = None
    """The default detector of every signal that uses it, scored and learnt in one pass a batch."""


class AnalyticsService:
    """Runs the watchlist over every batch; ``process`` is the synchronous core (tests use it)."""

    def __init__(
        self, watchlist: Watchlist, emit: Callable[[Event], Awaitable[None]] | None = None
    ) -> None:
        self.watchlist = watchlist
        self._emit = emit
        self._machine_of: dict[str, list[tuple[MachineWatch, int]]] = {}
        for machine in watchlist.machines:
            for column, signal in enumerate(machine.signals):
                self._machine_of.setdefault(signal, []).append((machine, column))
        self.batches = 0
        self.values = 0

    def status(self) -> dict[str, Any]:
        """What each detector watches and how it is doing (the API's ``/detectors``)."""
        return {
            "batches": self.batches,
            "values": self.values,
            "signals": [
                {
                    "signal": w.signal,
                    "asset": w.asset,
                    "detector": w.detector_name or None,
                    "limits": w.limits is not None,
                    "spc": w.spc is not None,
                    "anomalous": w.rule.active,
                    "score": _finite(w.last_score),
                    "scored": w.scored,
                    "anomalous_samples": w.anomalous,
                    "drift": _drift(w.drift),
                }
                for w in self.watchlist.signals.values()
            ],
            "machines": [
                {
                    "asset": m.asset,
                    "detector": m.detector_name,
                    "signals": list(m.signals),
                    "anomalous": m.rule.active,
                    "score": _finite(m.last_score),
                    "drift": _drift(m.drift),
                }
                for m in self.watchlist.machines
            ],
        }

    async def run(self, bus: Bus) -> None:
        async with bus.subscribe(f"{SAMPLES}.>", name="analytics") as subscription:
            async for message in subscription:
                try:
                    # in a worker thread: the loop stays free to hand the same batch to the
                    # recorder, whose commit (in its own thread, outside the GIL) then overlaps
                    # with the scoring instead of waiting behind it
                    conditions = await asyncio.to_thread(self.process, message.payload)
                except Exception:  # one bad batch must not stop the watching
                    log.exception("analytics: a batch could not be processed; going on")
                    continue
                if self._emit is not None:
                    for condition in conditions:
                        event = condition.event()
                        await self._emit(event)

    def process(self, batch: SampleBatch) -> list[Condition]:
        """The conditions that started or ended in ``batch``."""
        if not len(batch):
            return []
        self.batches += 1
        self.values += len(batch)
        # usable samples only (quality below BAD, finite), grouped by signal in arrival order
        usable = np.flatnonzero((batch.quality < Quality.BAD) & np.isfinite(batch.values))
        order = usable[np.argsort(batch.index[usable], kind="stable")]
        bounds = np.searchsorted(batch.index[order], np.arange(len(batch.names) + 1))
        found: list[Condition] = []
        # per machine watched here: (its column, the batch positions of that signal's samples)
        machines: dict[int, tuple[MachineWatch, list[tuple[int, npt.NDArray[np.intp]]]]] = {}
        banked = _Banked.of(self.watchlist, batch, order)
        for code, name in enumerate(batch.names):
            watch = self.watchlist.signals.get(name)
            members = self._machine_of.get(name)
            if watch is None and members is None:
                continue
            begin, end = bounds[code], bounds[code + 1]
            if begin == end:
                continue
            rows = order[begin:end]
            if watch is not None:
                found += self._watch(
                    watch, batch.timestamps[rows], batch.values[rows], banked, begin, end
                )
            for machine, column in members or ():
                machines.setdefault(id(machine), (machine, []))[1].append((column, rows))
        if banked is not None:
            banked.learn()
        for machine, parts in machines.values():
            found += self._machine(machine, batch, parts)
        return found

    # -- one signal ------------------------------------------------------------------------------

    def _watch(
        self,
        watch: SignalWatch,
        ts: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
        banked: _Banked | None,
        begin: int,
        end: int,
    ) -> list[Condition]:
        found: list[Condition] = []
        if watch.detector is not None or (banked is not None and watch.slot >= 0):
            watch.drift.add(values)
            if watch.detector is not None:
                scores, episodes = _judge(watch.detector, watch.rule, values)
            else:
                assert banked is not None
                scores, episodes = banked.judge(watch.rule, begin, end)
            watch.anomalous += int(np.count_nonzero(scores >= ANOMALOUS))  # NaN: False
            watch.scored += len(scores) - int(np.count_nonzero(np.isnan(scores)))
            if scores[-1] == scores[-1]:  # not NaN: the newest judged score
                watch.last_score = float(scores[-1])
            for raised, at in episodes:
                found.append(
                    Condition(
                        "anomaly",
                        watch.detector_name,
                        watch.signal,
                        raised,
                        int(ts[at]),
                        _message(raised, watch, values[at], ts[at]),
                        watch.priority,
                        float(values[at]),
                        _finite(float(scores[at])),
                        watch.asset,
                        watch.signal,
                    )
                )
        if watch.limits is not None:
            before = (watch.limits.high_active, watch.limits.low_active)
            high, low = watch.limits.update(values)
            for name, active, was in (("high", high, before[0]), ("low", low, before[1])):
                found += _limit_changes(watch, name, active, was, ts, values)
        if watch.spc is not None:
            watch.spc.update_many(ts, values)
            for change in watch.spc.pop_transitions():
                found.append(change.to_condition(watch.signal, watch.asset, watch.priority))
        return found

    # -- one machine -----------------------------------------------------------------------------

    def _machine(
        self,
        machine: MachineWatch,
        batch: SampleBatch,
        parts: list[tuple[int, npt.NDArray[np.intp]]],
    ) -> list[Condition]:
        ts, rows = _aligned_rows(machine, batch, parts)
        if not len(ts):
            return []
        complete = np.isfinite(rows).all(axis=1)
        ts, rows = ts[complete], rows[complete]
        if not len(ts):
            return []
        machine.drift.add(rows)
        scores, episodes = _judge(machine.detector, machine.rule, rows)
        judged = np.isfinite(scores)
        if judged.any():
            machine.last_score = float(scores[judged][-1])
        found = []
        for raised, at in episodes:
            contributors: list[dict[str, Any]] = []
            if raised and isinstance(machine.detector, Explains):
                shares = machine.detector.contributions(rows[at])
                contributors = top_contributors(list(machine.signals), shares)
            # name the inputs that matter: the top one, and any other with a sizeable share
            named = ", ".join(
                c["signal"] for i, c in enumerate(contributors) if i == 0 or c["share"] >= 0.2
            )
            message = (
                f"{machine.asset}: anomaly ({machine.detector_name}) across its signals"
                + (f", mostly {named}" if named else "")
                if raised
                else f"{machine.asset}: back to normal ({machine.detector_name})"
            )
            found.append(
                Condition(
                    "anomaly",
                    machine.detector_name,
                    machine.asset,
                    raised,
                    int(ts[at]),
                    message,
                    machine.priority,
                    None,
                    _finite(float(scores[at])),
                    machine.asset,
                    None,
                    contributors,
                )
            )
        return found


def _judge(
    detector: Detector, rule: AlarmRule, X: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], list[tuple[bool, int]]]:
    """:func:`werk.analytics.detectors.judge` (what the benchmarks measure), with the alarm
    state's changes as episodes: ``(raised, position)``."""
    before = rule.active
    scores, active = judge(detector, rule, X)
    return scores, _episodes(before, active)


def _episodes(before: bool, active: npt.NDArray[np.bool_]) -> list[tuple[bool, int]]:
    """Where the alarm state changes: ``(raised, position)``."""
    if not before and not active.any():
        return []
    previous = np.concatenate(([before], active[:-1]))
    return [(bool(active[i]), int(i)) for i in np.flatnonzero(active != previous)]


class _Banked:
    """One batch's pass through the watchlist's robust-z bank: every banked signal scored at
    once (``of``), judged per signal by its own alarm rule (``judge``: the same :func:`decide` as
    :func:`werk.analytics.detectors.judge`), what was judged normal learnt at once (``learn``)."""

    def __init__(
        self, bank: RobustZBank, slots: npt.NDArray[np.int64], values: npt.NDArray[np.float64]
    ) -> None:
        self.bank = bank
        self.slots = slots  # per usable sample, grouped by signal: its bank slot or -1
        self.values = values
        self.scores = np.full(len(values), np.nan)
        inside = slots >= 0
        self.scores[inside] = bank.score(slots[inside], values[inside])
        self.learnt = np.zeros(len(values), bool)

    @classmethod
    def of(
        cls, watchlist: Watchlist, batch: SampleBatch, order: npt.NDArray[np.intp]
    ) -> _Banked | None:
        if watchlist.bank is None:
            return None
        signals = watchlist.signals
        slot_of_code = np.fromiter(
            (w.slot if (w := signals.get(name)) is not None else -1 for name in batch.names),
            np.int64,
            len(batch.names),
        )
        if not (slot_of_code >= 0).any():
            return None
        return cls(watchlist.bank, slot_of_code[batch.index[order]], batch.values[order])

    def judge(
        self, rule: AlarmRule, begin: int, end: int
    ) -> tuple[npt.NDArray[np.float64], list[tuple[bool, int]]]:
        scores = self.scores[begin:end]
        before = rule.active
        active, learn = decide(rule, scores)
        self.learnt[begin:end] = learn
        return scores, _episodes(before, active)

    def learn(self) -> None:
        if self.learnt.any():
            self.bank.learn(self.slots[self.learnt], self.values[self.learnt])


def _aligned_rows(
    machine: MachineWatch, batch: SampleBatch, parts: list[tuple[int, npt.NDArray[np.intp]]]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """One row per distinct timestamp of the machine's samples in ``batch`` (``parts``: each of
    its signals' column and usable samples, as :meth:`AnalyticsService.process` grouped them):
    each column holds its signal's latest value at that time (carried forward, also from earlier
    batches)."""
    picks = np.concatenate([rows for _, rows in parts])
    column = np.concatenate([np.full(len(rows), col) for col, rows in parts])
    by_time = np.argsort(batch.timestamps[picks], kind="stable")
    picks, column = picks[by_time], column[by_time]
    ts = batch.timestamps[picks]
    n, k = len(picks), len(machine.signals)
    grid = np.full((n + 1, k), np.nan)
    grid[0] = machine.last_row
    grid[np.arange(1, n + 1), column] = batch.values[picks]
    # carry each column's last value forward: index of the last finite entry at or before a row
    filled = np.where(np.isfinite(grid), np.arange(n + 1)[:, None], 0)
    np.maximum.accumulate(filled, axis=0, out=filled)
    grid = grid[filled, np.arange(k)]
    machine.last_row = grid[-1].copy()
    rows = grid[1:]
    last_of_time = np.r_[ts[1:] != ts[:-1], True]  # one row per timestamp: its last
    return ts[last_of_time], rows[last_of_time]


def _limit_changes(
    watch: SignalWatch,
    name: str,
    active: npt.NDArray[np.bool_],
    was: bool,
    ts: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
) -> list[Condition]:
    assert watch.limits is not None
    if not active.any() and not was:
        return []
    previous = np.concatenate(([was], active[:-1]))
    found = []
    for i in np.flatnonzero(active != previous):
        raised = bool(active[i])
        line = watch.limits.limits.high if name == "high" else watch.limits.limits.low
        message = (
            f"{watch.signal} {'above' if name == 'high' else 'below'} its {name} limit "
            f"{line:g}: {values[i]:.4g}"
            if raised
            else f"{watch.signal} back within its {name} limit {line:g}: {values[i]:.4g}"
        )
        found.append(
            Condition(
                "limit",
                name,
                watch.signal,
                raised,
                int(ts[i]),
                message,
                watch.limits.limits.priority,
                float(values[i]),
                None,
                watch.asset,
                watch.signal,
            )
        )
    return found


def _message(raised: bool, watch: SignalWatch, value: float, at: int) -> str:
    if raised:
        return describe(f"anomaly ({watch.detector_name})", watch.signal, float(value), int(at))
    return f"{watch.signal}: back to normal ({watch.detector_name})"


def _finite(value: float) -> float | None:
    return round(value, 4) if np.isfinite(value) else None


def _drift(drift: InputDrift) -> dict[str, Any] | None:
    report = drift.report()
    return None if report is None else report.to_dict()

"""Who watches what: the quality rules and detectors of every signal, from the plant file and
werk.toml's ``[analytics]`` defaults.

Defaults, for a signal the plant file says nothing about:

* numeric signals (``double``, the default data type) get the range check, the spike check,
  a flatline check after ``flatline_intervals`` expected intervals (when the interval is known)
  and the default univariate detector;
* counters, states and other integer or text signals get the range check only: a parts counter
  that stands still while the machine waits is not a frozen sensor, and a state code's steps are
  not spikes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from werk.analytics.base import Detector
from werk.analytics.limits import LimitState
from werk.analytics.quality import QualityRules
from werk.analytics.service import MachineWatch, SignalWatch, Watchlist
from werk.analytics.spc import SpcProcessor
from werk.core import ConfigError, Signal
from werk.twin.analytics_spec import SignalAnalytics

if TYPE_CHECKING:
    from werk.twin.plant import Plant

OFF = "off"


@dataclass(frozen=True, slots=True)
class Defaults:
    """werk.toml's ``[analytics]`` section, as plain values."""

    detector: str = "robust-z"
    multivariate: str = OFF
    hold_s: float = 10.0
    spike_k: float = 8.0
    flatline_intervals: float = 120.0


@dataclass(frozen=True, slots=True)
class Watched:
    """A signal with what the plant file says about it (plain signals: defaults only)."""

    signal: Signal
    data_type: str = "double"
    analytics: SignalAnalytics = field(default_factory=SignalAnalytics)

    @property
    def numeric(self) -> bool:
        return self.data_type in ("double", "float")


def quality_rules(signals: Iterable[Watched], defaults: Defaults) -> dict[str, QualityRules]:
    rules = {}
    for watched in signals:
        signal, spec = watched.signal, watched.analytics
        interval = signal.expected_interval_s
        flatline = spec.flatline_s
        if flatline is None and watched.numeric and interval:
            flatline = defaults.flatline_intervals * interval
        spike: float | None = None
        if not spec.spike_off and (spec.spike_k is not None or watched.numeric):
            spike = spec.spike_k or defaults.spike_k
        rules[signal.id] = QualityRules(
            minimum=signal.minimum,
            maximum=signal.maximum,
            expected_interval_s=interval,
            spike_k=spike,
            flatline_s=flatline,
            hold_s=defaults.hold_s,
        )
    return rules


def build_watchlist(
    signals: Iterable[Watched],
    defaults: Defaults,
    machines: Iterable[tuple[str, str, tuple[str, ...], str]] = (),
) -> Watchlist:
    """``machines``: (asset, detector name, signal ids, priority) per multivariate detector.

    Signals with the default detector share one :class:`RobustZBank` (the same detector, scored
    for a whole batch at once); any other detector is an object of its own."""
    from werk.analytics.detectors import DEFAULT_UNIVARIATE, multivariate, univariate
    from werk.analytics.detectors.bank import RobustZBank

    watchlist = Watchlist()
    for watched in signals:
        spec = watched.analytics
        name = spec.detector or (defaults.detector if watched.numeric else OFF)
        detector, slot = None, -1
        if name == DEFAULT_UNIVARIATE[0]:
            if watchlist.bank is None:
                watchlist.bank = RobustZBank(**DEFAULT_UNIVARIATE[1])
            slot = watchlist.bank.slot(watched.signal.id)
        elif name != OFF:
            detector = _made(univariate, name, watched.signal.id)
        limits = LimitState(spec.limits) if spec.limits else None
        spc = _spc(watched) if spec.spc else None
        if detector is None and slot < 0 and limits is None and spc is None:
            continue
        watchlist.signals[watched.signal.id] = SignalWatch(
            watched.signal.id,
            watched.signal.asset or None,
            spec.priority or "medium",
            detector,
            name if detector is not None or slot >= 0 else "",
            limits,
            spc,
            slot=slot,
        )
    for asset, name, ids, priority in machines:
        detector = _made(multivariate, name, asset)
        watchlist.machines.append(MachineWatch(asset, ids, detector, name, priority))
    return watchlist


def _made(factory: Callable[[str], Detector], name: str, where: str) -> Detector:
    try:
        return factory(name)
    except ConfigError as error:
        raise ConfigError(f"analytics of {where}: {error}") from error


def _spc(watched: Watched) -> SpcProcessor:
    spec = watched.analytics.spc
    assert spec is not None
    return SpcProcessor(subgroup=spec.subgroup, baseline=spec.baseline)


def watched_signals(catalog: Iterable[Signal], plant: Plant | None) -> list[Watched]:
    """Every signal werk knows; those of the plant file with their data type and analytics."""
    described: dict[str, Watched] = {}
    if plant is not None:
        for asset in plant.assets:
            for s in asset.signals:
                described[s.id] = Watched(s.signal, s.data_type, s.analytics)
    return [described.get(signal.id) or Watched(signal) for signal in catalog]


def machine_detectors(
    plant: Plant | None, defaults: Defaults
) -> list[tuple[str, str, tuple[str, ...], str]]:
    """(asset, detector, signal ids, priority) of every asset watched as a whole: those whose
    plant file names a multivariate detector, and — when werk.toml sets a default — every
    machine with two or more numeric signals."""
    if plant is None:
        return []
    found = []
    for asset in plant.assets:
        spec = asset.analytics
        name = spec.multivariate or (defaults.multivariate if asset.level == "machine" else OFF)
        if name == OFF:
            continue
        by_name = {s.name: s for s in asset.signals}
        if spec.signals:
            unknown = [n for n in spec.signals if n not in by_name]
            if unknown:
                raise ConfigError(
                    f"analytics of {asset.id}: unknown signals {', '.join(unknown)} "
                    f"(the asset has {', '.join(by_name) or 'none'})"
                )
            ids = tuple(by_name[n].id for n in spec.signals)
        else:
            ids = tuple(s.id for s in asset.signals if s.data_type in ("double", "float"))
        if len(ids) < 2:
            if spec.multivariate:
                raise ConfigError(
                    f"analytics of {asset.id}: a multivariate detector needs two or more signals"
                )
            continue
        found.append((asset.id, name, ids, "medium"))
    return found

"""What the plant file says about watching a signal or an asset: its ``analytics`` tables.

```toml
[assets.press1.analytics]
multivariate = "pca"              # a detector over the machine's signals together ("off": none)
signals = ["temperature", "vibration", "current"]   # default: every double signal of the asset
ideal_cycle_s = 2.0               # OEE: the ideal time for one part

[assets.press1.signals.temperature.analytics]
detector = "robust-z"             # the univariate detector ("off": none; default from werk.toml)
priority = "high"                 # of the alarms this signal raises
flatline_s = 120                  # data quality: unchanged this long is a frozen sensor
spike_k = 8                       # a step this many usual steps high is a spike (false: off)
limits = { high = 90, low = 10, deadband = 2, priority = "urgent" }
spc = { subgroup = 5, lsl = 40, usl = 60 }
```

Parsed here, with the rest of the plant file, so a mistake is reported with its file and line;
which detector names exist is checked by :mod:`werk.analytics` when werk starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

PRIORITIES = ("low", "medium", "high", "urgent")

_SIGNAL_KEYS = ("detector", "priority", "flatline_s", "spike_k", "limits", "spc")
_LIMIT_KEYS = ("high", "low", "deadband", "priority")
_SPC_KEYS = ("subgroup", "lsl", "usl", "baseline")
_ASSET_KEYS = ("multivariate", "signals", "ideal_cycle_s", "state_signal", "count_signal")


class Checker(Protocol):
    def error(self, path: tuple[str, ...], message: str, rule: str) -> None: ...

    def table(
        self, value: Any, path: tuple[str, ...], allowed: tuple[str, ...]
    ) -> dict[str, Any]: ...

    def text(
        self, table: Mapping[str, Any], key: str, path: tuple[str, ...], *, required: bool = False
    ) -> str | None: ...

    def number(self, table: Mapping[str, Any], key: str, path: tuple[str, ...]) -> float | None: ...


@dataclass(frozen=True, slots=True)
class Limits:
    """Alarm limits on a value; ``deadband`` must be left behind before the alarm clears."""

    high: float | None = None
    low: float | None = None
    deadband: float = 0.0
    priority: str = "high"


@dataclass(frozen=True, slots=True)
class SpcSpec:
    subgroup: int = 1
    lsl: float | None = None
    usl: float | None = None
    baseline: int = 100  # points (subgroups) that set the control limits


@dataclass(frozen=True, slots=True)
class SignalAnalytics:
    detector: str | None = None  # None: werk.toml's default; "off": none
    priority: str | None = None
    flatline_s: float | None = None
    spike_k: float | None = None
    spike_off: bool = False
    limits: Limits | None = None
    spc: SpcSpec | None = None


@dataclass(frozen=True, slots=True)
class AssetAnalytics:
    multivariate: str | None = None
    signals: tuple[str, ...] = ()
    ideal_cycle_s: float | None = None
    state_signal: str = "state"
    count_signal: str = "parts"


def parse_signal_analytics(body: Any, path: tuple[str, ...], check: Checker) -> SignalAnalytics:
    table = check.table(body, path, _SIGNAL_KEYS)
    spike_k: float | None = None
    spike_off = table.get("spike_k") is False
    if not spike_off:
        spike_k = _positive(table, "spike_k", path, check)
    limits = None
    if "limits" in table:
        here = (*path, "limits")
        raw = check.table(table["limits"], here, _LIMIT_KEYS)
        high, low = check.number(raw, "high", here), check.number(raw, "low", here)
        if high is None and low is None:
            check.error(here, "give high, low or both", "required")
        elif high is not None and low is not None and low >= high:
            check.error(here, f"low {low:g} must be below high {high:g}", "range-order")
        deadband = check.number(raw, "deadband", here) or 0.0
        if deadband < 0:
            check.error((*here, "deadband"), "must not be negative", "range")
        limits = Limits(high, low, max(deadband, 0.0), _priority(raw, here, check) or "high")
    spc = None
    if "spc" in table:
        here = (*path, "spc")
        raw = check.table(table["spc"], here, _SPC_KEYS)
        subgroup = check.number(raw, "subgroup", here) or 1
        if subgroup != int(subgroup) or not 1 <= subgroup <= 10:
            check.error((*here, "subgroup"), "must be a whole number from 1 to 10", "range")
            subgroup = 1
        lsl, usl = check.number(raw, "lsl", here), check.number(raw, "usl", here)
        if lsl is not None and usl is not None and lsl >= usl:
            check.error(here, f"lsl {lsl:g} must be below usl {usl:g}", "range-order")
        baseline = check.number(raw, "baseline", here) or 100
        if baseline < 20:
            check.error((*here, "baseline"), "needs at least 20 points", "range")
        spc = SpcSpec(int(subgroup), lsl, usl, int(max(baseline, 20)))
    return SignalAnalytics(
        detector=check.text(table, "detector", path),
        priority=_priority(table, path, check),
        flatline_s=_positive(table, "flatline_s", path, check),
        spike_k=spike_k,
        spike_off=spike_off,
        limits=limits,
        spc=spc,
    )


def parse_asset_analytics(body: Any, path: tuple[str, ...], check: Checker) -> AssetAnalytics:
    table = check.table(body, path, _ASSET_KEYS)
    signals = table.get("signals", [])
    if not isinstance(signals, list) or not all(isinstance(s, str) for s in signals):
        check.error((*path, "signals"), "must be a list of the asset's signal names", "type")
        signals = []
    return AssetAnalytics(
        multivariate=check.text(table, "multivariate", path),
        signals=tuple(signals),
        ideal_cycle_s=_positive(table, "ideal_cycle_s", path, check),
        state_signal=check.text(table, "state_signal", path) or "state",
        count_signal=check.text(table, "count_signal", path) or "parts",
    )


def _positive(
    table: Mapping[str, Any], key: str, path: tuple[str, ...], check: Checker
) -> float | None:
    value = check.number(table, key, path)
    if value is not None and value <= 0:
        check.error((*path, key), "must be above 0", "range")
        return None
    return value


def _priority(table: Mapping[str, Any], path: tuple[str, ...], check: Checker) -> str | None:
    value = check.text(table, "priority", path)
    if value is not None and value not in PRIORITIES:
        check.error((*path, "priority"), f"must be one of {', '.join(PRIORITIES)}", "priority")
        return None
    return value

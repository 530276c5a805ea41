"""Data-quality coverage: per asset, the share of its signals that are fresh and plausible now.

A signal is *fresh* when it has reported within its expected interval (the twin state's staleness
rule; a signal without an expected interval counts as fresh once it has reported at all), and
*plausible* when its newest sample is not BAD and no data-quality rule is raised for it. Coverage
is the share of an asset's signals that are both: 1.0 means everything the plant file promises is
there and believable; the figure an engineer checks before trusting a detector on that asset.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from werk.analytics.quality import QualityScreen
from werk.core import Quality, Signal


def coverage(
    signals: Iterable[Signal],
    latest: Mapping[str, tuple[int, float, int]],
    stale: set[str],
    screen: QualityScreen | None,
) -> dict[str, dict[str, Any]]:
    """``{asset: {signals, fresh, plausible, covered, coverage, problems: {signal: [why]}}}``."""
    out: dict[str, dict[str, Any]] = {}
    for signal in signals:
        asset = signal.asset or "(no asset)"
        row = out.setdefault(
            asset, {"signals": 0, "fresh": 0, "plausible": 0, "covered": 0, "problems": {}}
        )
        row["signals"] += 1
        sample = latest.get(signal.id)
        why: list[str] = []
        if sample is None:
            why.append("never reported")
        elif signal.id in stale:
            why.append("stale")
        else:
            row["fresh"] += 1
        raised = screen.raised(signal.id) if screen is not None else []
        if sample is not None and sample[2] >= Quality.BAD:
            why.append(f"newest sample {Quality(sample[2]).name.lower()}")
        why += raised
        plausible = sample is not None and sample[2] < Quality.BAD and not raised
        row["plausible"] += plausible
        if why:
            row["problems"][signal.id] = why
        else:
            row["covered"] += 1
    for row in out.values():
        row["coverage"] = round(row["covered"] / row["signals"], 4) if row["signals"] else None
    return out

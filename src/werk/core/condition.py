"""Conditions: what an analytics processor tells the alarm system, one event per start and end.

A processor (data quality, a detector, SPC, limits) looks at many samples; the alarm system wants
to hear only when something *starts* or *ends*, so each processor keeps its own state and tells
transitions only (a detector through its alarm rule's on/off delays, the quality screen through a
hold time, limits through a deadband, SPC per rule).

The events follow the contract every processor and the alarm manager share: kind
``<family>.raised`` / ``<family>.cleared`` (families ``anomaly``, ``quality``, ``spc``, ``limit``),
``source`` the signal (or, for a machine-wide detector, the asset), and ``data`` with
``condition``, ``priority``, ``message``, ``value``, ``score``, ``asset``, ``signal``, ``at`` and,
for multivariate anomalies, ``contributors``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from werk.core.clock import iso
from werk.core.event import Event

FAMILIES = ("anomaly", "quality", "spc", "limit")
"""Condition families, each an event kind prefix (``limit.raised``, ``limit.cleared``)."""


@dataclass(frozen=True, slots=True)
class Condition:
    """One raised or cleared condition, before it becomes an event."""

    family: str
    condition: str
    source: str
    raised: bool
    at: int
    message: str
    priority: str = "medium"
    value: float | None = None
    score: float | None = None
    asset: str | None = None
    signal: str | None = None
    contributors: list[dict[str, Any]] = field(default_factory=list)

    def event(self) -> Event:
        data: dict[str, Any] = {
            "condition": self.condition,
            "priority": self.priority,
            "message": self.message,
            "value": _number(self.value),
            "score": _number(self.score),
            "asset": self.asset,
            "signal": self.signal,
            "at": self.at,
        }
        if self.contributors:
            data["contributors"] = self.contributors
        kind = f"{self.family}.{'raised' if self.raised else 'cleared'}"
        return Event(kind, source=self.source, data=data)


def describe(condition: str, signal: str, value: float | None, at: int) -> str:
    """A sentence for the operator: what, where, at which value and when."""
    shown = "no value" if value is None else f"{value:.4g}"
    return f"{condition} on {signal} at {iso(at)[:19]}Z (value {shown})"


def _number(value: float | None) -> float | None:
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return None
    return round(float(value), 6)

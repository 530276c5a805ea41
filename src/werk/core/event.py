"""Events: anything that happened and is worth telling (alarms, state changes, plans, audits)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from werk.core.context import Context


@dataclass(frozen=True, slots=True)
class Event:
    """``kind`` is a dotted name (``alarm.raised``); ``source`` names what it is about."""

    kind: str
    source: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    context: Context = field(default_factory=Context)
    timestamp: int = field(default_factory=time.time_ns)

    @property
    def id(self) -> str:
        return self.context.id

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.context.id,
            "parent_id": self.context.parent_id,
            "user": self.context.user,
            "kind": self.kind,
            "source": self.source,
            "timestamp": self.timestamp,
            "data": self.data,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Event:
        return cls(
            kind=raw["kind"],
            source=raw.get("source", ""),
            data=dict(raw.get("data") or {}),
            context=Context(id=raw["id"], parent_id=raw.get("parent_id"), user=raw.get("user")),
            timestamp=int(raw["timestamp"]),
        )

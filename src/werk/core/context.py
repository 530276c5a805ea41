"""Causal context: every event knows what caused it, so an alarm can be traced to its samples."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Context:
    """``id`` names this cause; ``parent_id`` the cause it came from (``None`` at a root)."""

    id: str = field(default_factory=new_id)
    parent_id: str | None = None
    user: str | None = None

    def child(self, user: str | None = None) -> Context:
        """A new context caused by this one."""
        return Context(parent_id=self.id, user=user if user is not None else self.user)

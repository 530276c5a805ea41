"""Errors of the planner, on the werk tree::

    ValidationError (werk.core)
    └── Infeasible          no schedule can exist; ``issues`` say why, naming order and step
    MissingExtraError       OR-Tools is missing: pip install 'werk[plan]' (the heuristic works)

Bad input files raise ``werk.core.ValidationError`` naming the field (``orders[3].due``) and rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from werk.core import ValidationError


@dataclass(frozen=True, slots=True)
class Issue:
    """One finding of ``check``: ``severity`` is ``error`` (no schedule) or ``warning``."""

    rule: str
    message: str
    severity: str = "error"
    order: str | None = None
    operation: str | None = None
    machine: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


class Infeasible(ValidationError):
    """No schedule exists for this input; ``issues`` explain why."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        errors = [i for i in issues if i.severity == "error"] or list(issues)
        first = errors[0]
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        super().__init__(f"{first.message}{more}", field=_field(first), rule=first.rule)
        self.issues = list(issues)


def _field(issue: Issue) -> str:
    if issue.order and issue.operation:
        return f"orders.{issue.order}.operations.{issue.operation}"
    if issue.order:
        return f"orders.{issue.order}"
    if issue.machine:
        return f"machines.{issue.machine}"
    return ""

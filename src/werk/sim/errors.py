"""Errors of the simulation, on the werk tree::

ConfigError (werk.core)
└── ScenarioError     a scenario file is wrong: every problem, each naming file and field
MissingExtraError     simpy (extra ``sim``) or dask.distributed (extra ``dask``) is missing
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from werk.core.errors import ConfigError


@dataclass(frozen=True, slots=True)
class ScenarioProblem:
    """One mistake: ``file: field: message``."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return (
            f"{self.file}: {self.field}: {self.message}"
            if self.field
            else f"{self.file}: {self.message}"
        )


class ScenarioError(ConfigError):
    """A scenario broke rules; ``problems`` lists every one found."""

    def __init__(self, problems: Sequence[ScenarioProblem]) -> None:
        self.problems = list(problems)
        if len(self.problems) == 1:
            message = str(self.problems[0])
        else:
            head = f"{len(self.problems)} problems in scenario"
            message = "\n".join([head, *(f"  {p}" for p in self.problems)])
        super().__init__(message)

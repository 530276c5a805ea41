"""What is wrong with a plant file: every problem with its line, field and rule, all at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from werk.core.errors import ConfigError


@dataclass(frozen=True, slots=True)
class PlantProblem:
    """One mistake: ``file:line: field: message``. ``rule`` names the check for programs."""

    file: str
    line: int | None
    field: str
    message: str
    rule: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class PlantFileError(ConfigError):
    """A plant file broke rules; ``problems`` lists every one found, in file order."""

    def __init__(self, problems: Sequence[PlantProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line or 0, p.field))
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in plant file"
        super().__init__("\n".join([head, *(f"  {p}" for p in self.problems)]))

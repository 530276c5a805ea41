"""Signals: what a measured quantity is called, its unit and the range a plausible value lies in."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from werk.core.errors import ValidationError

# Signal ids travel in URLs, topics and file names: keep them to a safe, readable alphabet.
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/\-]{0,199}$")


@dataclass(frozen=True, slots=True)
class Signal:
    """A measured quantity. ``unit`` is a UCUM code (``Cel``, ``bar``, ``mm/s``, ``1`` for none)."""

    id: str
    unit: str = "1"
    description: str = ""
    minimum: float = -math.inf
    maximum: float = math.inf
    asset: str = ""
    expected_interval_s: float | None = None

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValidationError(
                f"signal id {self.id!r} must start with a letter or digit and use only "
                "letters, digits and _ . : / - (at most 200 characters)",
                field="id",
                rule="signal-id",
            )
        if self.minimum > self.maximum:
            raise ValidationError(
                f"signal {self.id}: minimum {self.minimum} is above maximum {self.maximum}",
                field="minimum",
                rule="range-order",
            )

    def in_range(self, value: float) -> bool:
        return self.minimum <= value <= self.maximum


class SignalCatalog(Mapping[str, Signal]):
    """The signals werk knows, by id. Samples of other signals are refused at ingest."""

    def __init__(self, signals: Iterable[Signal] = ()) -> None:
        self._signals: dict[str, Signal] = {}
        for signal in signals:
            self.add(signal)

    def add(self, signal: Signal) -> None:
        if signal.id in self._signals and self._signals[signal.id] != signal:
            raise ValidationError(f"signal {signal.id} defined twice", field="id", rule="unique")
        self._signals[signal.id] = signal

    def __getitem__(self, key: str) -> Signal:
        return self._signals[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._signals)

    def __len__(self) -> int:
        return len(self._signals)

"""Exponential backoff with jitter, for reconnect loops.

``delay()`` gives the next wait (doubling up to ``maximum``, with ±``jitter`` spread so a plant
full of connectors does not reconnect in lockstep after a switch reboots); ``reset()`` after a
connection that worked.
"""

from __future__ import annotations

import random


class Backoff:
    def __init__(
        self, initial: float = 0.5, maximum: float = 30.0, factor: float = 2.0, jitter: float = 0.2
    ) -> None:
        if not 0 < initial <= maximum:
            raise ValueError("backoff needs 0 < initial <= maximum")
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self.attempts = 0

    def delay(self) -> float:
        base = min(self.maximum, self.initial * self.factor**self.attempts)
        self.attempts += 1
        return base * (1 + random.uniform(-self.jitter, self.jitter))

    def reset(self) -> None:
        self.attempts = 0

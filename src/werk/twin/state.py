"""Twin state: the latest value of every signal, kept current from the bus."""

from __future__ import annotations

from collections.abc import Iterable

from werk.core import SAMPLES, Bus, SampleBatch

Latest = dict[str, tuple[int, float, int]]


class LiveState:
    """Latest (timestamp, value, quality) per signal. A late sample never replaces a newer one."""

    def __init__(self, initial: Latest | None = None) -> None:
        self._latest: Latest = dict(initial or {})

    def update(self, batch: SampleBatch) -> list[str]:
        """Apply a batch; return the signals whose latest sample changed."""
        changed = []
        for name, sample in batch.latest().items():
            current = self._latest.get(name)
            if current is None or sample[0] >= current[0]:
                self._latest[name] = sample
                changed.append(name)
        return changed

    def get(self, signals: Iterable[str] | None = None) -> Latest:
        if signals is None:
            return dict(self._latest)
        return {s: self._latest[s] for s in signals if s in self._latest}

    async def follow(self, bus: Bus) -> None:
        """Keep up with every sample batch on the bus until it closes."""
        async with bus.subscribe(f"{SAMPLES}.>", name="twin.state") as subscription:
            async for message in subscription:
                self.update(message.payload)

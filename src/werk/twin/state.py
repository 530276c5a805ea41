"""Twin state: the latest value of every signal, kept current from the bus, and its freshness."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping

from werk.core import NS_PER_S, SAMPLES, Bus, Clock, Event, SampleBatch, iso
from werk.core.condition import Condition

Latest = dict[str, tuple[int, float, int]]

# A signal is stale once it has been silent for this many of its expected intervals: one missed
# report is jitter, two in a row mean the source has stopped.
STALE_AFTER_INTERVALS = 2.0
MIN_STALE_S = 5.0  # werk's floor (the composition root passes it): see LiveState


class LiveState:
    """Latest (timestamp, value, quality) per signal. A late sample never replaces a newer one.

    ``expected_intervals`` (signal -> seconds between reports) enables the staleness flag;
    ``min_stale_s`` is the shortest silence called stale however fast a signal reports (a
    10 Hz signal that skips a second has hiccupped, not stopped: werk runs with 5 s).
    """

    def __init__(
        self,
        initial: Latest | None = None,
        expected_intervals: Mapping[str, float] | None = None,
        *,
        min_stale_s: float = 0.0,
    ) -> None:
        self._latest: Latest = dict(initial or {})
        self._limits_ns = {
            signal: int(max(seconds * STALE_AFTER_INTERVALS, min_stale_s) * NS_PER_S)
            for signal, seconds in (expected_intervals or {}).items()
            if seconds and seconds > 0
        }

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

    def stale(self, now_ns: int) -> set[str]:
        """Signals with an expected interval that have not reported for too long (or ever)."""
        stale = set()
        for signal, limit in self._limits_ns.items():
            sample = self._latest.get(signal)
            if sample is None or now_ns - sample[0] > limit:
                stale.add(signal)
        return stale

    async def follow(self, bus: Bus) -> None:
        """Keep up with every sample batch on the bus until it closes."""
        async with bus.subscribe(f"{SAMPLES}.>", name="twin.state") as subscription:
            async for message in subscription:
                self.update(message.payload)


async def watch_freshness(
    state: LiveState,
    clock: Clock,
    emit: Callable[[Event], Awaitable[None]],
    *,
    every_s: float = 1.0,
    assets: Mapping[str, str] | None = None,
) -> None:
    """Raise the ``stale`` data-quality condition when a signal falls silent, clear it when it is
    back: events ``quality.raised`` / ``quality.cleared`` (the analytics condition contract, so
    the alarm system sees them like any other quality rule). One event per transition.
    """
    stale: set[str] = set()
    assets = assets or {}
    while True:
        now = clock.now_ns()
        current = state.stale(now)
        for signal in sorted(current - stale):
            last = state.get([signal]).get(signal)
            since = f"since {iso(last[0])[:19]}Z" if last else "never reported"
            await emit(_stale_event(signal, True, now, f"{signal} is stale: {since}", assets))
        for signal in sorted(stale - current):
            await emit(_stale_event(signal, False, now, f"{signal} reports again", assets))
        stale = current
        await clock.sleep(every_s)


def _stale_event(
    signal: str, raised: bool, now: int, message: str, assets: Mapping[str, str]
) -> Event:
    return Condition(
        "quality",
        "stale",
        signal,
        raised,
        now,
        message,
        "medium",
        asset=assets.get(signal),
        signal=signal,
    ).event()

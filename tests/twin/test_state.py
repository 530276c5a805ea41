import asyncio

from werk.core import NS_PER_S, Event, SampleBatch, SimulatedClock
from werk.twin.state import LiveState, watch_freshness


def test_late_samples_never_replace_newer_ones():
    state = LiveState()
    assert state.update(SampleBatch.of("a", [10, 20], [1.0, 2.0])) == ["a"]
    assert state.update(SampleBatch.of("a", [15], [9.0])) == []
    assert state.get() == {"a": (20, 2.0, 0)}
    assert state.get(["a", "nope"]) == {"a": (20, 2.0, 0)}


def test_stale_after_two_missed_intervals():
    state = LiveState(expected_intervals={"a": 1.0, "b": 1.0})  # c has no expectation
    state.update(SampleBatch.from_columns(["a", "c"], [0, 0], [1.0, 1.0]))
    assert state.stale(int(1.5 * NS_PER_S)) == {"b"}  # b never reported
    assert state.stale(int(2.5 * NS_PER_S)) == {"a", "b"}


def test_a_fast_signal_is_stale_only_after_the_floor():
    state = LiveState(expected_intervals={"a": 0.1}, min_stale_s=5.0)
    state.update(SampleBatch.of("a", [0], [1.0]))
    assert state.stale(int(1 * NS_PER_S)) == set()  # ten missed reports: a hiccup
    assert state.stale(int(5.5 * NS_PER_S)) == {"a"}


async def test_freshness_events_once_per_transition():
    clock = SimulatedClock()
    state = LiveState(expected_intervals={"a": 1.0})
    events: list[Event] = []

    async def emit(event: Event) -> None:
        events.append(event)

    state.update(SampleBatch.of("a", [0], [1.0]))
    watcher = asyncio.create_task(watch_freshness(state, clock, emit, every_s=1.0))
    for _ in range(5):  # 5 s of silence: one stale event, not five
        await asyncio.sleep(0)
    state.update(SampleBatch.of("a", [clock.now_ns()], [2.0]))
    for _ in range(2):
        await asyncio.sleep(0)
    watcher.cancel()
    assert [(e.kind, e.source, e.data["condition"]) for e in events] == [
        ("quality.raised", "a", "stale"),
        ("quality.cleared", "a", "stale"),
    ]

"""The rules of ``werk.store.base``, checked against every history store backend.

Expectations are computed here, independently of the backends, from plain Python and numpy.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from werk.core import Context, Event, Quality, SampleBatch, StoreError, ValidationError
from werk.store import Rollup, TimeSeriesStore, open_store

S = 1_000_000_000
T0 = 1_764_000_000 * S  # 2025-11-24, a round second
BACKENDS = ["memory", "duckdb", "postgres"]
PERSISTENT = ["duckdb", "postgres"]

Opener = Callable[[], TimeSeriesStore]


def _url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "memory":
        return "memory://"
    if backend == "duckdb":
        return f"duckdb:///{tmp_path}/history/werk.duckdb"  # absolute: four slashes
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(params=BACKENDS)
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens the parametrised backend at one place, as often as asked; closes them all after."""
    url = _url(request.param, request, tmp_path)
    opened: list[TimeSeriesStore] = []

    def open_again() -> TimeSeriesStore:
        store = open_store(url)
        opened.append(store)
        return store

    yield open_again
    for store in opened:
        store.close()


@pytest.fixture
def store(opener: Opener) -> TimeSeriesStore:
    return opener()


persistent_backends = pytest.mark.parametrize("opener", PERSISTENT, indirect=True)


# -- data and expectations -------------------------------------------------------------------------


def random_batch(
    rng: np.random.Generator, signals: list[str], n: int, span_s: int = 3_600
) -> SampleBatch:
    """``n`` samples with distinct (signal, ts), shuffled; BAD/STALE samples carry NaN."""
    per = -(-n // len(signals))
    offsets = np.concatenate(
        [rng.choice(span_s * 1_000, per, replace=False) for _ in signals]
    ).astype(np.int64)
    names = np.repeat(np.array(signals, dtype=object), per)
    order = rng.permutation(len(offsets))[:n]
    quality = rng.choice(np.array([0, 0, 0, 0, 1, 2, 3], np.uint8), n)
    values = rng.normal(50.0, 10.0, n)
    values[quality >= Quality.BAD] = np.nan
    return SampleBatch.from_columns(names[order], T0 + offsets[order] * 1_000_000, values, quality)


def stored_rows(*batches: SampleBatch) -> dict[tuple[str, int], tuple[float, int]]:
    """(signal, ts) -> (value, quality) as the rules say they end up stored: first write wins."""
    stored: dict[tuple[str, int], tuple[float, int]] = {}
    for batch in batches:
        for name, ts, value, quality in batch.rows():
            stored.setdefault((name, ts), (value, quality))
    return stored


def expected_rollup(
    stored: dict[tuple[str, int], tuple[float, int]],
    signals: list[str] | None,
    start: int,
    end: int,
    bucket: int,
) -> list[tuple[str, int, float, float, float, float, int]]:
    groups: dict[tuple[str, int], list[tuple[int, float]]] = {}
    for (name, ts), (value, quality) in stored.items():
        if signals is not None and name not in signals:
            continue
        if start <= ts < end and quality <= Quality.UNCERTAIN:
            groups.setdefault((name, ts - ts % bucket), []).append((ts, value))
    result = []
    for (name, bucket_start), samples in sorted(groups.items()):
        values = np.array([v for _, v in sorted(samples)])
        result.append(
            (
                name,
                bucket_start,
                float(values.min()),
                float(values.max()),
                float(values.mean()),
                float(values[-1]),
                len(values),
            )
        )
    return result


def rollup_rows(rollup: Rollup) -> list[tuple[str, int, float, float, float, float, int]]:
    return [
        (
            rollup.names[int(rollup.index[i])],
            int(rollup.bucket[i]),
            float(rollup.minimum[i]),
            float(rollup.maximum[i]),
            float(rollup.mean[i]),
            float(rollup.last[i]),
            int(rollup.count[i]),
        )
        for i in range(len(rollup))
    ]


def assert_rollup_equal(rollup: Rollup, expected: list[tuple]) -> None:  # type: ignore[type-arg]
    got = rollup_rows(rollup)
    assert [(r[0], r[1], r[6]) for r in got] == [(e[0], e[1], e[6]) for e in expected]
    assert [(r[2], r[3], r[5]) for r in got] == [(e[2], e[3], e[5]) for e in expected]
    np.testing.assert_allclose([r[4] for r in got], [e[4] for e in expected], rtol=1e-12)
    assert list(rollup.names) == sorted(set(rollup.names))


# -- writes ----------------------------------------------------------------------------------------


def test_implements_the_protocol(store: TimeSeriesStore) -> None:
    assert isinstance(store, TimeSeriesStore)


def test_ping_answers_while_open_and_fails_after_close(opener: Opener) -> None:
    store = opener()
    store.ping()
    store.close()
    with pytest.raises(StoreError):
        store.ping()


def test_empty_batch_writes_nothing(store: TimeSeriesStore) -> None:
    assert store.write(SampleBatch.empty()) == 0
    assert store.write(SampleBatch.of("press.force", [], [])) == 0
    assert store.count() == 0
    assert store.signal_names() == []


def test_double_delivery_is_stored_once(store: TimeSeriesStore) -> None:
    batch = random_batch(np.random.default_rng(1), ["a", "b", "c"], 3_000)
    assert store.write(batch) == 3_000
    assert store.write(batch) == 0
    assert store.count() == 3_000
    assert {name: store.count(name) for name in "abc"} == {"a": 1_000, "b": 1_000, "c": 1_000}


def test_first_write_wins(store: TimeSeriesStore) -> None:
    ts = T0 + np.arange(10) * S
    assert store.write(SampleBatch.of("temp", ts[:6], np.full(6, 1.0))) == 6
    # Overlaps four stored samples (other values, other quality) and brings four new ones.
    later = SampleBatch.of("temp", ts[2:], np.full(8, 2.0), Quality.UNCERTAIN)
    assert store.write(later) == 4
    stored = store.read("temp", T0, T0 + 10 * S)
    assert stored.timestamps.tolist() == ts.tolist()
    assert stored.values.tolist() == [1.0] * 6 + [2.0] * 4
    assert stored.quality.tolist() == [0] * 6 + [1] * 4


def test_first_write_wins_inside_one_batch(store: TimeSeriesStore) -> None:
    batch = SampleBatch.from_columns(
        ["x", "y", "x", "x", "y", "x"],
        [T0, T0, T0 + S, T0, T0, T0 + S],
        [1.0, 10.0, 2.0, 99.0, 98.0, 97.0],
        [0, 0, 0, 2, 2, 2],
    )
    assert store.write(batch) == 3
    assert list(store.read("x", T0, T0 + 2 * S).rows()) == [
        ("x", T0, 1.0, 0),
        ("x", T0 + S, 2.0, 0),
    ]
    assert list(store.read("y", T0, T0 + 2 * S).rows()) == [("y", T0, 10.0, 0)]
    assert store.count() == 3


def test_many_signals_interleaved(store: TimeSeriesStore) -> None:
    signals = [f"line1/cell{i:03d}/temp" for i in range(200)]
    ts = np.repeat(T0 + np.arange(250) * S, len(signals))
    names = np.tile(np.array(signals, dtype=object), 250)
    values = np.arange(len(ts), dtype=np.float64)
    assert store.write(SampleBatch.from_columns(names, ts, values)) == 50_000
    assert store.count() == 50_000
    assert store.signal_names() == sorted(signals)
    read = store.read(signals[17], T0, T0 + 250 * S)
    assert read.values.tolist() == values[names == signals[17]].tolist()


def test_bad_samples_with_nan_are_stored_and_readable(store: TimeSeriesStore) -> None:
    batch = SampleBatch.of(
        "flow",
        [T0, T0 + S, T0 + 2 * S, T0 + 3 * S],
        [1.5, np.nan, np.nan, 2.5],
        [Quality.GOOD, Quality.BAD, Quality.STALE, Quality.UNCERTAIN],
    )
    assert store.write(batch) == 4
    read = store.read("flow", T0, T0 + 4 * S)
    assert read.quality.tolist() == [0, 2, 3, 1]
    assert read.values[0] == 1.5 and read.values[3] == 2.5
    assert np.isnan(read.values[1]) and np.isnan(read.values[2])
    assert store.count("flow") == 4


# -- raw reads -------------------------------------------------------------------------------------


def test_read_is_ordered_half_open_and_limited(store: TimeSeriesStore) -> None:
    rng = np.random.default_rng(2)
    ts = T0 + rng.permutation(100).astype(np.int64) * S
    for part in np.array_split(np.arange(100), 4):  # out of order, over several batches
        store.write(SampleBatch.of("speed", ts[part], ts[part] / S))
    store.write(SampleBatch.of("other", ts, np.zeros(100)))

    read = store.read("speed", T0 + 10 * S, T0 + 20 * S)
    assert read.names == ("speed",)
    assert read.timestamps.tolist() == [T0 + i * S for i in range(10, 20)]  # start in, end out
    assert read.values.tolist() == [(T0 + i * S) / S for i in range(10, 20)]
    assert read.timestamps.dtype == np.int64 and read.values.dtype == np.float64

    limited = store.read("speed", T0, T0 + 100 * S, limit=5)
    assert limited.timestamps.tolist() == [T0 + i * S for i in range(5)]  # the oldest five
    assert len(store.read("speed", T0, T0 + 100 * S, limit=0)) == 0
    assert len(store.read("speed", T0 + 100 * S, T0 + 200 * S)) == 0


def test_read_pages_with_after(store: TimeSeriesStore) -> None:
    ts = T0 + np.arange(50, dtype=np.int64) * S
    store.write(SampleBatch.of("speed", ts, np.arange(50.0)))
    pages: list[list[int]] = []
    after = None
    while True:
        page = store.read("speed", T0 + 3 * S, T0 + 45 * S, limit=7, after=after)
        if not len(page):
            break
        assert len(page) <= 7
        pages.append(page.timestamps.tolist())
        after = int(page.timestamps[-1])
    assert [len(p) for p in pages] == [7] * 6
    assert [ts for page in pages for ts in page] == ts[3:45].tolist()
    # ``after`` is exclusive and combines with ``start``: whichever is later bounds the read.
    assert store.read("speed", T0, T0 + 5 * S, after=T0 + 2 * S).timestamps.tolist() == [
        T0 + 3 * S,
        T0 + 4 * S,
    ]
    assert store.read("speed", T0 + 4 * S, T0 + 6 * S, after=T0).timestamps[0] == T0 + 4 * S


def test_read_of_an_unknown_signal_is_empty(store: TimeSeriesStore) -> None:
    store.write(SampleBatch.of("known", [T0], [1.0]))
    assert len(store.read("unknown", 0, 2**62)) == 0


def test_bad_arguments_are_refused(store: TimeSeriesStore) -> None:
    with pytest.raises(ValidationError) as info:
        store.read("x", 0, 10, limit=-1)
    assert info.value.field == "limit"
    with pytest.raises(ValidationError) as info:
        store.rollup(None, 0, 10, 0)
    assert info.value.field == "bucket"
    with pytest.raises(ValidationError):
        store.events(0, 10, limit=-1)


# -- rollups ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("bucket_s", [1, 60, 7 * 60])
def test_rollup_matches_numpy_on_random_data(store: TimeSeriesStore, bucket_s: int) -> None:
    rng = np.random.default_rng(bucket_s)
    signals = ["m1.temp", "m1.current", "m2.temp", "m3.vibration"]
    first = random_batch(rng, signals, 6_000)
    second = random_batch(rng, signals, 6_000)  # overlaps the first: first write wins
    store.write(first)
    store.write(second)
    stored = stored_rows(first, second)
    bucket = bucket_s * S
    # Bounds that cut buckets: partial buckets count only the samples inside [start, end).
    start, end = T0 + 17 * S + 123, T0 + 3_000 * S + 7
    for signals_asked in (None, ["m2.temp", "m1.temp", "nobody"], ["m3.vibration"]):
        rollup = store.rollup(signals_asked, start, end, bucket)
        assert_rollup_equal(rollup, expected_rollup(stored, signals_asked, start, end, bucket))


def test_rollup_after_a_stream_of_small_appends_into_the_same_minutes(
    store: TimeSeriesStore,
) -> None:
    # How a connector writes: batch after batch, each later than the last, many in one minute.
    rng = np.random.default_rng(11)
    stream = random_batch(rng, ["a", "b", "c"], 3_000, span_s=300)
    in_time = stream.take(np.argsort(stream.timestamps, kind="stable"))
    for part in np.array_split(np.arange(len(in_time)), 40):
        store.write(in_time.take(part))
    stored = stored_rows(stream)
    for bucket_s in (1, 60, 120):
        start, end = T0 + 3 * S + 5, T0 + 290 * S
        rollup = store.rollup(None, start, end, bucket_s * S)
        assert_rollup_equal(rollup, expected_rollup(stored, None, start, end, bucket_s * S))


def test_rollup_after_retention_and_backfill(store: TimeSeriesStore) -> None:
    rng = np.random.default_rng(5)
    signals = ["a", "b"]
    recent = random_batch(rng, signals, 4_000, span_s=1_800)
    store.write(recent)
    cut = T0 + 601 * S + 500_000_000  # not on a minute: that minute keeps part of its samples
    store.drop_before(cut)
    stored = {k: v for k, v in stored_rows(recent).items() if k[1] >= cut}

    def check() -> None:
        for bucket_s, start_s in ((60, 0), (120, 0), (60, 601), (300, 1)):
            start, end = T0 + start_s * S, T0 + 1_800 * S
            rollup = store.rollup(None, start, end, bucket_s * S)
            assert_rollup_equal(rollup, expected_rollup(stored, None, start, end, bucket_s * S))

    check()
    backfill = random_batch(rng, signals, 4_000, span_s=1_800)  # older and newer, overlapping
    store.write(backfill)
    for key, value in stored_rows(backfill).items():
        stored.setdefault(key, value)
    check()


def test_rollup_counts_only_good_and_uncertain(store: TimeSeriesStore) -> None:
    minute = 60 * S
    batch = SampleBatch.of(
        "pressure",
        [T0, T0 + S, T0 + 2 * S, T0 + minute, T0 + minute + S, T0 + 2 * minute],
        [1.0, 1000.0, 3.0, np.nan, -1000.0, 5.0],
        [Quality.GOOD, Quality.BAD, Quality.UNCERTAIN, Quality.BAD, Quality.STALE, Quality.GOOD],
    )
    store.write(batch)
    rollup = store.rollup(["pressure"], T0, T0 + 3 * minute, minute)
    # The middle minute has no GOOD or UNCERTAIN sample: it is left out, not reported empty.
    assert rollup_rows(rollup) == [
        ("pressure", T0, 1.0, 3.0, 2.0, 3.0, 2),
        ("pressure", T0 + 2 * minute, 5.0, 5.0, 5.0, 5.0, 1),
    ]
    assert store.count("pressure") == 6  # all stored nevertheless


def test_rollup_buckets_floor_before_1970(store: TimeSeriesStore) -> None:
    store.write(SampleBatch.of("old", [-15, -10, -1, 0, 9, 10], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))
    rollup = store.rollup(None, -100, 100, 10)
    assert [(int(b), int(c)) for b, c in zip(rollup.bucket, rollup.count, strict=True)] == [
        (-20, 1),
        (-10, 2),
        (0, 2),
        (10, 1),
    ]


def test_rollup_of_nothing_is_empty(store: TimeSeriesStore) -> None:
    assert len(store.rollup(None, 0, 2**62, S)) == 0
    store.write(SampleBatch.of("a", [T0], [1.0]))
    assert len(store.rollup(["nobody"], 0, 2**62, S)) == 0
    assert len(store.rollup([], 0, 2**62, S)) == 0
    assert len(store.rollup(None, T0 + 1, T0 + S, S)) == 0


# -- latest, names, counts -------------------------------------------------------------------------


def test_latest_is_the_newest_sample_of_any_quality(store: TimeSeriesStore) -> None:
    store.write(SampleBatch.of("a", [T0 + 5 * S, T0 + S], [5.0, 1.0]))
    store.write(SampleBatch.of("a", [T0 + 3 * S], [3.0]))
    store.write(SampleBatch.of("b", [T0, T0 + 9 * S], [0.0, np.nan], [0, Quality.BAD]))
    latest = store.latest()
    assert set(latest) == {"a", "b"}
    assert latest["a"] == (T0 + 5 * S, 5.0, 0)
    ts, value, quality = latest["b"]
    assert (ts, quality) == (T0 + 9 * S, Quality.BAD) and np.isnan(value)
    assert store.latest(["a", "nobody"]) == {"a": (T0 + 5 * S, 5.0, 0)}
    assert store.latest([]) == {}


def test_signal_names_are_sorted_and_only_those_with_samples(store: TimeSeriesStore) -> None:
    store.write(SampleBatch.from_columns(["zeta", "Alpha", "beta"], [T0, T0, T0 + S], [1, 2, 3]))
    assert store.signal_names() == ["Alpha", "beta", "zeta"]
    store.drop_before(T0 + S)
    assert store.signal_names() == ["beta"]


def test_count(store: TimeSeriesStore) -> None:
    store.write(SampleBatch.from_columns(["a", "a", "b"], [T0, T0 + S, T0], [1, 2, 3]))
    assert store.count() == 3
    assert store.count("a") == 2
    assert store.count("nobody") == 0


# -- events ----------------------------------------------------------------------------------------


def event(kind: str, seconds: int, source: str = "press3", **data: object) -> Event:
    return Event(kind, source, dict(data), Context(parent_id="cause", user="ann"), T0 + seconds * S)


def test_events_are_stored_once_by_id(store: TimeSeriesStore) -> None:
    first, second = event("alarm.raised", 1), event("alarm.cleared", 2)
    assert store.append_events([first, second, first]) == 2
    assert store.append_events([second, first]) == 0
    assert store.append_events([]) == 0
    same_id = Event("other.kind", "x", {}, first.context, T0)
    assert store.append_events([same_id]) == 0  # the id decides, the first one stays
    assert store.events(0, 2**62) == [second, first]


def test_events_round_trip(store: TimeSeriesStore) -> None:
    original = event("plan.published", 5, limit=3.5, tags=["a", "b"], nested={"k": None}, ok=True)
    root = Event("ingest.rejected", "", {}, Context(), T0)
    store.append_events([original, root])
    found = {e.id: e for e in store.events(T0, T0 + 10 * S)}
    assert found[original.id] == original
    assert found[original.id].context.parent_id == "cause"
    assert found[original.id].context.user == "ann"
    assert found[root.id] == root


def test_events_filter_by_kind_prefix_source_and_time(store: TimeSeriesStore) -> None:
    events = [
        event("alarm", 1),
        event("alarm.raised", 2),
        event("alarm.raised", 3, source="press4"),
        event("alarm.cleared", 4),
        event("alarmist.x", 5),
        event("plan.published", 6),
        event("alarm.raised", 10),
    ]
    store.append_events(events)
    ids = [e.id for e in events]

    def found(**kwargs: object) -> list[str]:
        return [e.id for e in store.events(T0 + S, T0 + 10 * S, **kwargs)]  # type: ignore[arg-type]

    # Newest first; end exclusive (the event at 10 s is out).
    assert found() == [ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]]
    assert found(kind="alarm") == [ids[3], ids[2], ids[1], ids[0]]  # not "alarmist"
    assert found(kind="alarm.raised") == [ids[2], ids[1]]
    assert found(kind="alarm.raised", source="press4") == [ids[2]]
    assert found(source="press3", limit=2) == [ids[5], ids[4]]
    assert found(kind="nothing") == []
    assert [e.id for e in store.events(T0 + 2 * S, T0 + 4 * S)] == [ids[2], ids[1]]


def test_events_with_data_that_is_not_json_are_refused(store: TimeSeriesStore) -> None:
    with pytest.raises(ValidationError) as info:
        store.append_events([event("alarm.raised", 1, value=float("nan"))])
    assert info.value.field == "data"
    assert store.events(0, 2**62) == []


# -- retention -------------------------------------------------------------------------------------


def test_drop_before_removes_older_samples_and_events(store: TimeSeriesStore) -> None:
    ts = T0 + np.arange(10, dtype=np.int64) * S
    store.write(SampleBatch.of("a", ts, np.arange(10.0)))
    store.write(SampleBatch.of("b", ts[:3], np.arange(3.0)))
    old, kept = event("alarm.raised", 3), event("alarm.raised", 4)
    store.append_events([old, kept])

    assert store.drop_before(T0 + 4 * S) == 4 + 3
    assert store.read("a", 0, 2**62).timestamps.tolist() == ts[4:].tolist()  # ts == cut stays
    assert store.count() == 6
    assert store.signal_names() == ["a"]
    assert store.latest() == {"a": (int(ts[-1]), 9.0, 0)}
    assert store.events(0, 2**62) == [kept]
    assert store.drop_before(T0 + 4 * S) == 0
    # A dropped signal can come back.
    assert store.write(SampleBatch.of("b", ts[:3], np.arange(3.0))) == 3


# -- concurrency and persistence -------------------------------------------------------------------


def test_writes_from_many_threads_lose_nothing(store: TimeSeriesStore) -> None:
    signals = ["a", "b", "c", "d", "e"]
    rng = np.random.default_rng(7)
    batches = [random_batch(rng, signals, 2_000, span_s=600) for _ in range(12)]
    expected = stored_rows(*batches)
    errors: list[BaseException] = []
    new: list[int] = []

    def work(part: list[SampleBatch]) -> None:
        try:
            for batch in part:
                new.append(store.write(batch))
                store.rollup(None, T0, T0 + 600 * S, 60 * S)  # reads run alongside
                store.read("a", T0, T0 + 600 * S)
        except BaseException as error:
            errors.append(error)

    # Every batch is delivered by two threads: duplicates race each other.
    parts = [batches[i::3] + batches[(i + 1) % 3 :: 3] for i in range(3)]
    threads = [threading.Thread(target=work, args=(part,)) for part in parts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(new) == len(expected)
    assert store.count() == len(expected)
    for name in signals:
        read = store.read(name, 0, 2**62, limit=100_000)
        want = sorted((ts, v) for (n, ts), (v, _) in expected.items() if n == name)
        assert read.timestamps.tolist() == [ts for ts, _ in want]


@persistent_backends
def test_reopening_keeps_everything(opener: Opener) -> None:
    first = opener()
    batch = random_batch(np.random.default_rng(3), ["a", "b"], 1_000)
    first.write(batch)
    alarm = event("alarm.raised", 1)
    first.append_events([alarm])
    first.close()

    again = opener()
    assert again.count() == 1_000
    assert again.signal_names() == ["a", "b"]
    assert again.write(batch) == 0  # still idempotent across the restart
    assert again.write(SampleBatch.of("c", [T0], [1.0])) == 1
    stored = stored_rows(batch)
    read = again.read("b", 0, 2**62)
    assert read.timestamps.tolist() == sorted(ts for (n, ts) in stored if n == "b")
    assert again.events(0, 2**62) == [alarm]

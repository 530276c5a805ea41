"""What the store backends share: batch dedupe, argument rules, result shaping, error translation.

Every backend routes through these helpers, so the rules of ``werk.store.base`` are written once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from werk.core import (
    Context,
    Event,
    Quality,
    SampleBatch,
    StoreError,
    StoreUnavailable,
    ValidationError,
)
from werk.store.base import Latest, Rollup

ROLLUP_QUALITY_MAX = int(Quality.UNCERTAIN)
"""Rollups count GOOD and UNCERTAIN samples; BAD and STALE (worse codes) are never averaged."""

MAX_BUCKET = 2**62
"""Larger buckets would overflow int64 arithmetic in the databases (and mean nothing)."""

EVENT_COLUMNS = ("id", "kind", "source", "ts", "parent_id", "user", "data")

# -- writes ----------------------------------------------------------------------------------------


def first_occurrences(batch: SampleBatch) -> SampleBatch:
    """``batch`` without repeated (signal, timestamp): the first sample of each wins, order kept.

    A database insert gives no order guarantee among a statement's rows, so "first write wins"
    inside one batch is settled here, once, for every backend.
    """
    if len(batch) < 2:
        return batch
    ts, index = batch.timestamps, batch.index
    low = int(ts.min())
    span = int(ts.max()) - low + 1
    if span * len(batch.names) < 2**62:
        # Connectors send time-ordered batches: then a strictly rising (ts, signal) proves
        # there are no duplicates in one pass, without a sort.
        by_time = (ts - low) * len(batch.names) + index
        if np.all(by_time[1:] > by_time[:-1]):
            return batch
        # One int64 per (signal, ts): sorting it is several times cheaper than a lexsort.
        key = index.astype(np.int64) * span + (ts - low)
        ordered = np.sort(key)
        if not np.any(ordered[1:] == ordered[:-1]):
            return batch
        order = np.argsort(key, kind="stable")
        key = key[order]
        first = np.r_[True, key[1:] != key[:-1]]
    else:
        order = np.lexsort((ts, index))  # stable: the earliest duplicate comes first
        index, stamps = index[order], ts[order]
        first = np.r_[True, (index[1:] != index[:-1]) | (stamps[1:] != stamps[:-1])]
    return batch.take(np.sort(order[first]))


def pair_key(
    major: npt.NDArray[np.integer[Any]], majors: int, minor: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64] | None:
    """One int64 per (major, minor) pair that sorts like the pairs; ``None`` if it would overflow.

    ``0 <= major < majors``. Sorting one int64 column is several times cheaper than a lexsort.
    """
    low = int(minor.min())
    span = int(minor.max()) - low + 1
    if span * majors >= 2**62:
        return None
    return major.astype(np.int64) * span + (minor - low)


def unique_pair_order(
    major: npt.NDArray[np.integer[Any]], majors: int, minor: npt.NDArray[np.int64]
) -> npt.NDArray[np.intp]:
    """Positions that sort distinct (major, minor) pairs by ``major`` then ``minor``."""
    key = pair_key(major, majors, minor)
    if key is None:
        return np.lexsort((minor, major))
    slots = int(key.max()) + 1
    if slots > 4 * len(key) + 4096:
        return np.argsort(key)
    # Dense keys (every signal has most buckets): place each pair in its slot, O(n), no sort.
    where = np.full(slots, -1, np.intp)
    where[key] = np.arange(len(key))
    return where[where >= 0]


Pairs = Iterable[tuple[int, str]]


class SignalKeys:
    """Signal name <-> integer key of a database backend, cached: a key never changes once given.

    Lookups take a ``fetch`` function that asks the database for ``(key, name)`` pairs of what the
    cache lacks (another process, or an earlier run, may have given the key).
    """

    def __init__(self) -> None:
        self._by_name: dict[str, int] = {}
        self._by_id: dict[int, str] = {}

    def remember(self, pairs: Pairs) -> None:
        for key, name in pairs:
            # By id first: a reader that finds the key of a name always finds its name too.
            self._by_id[int(key)] = name
            self._by_name[name] = int(key)

    def unknown_names(self, names: Iterable[str]) -> list[str]:
        return [n for n in names if n not in self._by_name]

    def known(self, names: Sequence[str], fetch: Callable[[list[str]], Pairs]) -> dict[str, int]:
        """Keys of those ``names`` that have one."""
        unknown = self.unknown_names(names)
        if unknown:
            self.remember(fetch(unknown))
        return {n: k for n in names if (k := self._by_name.get(n)) is not None}

    def names(self, keys: Sequence[int], fetch: Callable[[list[int]], Pairs]) -> list[str]:
        """Names of ``keys``, every one a key the database gave."""
        unknown = [int(k) for k in keys if int(k) not in self._by_id]
        if unknown:
            self.remember(fetch(unknown))
        return [self._by_id[int(k)] for k in keys]

    def keys(
        self, names: Sequence[str], pending: Mapping[str, int] | None = None
    ) -> npt.NDArray[np.int32]:
        """Keys of ``names`` in order, each known or in ``pending`` (given, not yet committed)."""
        known = {**self._by_name, **pending} if pending else self._by_name
        return np.fromiter((known[n] for n in names), np.int32, len(names))

    def filter_sql(
        self,
        signals: Sequence[str] | None,
        fetch: Callable[[list[str]], Pairs],
        column: str = "signal_id",
    ) -> str | None:
        """SQL limiting rows to ``signals`` (empty: all); ``None`` when none of them is known."""
        if signals is None:
            return ""
        keys = sorted(set(self.known(list(signals), fetch).values()))
        if not keys:
            return None
        # Integer keys from our own table, safe to inline; constants let the planner use
        # zone maps or an index.
        return f" AND {column} IN ({', '.join(map(str, keys))})"


# -- argument rules --------------------------------------------------------------------------------


def check_limit(limit: int) -> int:
    if limit < 0:
        raise ValidationError(
            f"limit must be >= 0, got {limit}", field="limit", rule="non-negative"
        )
    return int(limit)


def read_bounds(start: int, end: int, after: int | None, limit: int) -> tuple[int, int]:
    """The half-open ``[low, end)`` a read covers; ``after`` is exclusive."""
    check_limit(limit)
    low = start if after is None else max(start, after + 1)
    return low, end


def check_bucket(bucket: int) -> int:
    if not 0 < bucket <= MAX_BUCKET:
        raise ValidationError(
            f"bucket must be between 1 ns and 2**62 ns, got {bucket}", field="bucket", rule="range"
        )
    return int(bucket)


def kind_prefix(kind: str) -> str:
    """``alarm`` and ``alarm.`` both select ``alarm`` and ``alarm.*``: prefixes are whole tokens."""
    return kind.rstrip(".")


def kind_matches(kind: str, prefix: str) -> bool:
    return kind == prefix or kind.startswith(prefix + ".")


# -- results ---------------------------------------------------------------------------------------


def rollup_of(
    names_of: Callable[[list[int]], list[str]],
    keys: npt.NDArray[np.integer[Any]],
    numbers: npt.NDArray[np.integer[Any]],
    bucket: int,
    columns: Mapping[str, npt.NDArray[Any]],
) -> Rollup:
    """A ``Rollup`` from aggregates per (signal key, bucket number), in any order.

    ``keys`` are a backend's small non-negative signal keys, ``names_of`` names a list of them;
    a bucket starts at ``number * bucket``. ``columns`` holds ``minimum``, ``maximum``, ``mean``,
    ``last`` and ``count``. Sorting by name then bucket is done here in numpy, cheaper than in SQL.
    """
    if not len(keys):
        return Rollup.empty()
    keys = keys.astype(np.int64, copy=False)
    number = numbers.astype(np.int64, copy=False)
    biggest = int(keys.max())
    # Keys are dense unless a database skipped many: then bincount and a lookup table (O(n))
    # replace np.unique's sort.
    dense = biggest < 4 * len(keys) + 4096
    if dense:
        present, position = np.flatnonzero(np.bincount(keys)), None
    else:
        present, position = np.unique(keys, return_inverse=True)
    labels = names_of(present.tolist())
    by_name = sorted(range(len(labels)), key=labels.__getitem__)
    ranks = np.empty(len(present), np.int32)
    ranks[by_name] = np.arange(len(present), dtype=np.int32)
    if position is None:
        table = np.zeros(biggest + 1, np.int32)
        table[present] = ranks
        index = table[keys]
    else:
        index = ranks[position.reshape(-1)]
    order = unique_pair_order(index, len(present), number)
    return Rollup(
        names=tuple(labels[i] for i in by_name),
        index=index[order],
        bucket=number[order] * bucket,
        minimum=np.asarray(columns["minimum"], np.float64)[order],
        maximum=np.asarray(columns["maximum"], np.float64)[order],
        mean=np.asarray(columns["mean"], np.float64)[order],
        last=np.asarray(columns["last"], np.float64)[order],
        count=np.asarray(columns["count"], np.int64)[order],
    )


def latest_of(rows: Iterable[tuple[str, int, float, int]]) -> Latest:
    return {name: (int(ts), float(value), int(quality)) for name, ts, value, quality in rows}


# -- events ----------------------------------------------------------------------------------------


def unique_events(events: Sequence[Event]) -> list[Event]:
    """Events in order, each id once (the first wins, as in the database)."""
    first: dict[str, Event] = {}
    for event in events:
        first.setdefault(event.id, event)
    return list(first.values())


def event_row(event: Event) -> tuple[str, str, str, int, str | None, str | None, str]:
    """The stored columns of an event (``EVENT_COLUMNS``); ``data`` as JSON text."""
    ctx = event.context
    return (
        event.id,
        event.kind,
        event.source,
        event.timestamp,
        ctx.parent_id,
        ctx.user,
        event_json(event),
    )


def event_from_row(
    id: str, kind: str, source: str, ts: int, parent_id: str | None, user: str | None, data: Any
) -> Event:
    payload = json.loads(data) if isinstance(data, str | bytes) else data
    return Event(
        kind=kind,
        source=source,
        data=dict(payload or {}),
        context=Context(id=id, parent_id=parent_id, user=user),
        timestamp=int(ts),
    )


def event_json(event: Event) -> str:
    try:
        # NaN is not JSON (PostgreSQL refuses it): refuse it in every backend alike.
        return json.dumps(event.data, default=_jsonable, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValidationError(
            f"event {event.id} ({event.kind}): data is not JSON: {error}", field="data", rule="json"
        ) from error


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# -- errors ----------------------------------------------------------------------------------------


@contextmanager
def translate_errors(
    backend: str,
    unavailable: tuple[type[BaseException], ...],
    failed: tuple[type[BaseException], ...],
) -> Iterator[None]:
    """Foreign errors become ``StoreUnavailable`` (retry later) or ``StoreError``, chained."""
    try:
        yield
    except unavailable as error:
        raise StoreUnavailable(f"{backend}: {str(error).strip()}") from error
    except failed as error:
        raise StoreError(f"{backend}: {str(error).strip()}") from error

"""The in-memory history store (``memory://``): the reference implementation, numpy only.

Each signal keeps its samples sorted by time in arrays that grow by doubling, so appending (the
usual case) costs amortised O(batch) and reads are binary searches. Nothing survives the process.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from werk.core import Event, SampleBatch, StoreError
from werk.store._common import (
    ROLLUP_QUALITY_MAX,
    check_bucket,
    check_limit,
    event_json,
    first_occurrences,
    kind_matches,
    kind_prefix,
    read_bounds,
    rollup_of,
    unique_events,
)
from werk.store.base import Latest, Rollup

_T = TypeVar("_T", bound=np.generic)


class _Series:
    """One signal's samples, sorted by time, unique timestamps."""

    __slots__ = ("_quality", "_ts", "_values", "size")

    def __init__(self) -> None:
        self._ts = np.empty(0, np.int64)
        self._values = np.empty(0, np.float64)
        self._quality = np.empty(0, np.uint8)
        self.size = 0

    @property
    def ts(self) -> npt.NDArray[np.int64]:
        return self._ts[: self.size]

    @property
    def values(self) -> npt.NDArray[np.float64]:
        return self._values[: self.size]

    @property
    def quality(self) -> npt.NDArray[np.uint8]:
        return self._quality[: self.size]

    def between(self, low: int, high: int) -> slice:
        """Positions of samples with ``low <= ts < high``."""
        return slice(int(np.searchsorted(self.ts, low)), int(np.searchsorted(self.ts, high)))

    def insert(
        self,
        ts: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
        quality: npt.NDArray[np.uint8],
    ) -> int:
        """Add samples with timestamps unique among themselves; stored ones win. Returns new."""
        if self.size:
            at = np.searchsorted(self.ts, ts)
            stored = (at < self.size) & (self.ts[np.minimum(at, self.size - 1)] == ts)
            if stored.any():
                ts, values, quality = ts[~stored], values[~stored], quality[~stored]
        new = len(ts)
        if not new:
            return 0
        order = np.argsort(ts, kind="stable")
        ts, values, quality = ts[order], values[order], quality[order]
        if self.size and ts[0] < self.ts[-1]:  # out of order: merge (rare for time series)
            merged = np.concatenate([self.ts, ts])
            order = np.argsort(merged, kind="stable")
            ts = merged[order]
            values = np.concatenate([self.values, values])[order]
            quality = np.concatenate([self.quality, quality])[order]
            self.size = 0
        self._append(ts, values, quality)
        return new

    def _append(
        self,
        ts: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
        quality: npt.NDArray[np.uint8],
    ) -> None:
        end = self.size + len(ts)
        if end > len(self._ts):
            capacity = max(end, 2 * len(self._ts), 64)
            self._ts = _grown(self._ts, self.size, capacity)
            self._values = _grown(self._values, self.size, capacity)
            self._quality = _grown(self._quality, self.size, capacity)
        self._ts[self.size : end] = ts
        self._values[self.size : end] = values
        self._quality[self.size : end] = quality
        self.size = end

    def drop_before(self, timestamp: int) -> int:
        cut = int(np.searchsorted(self.ts, timestamp))
        if cut:
            self._ts = self._ts[cut : self.size].copy()
            self._values = self._values[cut : self.size].copy()
            self._quality = self._quality[cut : self.size].copy()
            self.size -= cut
        return cut


def _grown(array: npt.NDArray[_T], used: int, capacity: int) -> npt.NDArray[_T]:
    bigger = np.empty(capacity, array.dtype)
    bigger[:used] = array[:used]
    return bigger


class MemoryStore:
    """All history in this process's memory; for tests, demos and as the reference of the rules."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # one lock for reads and writes: numpy work is short
        self._series: dict[str, _Series] = {}
        self._events: dict[str, Event] = {}
        self._closed = False

    @classmethod
    def from_url(cls, url: str = "memory://") -> MemoryStore:
        return cls()

    def write(self, batch: SampleBatch) -> int:
        batch = first_occurrences(batch)
        if not len(batch):
            return 0
        order = np.argsort(batch.index, kind="stable")
        codes = batch.index[order]
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        ends = np.r_[starts[1:], len(codes)]
        new = 0
        with self._lock:
            self._check_open()
            for start, end in zip(starts, ends, strict=True):
                rows = order[start:end]
                series = self._series.setdefault(batch.names[int(codes[start])], _Series())
                new += series.insert(
                    batch.timestamps[rows], batch.values[rows], batch.quality[rows]
                )
        return new

    def read(
        self, signal: str, start: int, end: int, *, limit: int = 10_000, after: int | None = None
    ) -> SampleBatch:
        low, high = read_bounds(start, end, after, limit)
        with self._lock:
            self._check_open()
            series = self._series.get(signal)
            if series is None:
                return SampleBatch.of(signal, [], [])
            span = series.between(low, high)
            span = slice(span.start, min(span.stop, span.start + limit))
            return SampleBatch.of(
                signal,
                series.ts[span].copy(),
                series.values[span].copy(),
                series.quality[span].copy(),
            )

    def rollup(self, signals: Sequence[str] | None, start: int, end: int, bucket: int) -> Rollup:
        bucket = check_bucket(bucket)
        keys, numbers = [], []
        columns: dict[str, list[npt.NDArray[np.generic]]] = {
            c: [] for c in ("minimum", "maximum", "mean", "last", "count")
        }
        with self._lock:
            self._check_open()
            names = sorted(self._series) if signals is None else sorted(set(signals))
            for key, name in enumerate(names):
                series = self._series.get(name)
                if series is None:
                    continue
                span = series.between(start, end)
                counted = series.quality[span] <= ROLLUP_QUALITY_MAX
                ts, values = series.ts[span][counted], series.values[span][counted]
                if not len(ts):
                    continue
                number = ts // bucket  # numpy floors, like Python: starts at ts - ts % bucket
                first = np.flatnonzero(np.r_[True, number[1:] != number[:-1]])
                last = np.r_[first[1:], len(ts)] - 1
                count = last - first + 1
                keys.append(np.full(len(first), key))
                numbers.append(number[first])
                columns["minimum"].append(np.minimum.reduceat(values, first))
                columns["maximum"].append(np.maximum.reduceat(values, first))
                columns["mean"].append(np.add.reduceat(values, first) / count)
                columns["last"].append(values[last])
                columns["count"].append(count)
        if not keys:
            return Rollup.empty()
        return rollup_of(
            lambda found: [names[k] for k in found],
            np.concatenate(keys),
            np.concatenate(numbers),
            bucket,
            {c: np.concatenate(parts) for c, parts in columns.items()},
        )

    def latest(self, signals: Sequence[str] | None = None) -> Latest:
        with self._lock:
            self._check_open()
            names = self._series if signals is None else signals
            return {
                name: (int(s.ts[-1]), float(s.values[-1]), int(s.quality[-1]))
                for name in names
                if (s := self._series.get(name)) is not None
            }

    def ping(self) -> None:
        with self._lock:
            self._check_open()

    def signal_names(self) -> list[str]:
        with self._lock:
            self._check_open()
            return sorted(self._series)

    def count(self, signal: str | None = None) -> int:
        with self._lock:
            self._check_open()
            if signal is None:
                return sum(s.size for s in self._series.values())
            series = self._series.get(signal)
            return series.size if series else 0

    def append_events(self, events: Sequence[Event]) -> int:
        # A JSON round trip, so data comes back exactly as a database backend returns it.
        stored = [
            Event(e.kind, e.source, json.loads(event_json(e)), e.context, e.timestamp)
            for e in unique_events(events)
        ]
        with self._lock:
            self._check_open()
            new = [e for e in stored if e.id not in self._events]
            self._events.update((e.id, e) for e in new)
        return len(new)

    def events(
        self,
        start: int,
        end: int,
        *,
        kind: str | None = None,
        source: str | None = None,
        limit: int = 1_000,
    ) -> list[Event]:
        check_limit(limit)
        prefix = None if kind is None else kind_prefix(kind)
        with self._lock:
            self._check_open()
            found = [
                e
                for e in self._events.values()
                if start <= e.timestamp < end
                and (prefix is None or kind_matches(e.kind, prefix))
                and (source is None or e.source == source)
            ]
        found.sort(key=lambda e: (e.timestamp, e.id), reverse=True)
        return found[:limit]

    def drop_before(self, timestamp: int) -> int:
        with self._lock:
            self._check_open()
            dropped = sum(s.drop_before(timestamp) for s in self._series.values())
            self._series = {n: s for n, s in self._series.items() if s.size}
            self._events = {i: e for i, e in self._events.items() if e.timestamp >= timestamp}
        return dropped

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._series.clear()
            self._events.clear()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("memory store is closed")

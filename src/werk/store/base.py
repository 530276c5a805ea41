"""The history store protocol: one small interface, an implementation per URL scheme.

The store is synchronous, like ``sqlite3``: its backends block on I/O, and async callers (the
recorder, the API) run it in a worker thread. Implementations must be safe to call from several
threads (serialise writes internally).

Rules every implementation follows (``tests/contracts/test_store_contract.py`` checks them):

- ``write`` is idempotent on (signal, timestamp): a batch delivered twice is stored once, and the
  first value stored for a (signal, timestamp) wins. It returns how many samples were new.
- ``read`` returns one signal's raw samples with ``start <= ts < end`` in time order, at most
  ``limit``; to page, pass the last timestamp seen as ``after`` (exclusive).
- ``rollup`` aggregates per signal and per bucket (``bucket_start = ts - ts % bucket``; buckets
  without samples are left out). Only samples of quality GOOD or UNCERTAIN count; BAD and STALE
  samples (whose value may be NaN) are stored and readable raw, but never averaged.
- Rollups are sorted by signal name (code-point order), then bucket; ``ts - ts % bucket`` is
  Python's floor, also before 1970.
- ``drop_before`` removes samples and events older than a time (retention).
- Events are stored by id; appending the same event twice stores it once. Event ``data`` must be
  JSON without NaN or infinity (``ValidationError`` otherwise). The ``kind`` filter matches whole
  dotted tokens: ``alarm`` matches ``alarm`` and ``alarm.raised``, not ``alarmist``.
- ``ping`` is cheap whatever the size of the history: health checks call it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from werk.core import Event, Registry, SampleBatch

Latest = dict[str, tuple[int, float, int]]
"""signal -> (timestamp ns, value, quality code) of its newest sample."""


@dataclass(frozen=True, slots=True, eq=False)
class Rollup:
    """Aggregates per (signal, bucket), sorted by signal then bucket start. Columns align."""

    names: tuple[str, ...]
    index: npt.NDArray[np.int32]
    bucket: npt.NDArray[np.int64]
    minimum: npt.NDArray[np.float64]
    maximum: npt.NDArray[np.float64]
    mean: npt.NDArray[np.float64]
    last: npt.NDArray[np.float64]
    count: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.index)

    @classmethod
    def empty(cls) -> Rollup:
        f = np.empty(0, np.float64)
        return cls(
            (), np.empty(0, np.int32), np.empty(0, np.int64), f, f, f, f, np.empty(0, np.int64)
        )


@runtime_checkable
class TimeSeriesStore(Protocol):
    def write(self, batch: SampleBatch) -> int:
        """Store a batch; return the number of samples that were not stored before."""
        ...

    def read(
        self,
        signal: str,
        start: int,
        end: int,
        *,
        limit: int = 10_000,
        after: int | None = None,
    ) -> SampleBatch:
        """Raw samples of one signal, ``start <= ts < end`` and ``ts > after``, oldest first."""
        ...

    def rollup(self, signals: Sequence[str] | None, start: int, end: int, bucket: int) -> Rollup:
        """min/max/mean/last/count per bucket of ``bucket`` ns; ``signals=None`` means all."""
        ...

    def latest(self, signals: Sequence[str] | None = None) -> Latest:
        """The newest sample of each signal (of any quality)."""
        ...

    def signal_names(self) -> list[str]:
        """Every signal with at least one stored sample, sorted."""
        ...

    def count(self, signal: str | None = None) -> int:
        """Number of stored samples (of one signal, or all)."""
        ...

    def append_events(self, events: Sequence[Event]) -> int:
        """Store events (idempotent by id); return how many were new."""
        ...

    def events(
        self,
        start: int,
        end: int,
        *,
        kind: str | None = None,
        source: str | None = None,
        limit: int = 1_000,
    ) -> list[Event]:
        """Events with ``start <= timestamp < end``, newest first; ``kind`` matches a prefix."""
        ...

    def drop_before(self, timestamp: int) -> int:
        """Delete samples and events older than ``timestamp``; return the samples deleted."""
        ...

    def ping(self) -> None:
        """Raise ``StoreError`` unless the store answers a trivial query."""
        ...

    def close(self) -> None: ...


stores: Registry[TimeSeriesStore] = Registry("store", entry_point_group="werk.stores")
stores.register("memory", "werk.store.memory:MemoryStore.from_url")
stores.register("duckdb", "werk.store.duckdb:DuckDBStore.from_url")
stores.register("postgresql", "werk.store.postgres:PostgresStore.from_url")
stores.register("postgres", "werk.store.postgres:PostgresStore.from_url")


def open_store(url: str) -> TimeSeriesStore:
    """``memory://``, ``duckdb:///path/to/file.duckdb``, ``postgresql://host/db``."""
    return stores.open(url)

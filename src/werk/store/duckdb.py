"""The embedded history store on DuckDB (``duckdb:///var/werk.duckdb``), werk's default.

URLs follow SQLAlchemy: ``duckdb:///var/werk.duckdb`` is the relative path ``var/werk.duckdb``,
``duckdb:////srv/werk.duckdb`` the absolute ``/srv/werk.duckdb``; ``duckdb://`` and
``duckdb:///:memory:`` keep everything in memory. Query parameters are DuckDB settings
(``?threads=2&memory_limit=1GB``).

Samples live in one narrow table keyed by a small integer per signal. It has no primary key:
DuckDB's ART index makes ingest several times slower (see docs/benchmarks.md). ``write`` keeps
(signal, timestamp) unique instead: it drops duplicates inside the batch with numpy, then inserts
only rows missing from the table, comparing against stored rows in the batch's time range alone.
Time series arrive nearly in time order, so the zone maps (per row-group min/max of ``ts``) let that
comparison skip all but the newest row groups.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import duckdb
import pyarrow as pa

from werk.core import ConfigError, Event, SampleBatch, StoreError
from werk.store._common import (
    EVENT_COLUMNS,
    ROLLUP_QUALITY_MAX,
    SignalKeys,
    check_bucket,
    check_limit,
    event_from_row,
    event_row,
    first_occurrences,
    kind_prefix,
    latest_of,
    read_bounds,
    rollup_of,
    translate_errors,
    unique_events,
)
from werk.store.base import Latest, Rollup

MEMORY = ":memory:"

_SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS signal_ids;
CREATE TABLE IF NOT EXISTS signals (
    id INTEGER PRIMARY KEY DEFAULT nextval('signal_ids'),
    name VARCHAR NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS samples (
    signal_id INTEGER NOT NULL,
    ts BIGINT NOT NULL,
    value DOUBLE NOT NULL,
    quality UTINYINT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    ts BIGINT NOT NULL,
    parent_id VARCHAR,
    "user" VARCHAR,
    data JSON NOT NULL
);
"""

_INSERT_NEW = """
INSERT INTO samples (signal_id, ts, value, quality)
SELECT b.signal_id, b.ts, b.value, b.quality
FROM werk_batch AS b
ANTI JOIN (SELECT signal_id, ts FROM samples WHERE ts BETWEEN $low AND $high) AS s
    USING (signal_id, ts)
"""

_EVENT_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("kind", pa.string()),
        ("source", pa.string()),
        ("ts", pa.int64()),
        ("parent_id", pa.string()),
        ("user", pa.string()),
        ("data", pa.string()),
    ]
)


def parse_url(url: str) -> tuple[str, dict[str, str]]:
    """``duckdb:///var/werk.duckdb?threads=2`` -> ``("var/werk.duckdb", {"threads": "2"})``."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "duckdb":
        raise ConfigError(f"not a DuckDB URL: {url!r}")
    if parts.netloc:
        raise ConfigError(
            f"DuckDB URL {url!r} names a host; a file is written duckdb:///relative/path.duckdb "
            "or duckdb:////absolute/path.duckdb"
        )
    path = unquote(parts.path)
    path = path[1:] if path.startswith("/") else path  # the slash that ends the empty host
    return path or MEMORY, dict(parse_qsl(parts.query, keep_blank_values=True))


class DuckDBStore:
    """History in one DuckDB file (or in memory). Writes are serialised; reads run in parallel."""

    def __init__(self, path: str | Path = MEMORY, config: dict[str, str] | None = None) -> None:
        self.path = str(path)
        self._write_lock = threading.Lock()
        self._cursor_lock = threading.Lock()
        self._keys = SignalKeys()
        self._closed = False
        if self.path != MEMORY:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        with self._errors():
            try:
                settings: dict[str, Any] = dict(config or {})
                self._conn = duckdb.connect(self.path, config=settings)
            except duckdb.InvalidInputException as error:
                raise ConfigError(f"DuckDB {self.path}: {error}") from error
            # The base connection only hands out cursors: a DuckDB connection is not thread-safe.
            self._writer = self._conn.cursor()
            self._writer.execute(_SCHEMA)

    @classmethod
    def from_url(cls, url: str) -> DuckDBStore:
        path, config = parse_url(url)
        return cls(path, config)

    def __repr__(self) -> str:
        return f"DuckDBStore({self.path!r})"

    # -- samples ---------------------------------------------------------------------------------

    def write(self, batch: SampleBatch) -> int:
        batch = first_occurrences(batch)
        if not len(batch):
            return 0
        with self._transaction() as conn:
            learnt = self._register(conn, batch.names)
            keys = self._keys.keys(batch.names, learnt)
            conn.register(
                "werk_batch",
                pa.table(
                    {
                        "signal_id": keys[batch.index],
                        "ts": batch.timestamps,
                        "value": batch.values,
                        "quality": batch.quality,
                    }
                ),
            )
            try:
                bounds = {"low": int(batch.timestamps.min()), "high": int(batch.timestamps.max())}
                new = _scalar(conn.execute(_INSERT_NEW, bounds))
            finally:
                conn.unregister("werk_batch")
        self._keys.remember((key, name) for name, key in learnt.items())  # committed now
        return new

    def read(
        self, signal: str, start: int, end: int, *, limit: int = 10_000, after: int | None = None
    ) -> SampleBatch:
        low, high = read_bounds(start, end, after, limit)
        with self._cursor() as cur:
            key = self._known(cur, [signal]).get(signal)
            if key is None or low >= high or not limit:
                return SampleBatch.of(signal, [], [])
            found = cur.execute(
                "SELECT ts, value, quality FROM samples"
                " WHERE signal_id = $key AND ts >= $low AND ts < $high ORDER BY ts LIMIT $limit",
                {"key": key, "low": low, "high": high, "limit": limit},
            ).fetchnumpy()
        return SampleBatch.of(signal, found["ts"], found["value"], found["quality"])

    def rollup(self, signals: Sequence[str] | None, start: int, end: int, bucket: int) -> Rollup:
        bucket = check_bucket(bucket)
        with self._cursor() as cur:
            where = self._signal_filter(cur, signals)
            if where is None or start >= end:
                return Rollup.empty()
            # Bucket numbers floor like Python's // (DuckDB's truncates toward zero), so a
            # bucket starts at ts - ts % bucket as the protocol says, before 1970 too.
            found = cur.execute(
                "SELECT signal_id AS key, ts // $bucket - (ts % $bucket < 0)::BIGINT AS number,"
                " min(value) AS minimum, max(value) AS maximum, avg(value) AS mean,"
                " arg_max(value, ts) AS last, count(*) AS count"
                f" FROM samples WHERE ts >= $start AND ts < $end AND quality <= $worst{where}"
                " GROUP BY ALL",
                {"bucket": bucket, "start": start, "end": end, "worst": ROLLUP_QUALITY_MAX},
            ).fetchnumpy()
            return rollup_of(
                lambda keys: self._names(cur, keys), found["key"], found["number"], bucket, found
            )

    def latest(self, signals: Sequence[str] | None = None) -> Latest:
        with self._cursor() as cur:
            where = self._signal_filter(cur, signals)
            if where is None:
                return {}
            rows = cur.execute(
                "SELECT signal_id, max(ts), arg_max(value, ts), arg_max(quality, ts) FROM samples"
                f" WHERE true{where} GROUP BY signal_id"
            ).fetchall()
            names = self._names(cur, [key for key, *_ in rows])
        return latest_of((name, *rest) for name, (_, *rest) in zip(names, rows, strict=True))

    def signal_names(self) -> list[str]:
        with self._cursor() as cur:
            rows = cur.execute(
                "SELECT name FROM signals WHERE id IN (SELECT DISTINCT signal_id FROM samples)"
            ).fetchall()
        return sorted(name for (name,) in rows)

    def count(self, signal: str | None = None) -> int:
        with self._cursor() as cur:
            if signal is None:
                return _scalar(cur.execute("SELECT count(*) FROM samples"))
            key = self._known(cur, [signal]).get(signal)
            if key is None:
                return 0
            return _scalar(cur.execute("SELECT count(*) FROM samples WHERE signal_id = $1", [key]))

    # -- events ----------------------------------------------------------------------------------

    def append_events(self, events: Sequence[Event]) -> int:
        rows = [event_row(e) for e in unique_events(events)]
        if not rows:
            return 0
        table = pa.Table.from_pylist(
            [dict(zip(EVENT_COLUMNS, r, strict=True)) for r in rows], schema=_EVENT_SCHEMA
        )
        with self._transaction() as conn:
            conn.register("werk_events", table)
            try:
                return _scalar(
                    conn.execute(
                        'INSERT INTO events SELECT id, kind, source, ts, parent_id, "user", data'
                        " FROM werk_events ON CONFLICT DO NOTHING"
                    )
                )
            finally:
                conn.unregister("werk_events")

    def events(
        self,
        start: int,
        end: int,
        *,
        kind: str | None = None,
        source: str | None = None,
        limit: int = 1_000,
    ) -> list[Event]:
        params: dict[str, object] = {"start": start, "end": end, "limit": check_limit(limit)}
        where = ""
        if kind is not None:
            params["kind"] = kind_prefix(kind)
            where += " AND (kind = $kind OR starts_with(kind, $kind || '.'))"
        if source is not None:
            params["source"] = source
            where += " AND source = $source"
        with self._cursor() as cur:
            rows = cur.execute(
                'SELECT id, kind, source, ts, parent_id, "user", data FROM events'
                f" WHERE ts >= $start AND ts < $end{where}"
                " ORDER BY ts DESC, id DESC LIMIT $limit",
                params,
            ).fetchall()
        return [event_from_row(*row) for row in rows]

    # -- housekeeping ----------------------------------------------------------------------------

    def drop_before(self, timestamp: int) -> int:
        with self._transaction() as conn:
            dropped = _scalar(conn.execute("DELETE FROM samples WHERE ts < $1", [timestamp]))
            conn.execute("DELETE FROM events WHERE ts < $1", [timestamp])
        return dropped

    def close(self) -> None:
        with self._write_lock, self._cursor_lock:
            if self._closed:
                return
            self._closed = True
            with self._errors():
                self._writer.close()
                self._conn.close()

    # -- internals -------------------------------------------------------------------------------

    def _errors(self) -> AbstractContextManager[None]:
        # A locked or unreadable file may come back; anything else DuckDB raises is a failure.
        return translate_errors(f"DuckDB {self.path}", (duckdb.IOException,), (duckdb.Error,))

    @contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection of this call's own (cheap: microseconds), so threads read in parallel."""
        with self._errors():
            with self._cursor_lock:
                self._check_open()
                cur = self._conn.cursor()
            try:
                yield cur
            finally:
                cur.close()

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._write_lock, self._errors():
            self._check_open()
            conn = self._writer
            conn.begin()
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"DuckDB store {self.path} is closed")

    def _register(self, conn: duckdb.DuckDBPyConnection, names: Sequence[str]) -> dict[str, int]:
        """Keys for names not seen before, given inside the caller's transaction."""
        unknown = self._keys.unknown_names(names)
        if not unknown:
            return {}
        conn.execute(
            "INSERT INTO signals (name) SELECT unnest($1::VARCHAR[]) ON CONFLICT (name) DO NOTHING",
            [unknown],
        )
        rows = conn.execute(
            "SELECT name, id FROM signals WHERE list_contains($1::VARCHAR[], name)", [unknown]
        ).fetchall()
        return dict(rows)

    def _known(self, cur: duckdb.DuckDBPyConnection, names: Sequence[str]) -> dict[str, int]:
        """Keys of those ``names`` that have one; asks the database only about names not cached."""
        unknown = self._keys.unknown_names(names)
        if unknown:
            rows = cur.execute(
                "SELECT id, name FROM signals WHERE list_contains($1::VARCHAR[], name)", [unknown]
            ).fetchall()
            self._keys.remember(rows)
        return {n: k for n in names if (k := self._keys.key(n)) is not None}

    def _names(self, cur: duckdb.DuckDBPyConnection, keys: list[int]) -> list[str]:
        unknown = self._keys.unknown_ids(keys)
        if unknown:
            rows = cur.execute(
                "SELECT id, name FROM signals WHERE list_contains($1::INTEGER[], id)", [unknown]
            ).fetchall()
            self._keys.remember(rows)
        return [self._keys.name(key) for key in keys]

    def _signal_filter(
        self, cur: duckdb.DuckDBPyConnection, signals: Sequence[str] | None
    ) -> str | None:
        """SQL limiting samples to ``signals`` (empty: all); ``None`` when none of them is known."""
        if signals is None:
            return ""
        keys = sorted(set(self._known(cur, list(signals)).values()))
        if not keys:
            return None
        # Our own integer keys, safe to inline; a constant IN list becomes a pushed-down filter.
        return f" AND signal_id IN ({', '.join(map(str, keys))})"


def _scalar(result: duckdb.DuckDBPyConnection) -> int:
    row = result.fetchone()
    return int(row[0]) if row else 0

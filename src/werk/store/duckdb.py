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
comparison skip all but the newest row groups, and an append skips it altogether.

Two small tables kept in the same transactions as ``samples`` make reads independent of how much
history there is: ``signal_latest`` holds each signal's newest sample (for ``latest`` and
``signal_names``), and ``sample_minutes`` the per-minute aggregates of the samples a rollup
counts. ``write`` and ``drop_before`` recompute the minutes they touch from ``samples``, so the two
never disagree. A rollup in whole minutes reads those, and raw samples only for the partial
minutes at its ends: sixty times fewer rows at one sample a second.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from werk.core import NS_PER_S, ConfigError, Event, SampleBatch, StoreError
from werk.store._common import (
    EVENT_COLUMNS,
    ROLLUP_QUALITY_MAX,
    Pairs,
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
CLOSE_WAIT_S = 10.0  # how long close() lets reads in flight finish before interrupting them

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
CREATE TABLE IF NOT EXISTS sample_minutes (
    signal_id INTEGER NOT NULL,
    minute BIGINT NOT NULL,  -- floor(ts / 1 min); only GOOD and UNCERTAIN samples count
    minimum DOUBLE NOT NULL,
    maximum DOUBLE NOT NULL,
    total DOUBLE NOT NULL,
    count BIGINT NOT NULL,
    last_ts BIGINT NOT NULL,
    last DOUBLE NOT NULL
);
CREATE TABLE IF NOT EXISTS signal_latest (
    signal_id INTEGER PRIMARY KEY,
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

# An append (nothing stored in the batch's time range: zone maps tell at once) inserts all rows.
_APPEND = """
INSERT INTO samples SELECT signal_id, ts, value, quality FROM werk_batch
WHERE NOT EXISTS (SELECT 1 FROM samples WHERE ts BETWEEN $low AND $high)
"""
# Otherwise only the rows not stored yet; the anti-join would cost an append as much again.
_INSERT_NEW = """
INSERT INTO samples (signal_id, ts, value, quality)
SELECT b.signal_id, b.ts, b.value, b.quality
FROM werk_batch AS b
ANTI JOIN (SELECT signal_id, ts FROM samples WHERE ts BETWEEN $low AND $high) AS s
    USING (signal_id, ts)
"""
# A batch's newest sample of a signal is new whenever it is newer than the stored newest one.
_UPDATE_LATEST = """
MERGE INTO signal_latest AS l USING werk_newest AS b ON l.signal_id = b.signal_id
WHEN MATCHED AND b.ts > l.ts THEN UPDATE SET ts = b.ts, value = b.value, quality = b.quality
WHEN NOT MATCHED THEN INSERT VALUES (b.signal_id, b.ts, b.value, b.quality)
"""

_COUNT = "SELECT count(*) FROM werk_warmup"

MINUTE = 60 * NS_PER_S
_INT64 = (-(2**63), 2**63 - 1)


def _floor_number(column: str, size: str) -> str:
    """SQL for ``floor(column / size)``: DuckDB's ``//`` truncates toward zero."""
    return f"({column} // {size} - ({column} % {size} < 0)::BIGINT)"


def _minutes_of_samples(low: str, high: str, where: str) -> str:
    """SQL aggregating samples with ``low <= ts <= high`` per signal and minute."""
    return (
        f"SELECT signal_id, {_floor_number('ts', str(MINUTE))} AS minute, min(value), max(value),"
        " sum(value), count(*), max(ts), arg_max(value, ts) FROM samples"
        f" WHERE ts BETWEEN {low} AND {high} AND quality <= {ROLLUP_QUALITY_MAX}{where}"
        " GROUP BY ALL"
    )


# Fold a batch of new samples (all of them new) into the minutes they fall in.
_MERGE_MINUTES = f"""
MERGE INTO sample_minutes AS m USING (
    SELECT signal_id, {_floor_number("ts", str(MINUTE))} AS minute, min(value) AS minimum,
        max(value) AS maximum, sum(value) AS total, count(*) AS count, max(ts) AS last_ts,
        arg_max(value, ts) AS last
    FROM werk_batch WHERE quality <= {ROLLUP_QUALITY_MAX} GROUP BY ALL
) AS b ON m.signal_id = b.signal_id AND m.minute = b.minute
WHEN MATCHED THEN UPDATE SET
    minimum = least(m.minimum, b.minimum), maximum = greatest(m.maximum, b.maximum),
    total = m.total + b.total, count = m.count + b.count,
    last = CASE WHEN b.last_ts > m.last_ts THEN b.last ELSE m.last END,
    last_ts = greatest(m.last_ts, b.last_ts)
WHEN NOT MATCHED THEN INSERT VALUES
    (b.signal_id, b.minute, b.minimum, b.maximum, b.total, b.count, b.last_ts, b.last)
"""


def _minute_span(first: int, last: int) -> dict[str, int]:
    """The ts range of minutes ``first`` to ``last``, inclusive, clamped to int64."""
    return {
        "low": max(first * MINUTE, _INT64[0]),
        "high": min(last * MINUTE + MINUTE - 1, _INT64[1]),
    }


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
        self._readers_done = threading.Condition(self._cursor_lock)
        self._readers = 0  # reads in flight: close waits for them (a cancelled caller's thread
        # still runs its query, and closing the connection under it fails both)
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
        self._create_schema()

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
            signal_id = keys[batch.index]
            table = pa.table(
                {
                    "signal_id": signal_id,
                    "ts": batch.timestamps,
                    "value": batch.values,
                    "quality": batch.quality,
                }
            )
            low, high = int(batch.timestamps.min()), int(batch.timestamps.max())
            bounds = {"low": low, "high": high}
            new = _run_with(conn, "werk_batch", table, _APPEND, bounds)
            if new:
                # All of the batch is new: fold its own aggregates into the minutes, a cost
                # that grows with the batch, not with what the minutes already hold.
                _run_with(conn, "werk_batch", table, _MERGE_MINUTES)
            else:
                new = _run_with(conn, "werk_batch", table, _INSERT_NEW, bounds)
                if new:
                    # Some rows were stored already: recompute the touched minutes from samples.
                    # More signals than the batch holds is as exact, and a key range filters
                    # cheaper than an IN list.
                    where = f" AND signal_id BETWEEN {signal_id.min()} AND {signal_id.max()}"
                    _refresh_minutes(conn, low // MINUTE, high // MINUTE, where)
            if new:
                newest = _newest_per_signal(signal_id, batch.timestamps)
                _run_with(conn, "werk_newest", table.take(newest), _UPDATE_LATEST)
        self._keys.remember((key, name) for name, key in learnt.items())  # committed now
        return new

    def read(
        self, signal: str, start: int, end: int, *, limit: int = 10_000, after: int | None = None
    ) -> SampleBatch:
        low, high = read_bounds(start, end, after, limit)
        with self._cursor() as cur:
            key = self._keys.known([signal], self._by_name(cur)).get(signal)
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
        first, stop = -(-start // MINUTE), end // MINUTE  # the whole minutes in [start, end)
        with self._cursor() as cur:
            where = self._keys.filter_sql(signals, self._by_name(cur))
            if where is None or start >= end:
                return Rollup.empty()
            if bucket % MINUTE == 0 and first < stop:
                sql, params = _rollup_of_minutes(where, bucket // MINUTE)
                params |= {"first": first, "stop": stop, "start": start, "end": end - 1}
                params |= {"first_ts": first * MINUTE - 1, "stop_ts": stop * MINUTE}
            else:
                sql, params = _rollup_of_samples(where), {"start": start, "end": end - 1}
                params["bucket"] = bucket
            found = cur.execute(sql, params).fetchnumpy()
            return rollup_of(
                lambda keys: self._keys.names(keys, self._by_key(cur)),
                found["key"],
                found["number"],
                bucket,
                found,
            )

    def latest(self, signals: Sequence[str] | None = None) -> Latest:
        with self._cursor() as cur:
            where = self._keys.filter_sql(signals, self._by_name(cur))
            if where is None:
                return {}
            rows = cur.execute(
                f"SELECT signal_id, ts, value, quality FROM signal_latest WHERE true{where}"
            ).fetchall()
            names = self._keys.names([key for key, *_ in rows], self._by_key(cur))
        return latest_of((name, *rest) for name, (_, *rest) in zip(names, rows, strict=True))

    def ping(self) -> None:
        with self._cursor() as cur:
            cur.execute("SELECT 1").fetchall()

    def signal_names(self) -> list[str]:
        with self._cursor() as cur:
            rows = cur.execute(
                "SELECT name FROM signals JOIN signal_latest ON signal_id = id"
            ).fetchall()
        return sorted(name for (name,) in rows)

    def count(self, signal: str | None = None) -> int:
        with self._cursor() as cur:
            if signal is None:
                return _scalar(cur.execute("SELECT count(*) FROM samples"))
            key = self._keys.known([signal], self._by_name(cur)).get(signal)
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
            return _run_with(
                conn,
                "werk_events",
                table,
                'INSERT INTO events SELECT id, kind, source, ts, parent_id, "user", data'
                " FROM werk_events ON CONFLICT DO NOTHING",
            )

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
            if dropped:
                # A signal whose newest sample went has no samples left.
                conn.execute("DELETE FROM signal_latest WHERE ts < $1", [timestamp])
                cut = timestamp // MINUTE  # this minute may keep some samples: recompute it
                conn.execute("DELETE FROM sample_minutes WHERE minute < $1", [cut])
                _refresh_minutes(conn, cut, cut, "")
        return dropped

    def close(self) -> None:
        with self._write_lock, self._cursor_lock:
            if self._closed:
                return
            self._closed = True  # no new reads from here on
            if not self._readers_done.wait_for(lambda: self._readers == 0, timeout=CLOSE_WAIT_S):
                self._conn.interrupt()  # a read that takes this long is stopped, not waited for
                self._readers_done.wait_for(lambda: self._readers == 0, timeout=CLOSE_WAIT_S)
            with self._errors():
                self._writer.close()
                self._conn.close()

    # -- internals -------------------------------------------------------------------------------

    def _create_schema(self) -> None:
        with self._errors():
            tables = self._writer.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
            ).fetchall()
            self._writer.execute(_SCHEMA)
            # DuckDB imports pandas the first time an Arrow table is registered (about a second):
            # pay that at start, not on the first write while a device waits for its ack.
            _run_with(
                self._writer, "werk_warmup", pa.table({"n": pa.array([], pa.int64())}), _COUNT
            )
        existing = {name for (name,) in tables}
        if "samples" in existing and not {"sample_minutes", "signal_latest"} <= existing:
            # A file from a werk before the summary tables: build them from the samples, once.
            with self._transaction() as conn:
                conn.execute("DELETE FROM sample_minutes")
                conn.execute("DELETE FROM signal_latest")
                _refresh_minutes(conn, _INT64[0] // MINUTE, _INT64[1] // MINUTE, "")
                conn.execute(
                    "INSERT INTO signal_latest SELECT signal_id, max(ts), arg_max(value, ts),"
                    " arg_max(quality, ts) FROM samples GROUP BY ALL"
                )

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
                self._readers += 1
            try:
                yield cur
            finally:
                cur.close()
                with self._cursor_lock:
                    self._readers -= 1
                    self._readers_done.notify_all()

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

    @staticmethod
    def _by_name(cur: duckdb.DuckDBPyConnection) -> Callable[[list[str]], Pairs]:
        return lambda names: cur.execute(
            "SELECT id, name FROM signals WHERE list_contains($1::VARCHAR[], name)", [names]
        ).fetchall()

    @staticmethod
    def _by_key(cur: duckdb.DuckDBPyConnection) -> Callable[[list[int]], Pairs]:
        return lambda keys: cur.execute(
            "SELECT id, name FROM signals WHERE list_contains($1::INTEGER[], id)", [keys]
        ).fetchall()


def _newest_per_signal(
    keys: npt.NDArray[np.int32], ts: npt.NDArray[np.int64]
) -> npt.NDArray[np.intp]:
    """Positions of each signal's newest sample (timestamps are unique per signal)."""
    newest = np.full(int(keys.max()) + 1, np.iinfo(np.int64).min)
    np.maximum.at(newest, keys, ts)
    return np.flatnonzero(ts == newest[keys])


def _run_with(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    table: pa.Table,
    sql: str,
    params: dict[str, int] | None = None,
) -> int:
    """Run ``sql`` with ``table`` visible as ``name``; return its first value (a row count)."""
    conn.register(name, table)
    try:
        return _scalar(conn.execute(sql, params))
    finally:
        conn.unregister(name)


def _refresh_minutes(conn: duckdb.DuckDBPyConnection, first: int, last: int, where: str) -> None:
    """Recompute minutes ``first`` to ``last`` of the ``where`` signals from their samples."""
    conn.execute(
        f"DELETE FROM sample_minutes WHERE minute BETWEEN $first AND $last{where}",
        {"first": first, "last": last},
    )
    conn.execute(
        "INSERT INTO sample_minutes " + _minutes_of_samples("$low", "$high", where),
        _minute_span(first, last),
    )


def _scalar(result: duckdb.DuckDBPyConnection) -> int:
    rows = result.fetchall()  # to the end: DuckDB refuses other work while a result is open
    return int(rows[0][0]) if rows else 0


def _rollup_of_samples(where: str) -> str:
    return (
        f"SELECT signal_id AS key, {_floor_number('ts', '$bucket')} AS number,"
        " min(value) AS minimum, max(value) AS maximum, avg(value) AS mean,"
        " arg_max(value, ts) AS last, count(*) AS count FROM samples"
        f" WHERE ts BETWEEN $start AND $end AND quality <= {ROLLUP_QUALITY_MAX}{where} GROUP BY ALL"
    )


def _rollup_of_minutes(where: str, minutes: int) -> tuple[str, dict[str, int]]:
    """Whole minutes from ``sample_minutes``, the partial ones at both ends from ``samples``."""
    parts = (
        "WITH parts AS ("
        " SELECT signal_id, minute, minimum, maximum, total, count, last_ts, last"
        f" FROM sample_minutes WHERE minute >= $first AND minute < $stop{where}"
        f" UNION ALL {_minutes_of_samples('$start', '$first_ts', where)}"
        f" UNION ALL {_minutes_of_samples('$stop_ts', '$end', where)})"
    )
    if minutes == 1:  # every part is a minute of its own: nothing to merge
        return (
            parts + " SELECT signal_id AS key, minute AS number, minimum, maximum,"
            " total / count AS mean, last, count FROM parts",
            {},
        )
    return (
        parts + f" SELECT signal_id AS key, {_floor_number('minute', '$minutes')} AS number,"
        " min(minimum) AS minimum, max(maximum) AS maximum, sum(total) / sum(count) AS mean,"
        " arg_max(last, last_ts) AS last, sum(count)::BIGINT AS count FROM parts GROUP BY ALL",
        {"minutes": minutes},
    )

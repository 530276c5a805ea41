"""History store ingest and rollup figures, side by side with raw database appends.

    .venv/bin/python benchmarks/store_ingest.py --rows 10000000 --signals 100 \\
        --postgres postgresql://postgres@127.0.0.1:5432/test

(a) DuckDB: ``DuckDBStore.write`` against raw Arrow appends (``INSERT INTO samples SELECT * FROM
    arrow_table``) of the same batches into the same table, alternating ``--repeat`` times, and
    against the design werk rejected (a primary key with ``INSERT OR IGNORE``); plus a redelivery
    of batches already stored and the cost of one small write.
(b) PostgreSQL: ``PostgresStore.write`` of the first ``--postgres-rows`` samples, rollups over
    them and small writes (a fresh schema, dropped afterwards).
(c) Rollups on the DuckDB file just written: a 1-minute rollup of one signal over one hour, and of
    every signal over all rows; median of ``--runs``, through werk and as the bare SQL.

Samples come as connectors produce them: every signal sampled once a second, all signals of a
second together, in batches of ``--batch`` samples; 1 % of them BAD with a NaN value.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from werk.core import SampleBatch
from werk.store import TimeSeriesStore
from werk.store.duckdb import DuckDBStore

S = 1_000_000_000
T0 = 1_764_000_000 * S
RAW_SCHEMA = "CREATE TABLE samples (signal_id INTEGER, ts BIGINT, value DOUBLE, quality UTINYINT"


def machine(postgres: str | None) -> list[str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    lines = [
        f"machine: {os.cpu_count()} CPUs, {model}, {platform.system()} {platform.release()}",
        f"python {platform.python_version()}, duckdb {duckdb.__version__}, numpy {np.__version__},"
        f" pyarrow {pa.__version__}",
    ]
    if postgres:
        import psycopg

        with psycopg.connect(postgres) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        lines.append(f"psycopg {psycopg.__version__}, PostgreSQL {row[0] if row else '?'}")
    return lines


def batches(rows: int, signals: int, size: int) -> Iterator[SampleBatch]:
    """Time-ordered batches: each second, one sample of every signal."""
    names = tuple(f"line{i // 10}/machine{i % 10}/value" for i in range(signals))
    rng = np.random.default_rng(0)
    for start in range(0, rows, size):
        position = np.arange(start, min(start + size, rows), dtype=np.int64)
        quality = (rng.random(len(position)) < 0.01).astype(np.uint8) * 2
        values = rng.normal(50.0, 5.0, len(position))
        values[quality > 0] = np.nan
        yield SampleBatch(
            names,
            (position % signals).astype(np.int32),
            T0 + (position // signals) * S,
            values,
            quality,
        )


def rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds / 1e6:6.2f} M values/s ({seconds:6.2f} s)"


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def median_ms(work: Callable[[], object], runs: int) -> tuple[float, object]:
    result = work()  # warm: the first run reads the file into DuckDB's buffer pool
    times = [timed(work) for _ in range(runs)]
    return statistics.median(times) * 1e3, result


def arrow_of(batch: SampleBatch) -> pa.Table:
    # The raw path gets integer keys ready-made: werk maps names to keys inside write().
    return pa.table(
        {
            "signal_id": batch.index + 1,
            "ts": batch.timestamps,
            "value": batch.values,
            "quality": batch.quality,
        }
    )


def raw_append(path: Path, tables: list[pa.Table], create: str, insert: str) -> float:
    conn = duckdb.connect(str(path))
    conn.execute(create)

    def work() -> None:
        for table in tables:
            conn.register("arrow_table", table)
            conn.execute(insert)  # autocommit: one transaction per batch, like write()
            conn.unregister("arrow_table")

    seconds = timed(work)
    conn.close()
    return seconds


def werk_write(path: Path, data: list[SampleBatch]) -> float:
    store = DuckDBStore(path)
    new = 0

    def work() -> None:
        nonlocal new
        for batch in data:
            new += store.write(batch)

    seconds = timed(work)
    assert new == sum(len(b) for b in data) == store.count(), new
    store.close()
    return seconds


def small_writes(store: TimeSeriesStore, signals: int, writes: int = 500) -> str:
    """The recorder's usual shape: a commit every 100 ms holding one sample of each signal."""
    small = list(batches(writes * signals, signals, signals))
    seconds = timed(lambda: [store.write(b) for b in small])
    return f"{seconds / writes * 1e3:6.2f} ms per write of {signals} samples"


def duckdb_ingest(args: argparse.Namespace, work_dir: Path, data: list[SampleBatch]) -> Path:
    rows = sum(len(b) for b in data)
    tables = [arrow_of(b) for b in data]
    print(
        f"\n(a) DuckDB ingest: {rows:,} samples, {args.signals} signals, batches of {args.batch:,}"
    )
    print(f"    each into a fresh file, alternating, {args.repeat} times; medians")
    raw, werk = [], []
    path = work_dir / "werk.duckdb"
    for attempt in range(args.repeat):
        for stale in work_dir.glob("*.duckdb*"):
            stale.unlink()
        raw.append(
            raw_append(
                work_dir / "raw.duckdb",
                tables,
                RAW_SCHEMA + ")",
                "INSERT INTO samples SELECT * FROM arrow_table",
            )
        )
        werk.append(werk_write(path, data))
        print(f"    run {attempt + 1}: raw {rate(rows, raw[-1])}, werk {rate(rows, werk[-1])}")
    raw_s, werk_s = statistics.median(raw), statistics.median(werk)
    print(f"  raw Arrow append (INSERT ... SELECT * FROM arrow)  {rate(rows, raw_s)}")
    print(f"  DuckDBStore.write                                {rate(rows, werk_s)}")
    print(f"  werk / raw                                       {raw_s / werk_s:6.2f}x")

    store = DuckDBStore(path)
    again = data[-10:]
    redelivered = sum(len(b) for b in again)
    seconds = timed(lambda: [store.write(b) for b in again])
    assert store.count() == rows
    print(f"  DuckDBStore.write, redelivery (all duplicates)   {rate(redelivered, seconds)}")
    store.close()
    store = DuckDBStore(work_dir / "small.duckdb")
    print(f"  DuckDBStore.write, small batches                 {small_writes(store, args.signals)}")
    store.close()

    if args.alternatives:
        part = tables[: max(1, len(tables) // 5)]
        part_rows = sum(t.num_rows for t in part)
        keyed = raw_append(
            work_dir / "keyed.duckdb",
            part,
            RAW_SCHEMA + ", PRIMARY KEY (signal_id, ts))",
            "INSERT OR IGNORE INTO samples SELECT * FROM arrow_table",
        )
        print(f"  rejected design: primary key + INSERT OR IGNORE, first {part_rows:,} samples")
        print(f"                                                   {rate(part_rows, keyed)}")
    return path


def postgres_ingest(args: argparse.Namespace, data: list[SampleBatch]) -> None:
    import psycopg

    from werk.store.postgres import PostgresStore

    schema = f"werk_bench_{uuid.uuid4().hex[:8]}"
    sep = "&" if "?" in args.postgres else "?"
    chosen, total = [], 0
    for batch in data:
        if total >= args.postgres_rows:
            break
        chosen.append(batch)
        total += len(batch)
    print(f"\n(b) PostgreSQL ingest: {total:,} samples, batches of {args.batch:,}")
    store = PostgresStore.from_url(f"{args.postgres}{sep}schema={schema}")
    try:
        seconds = timed(lambda: [store.write(b) for b in chosen])
        assert store.count() == total
        print(f"  PostgresStore.write                              {rate(total, seconds)}")
        minute, hour = 60 * S, 3_600 * S
        end = (int(chosen[-1].timestamps.max()) // minute + 1) * minute
        signal = chosen[0].names[0]
        for label, signals, low in (
            ("rollup, one signal over 1 h", [signal], end - hour),
            (f"rollup, all signals over all {total:,} rows", None, T0),
        ):
            ms, _ = median_ms(lambda s=signals, lo=low: store.rollup(s, lo, end, minute), 5)
            print(f"  {label}: {ms:.1f} ms (1-minute buckets, median of 5)")
        store.drop_before(2**62)
        small = small_writes(store, args.signals)
        print(f"  PostgresStore.write, small batches               {small}")
    finally:
        store.close()
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def rollups(args: argparse.Namespace, path: Path, data: list[SampleBatch]) -> None:
    rows = sum(len(b) for b in data)
    minute, hour = 60 * S, 3_600 * S
    start = int(data[0].timestamps.min())
    end = (int(data[-1].timestamps.max()) // minute + 1) * minute  # whole minutes
    signal = data[0].names[0]
    cases = [
        (f"one signal over 1 h ({signal})", [signal], end - hour),
        (f"all {args.signals} signals over all {rows:,} rows", None, start),
    ]
    print(f"\n(c) DuckDB rollups, 1-minute buckets, median of {args.runs} runs")
    store = DuckDBStore(path)
    werk = [
        median_ms(lambda s=s, lo=lo: store.rollup(s, lo, end, minute), args.runs)
        for *_, s, lo in cases
    ]
    store.close()

    # The same aggregation written directly against the samples table, as a user of DuckDB would.
    conn = duckdb.connect(str(path), read_only=True)
    row = conn.execute("SELECT id FROM signals WHERE name = $1", [signal]).fetchone()
    sql = (
        "SELECT signal_id, ts // $b AS n, min(value), max(value), avg(value), arg_max(value, ts),"
        " count(*) FROM samples WHERE ts >= $s AND ts < $e AND quality <= 1 {} GROUP BY ALL"
    )
    filters = [f"AND signal_id = {row[0] if row else -1}", ""]
    for (label, _, low), (ms, result), where in zip(cases, werk, filters, strict=True):
        query = sql.format(where)
        raw_ms, _ = median_ms(
            lambda q=query, lo=low: conn.execute(q, {"b": minute, "s": lo, "e": end}).fetchnumpy(),
            args.runs,
        )
        buckets = len(result)  # type: ignore[arg-type]
        print(f"  {label}: {ms:7.1f} ms through werk, {raw_ms:7.1f} ms bare SQL on samples", end="")
        print(f" ({buckets:,} buckets)")
    conn.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000, help="samples written to DuckDB")
    parser.add_argument("--signals", type=int, default=100)
    parser.add_argument("--batch", type=int, default=100_000, help="samples per write")
    parser.add_argument("--postgres", help="a PostgreSQL URL; without it (b) is skipped")
    parser.add_argument("--postgres-rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of the DuckDB ingest")
    parser.add_argument("--runs", type=int, default=21, help="repetitions of each rollup")
    parser.add_argument(
        "--no-alternatives",
        dest="alternatives",
        action="store_false",
        help="skip the primary-key design werk rejected",
    )
    parser.add_argument("--dir", type=Path, help="where DuckDB files go (default: a temp dir)")
    args = parser.parse_args(argv)

    print("command: " + shlex.join([Path(sys.executable).name, *sys.argv]))
    for line in machine(args.postgres):
        print(line)
    data = list(batches(args.rows, args.signals, args.batch))
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = duckdb_ingest(args, Path(tmp), data)
        if args.postgres:
            postgres_ingest(args, data)
        rollups(args, path, data)


if __name__ == "__main__":
    main()

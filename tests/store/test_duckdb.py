"""DuckDB specifics: URLs, files, schema, error translation. The rules are in tests/contracts."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pytest

from werk.core import ConfigError, SampleBatch, StoreError, StoreUnavailable
from werk.store import duckdb as duckdb_module
from werk.store import open_store
from werk.store.duckdb import DuckDBStore, parse_url

T0 = 1_764_000_000_000_000_000


@pytest.mark.parametrize(
    ("url", "path", "config"),
    [
        ("duckdb:///var/werk.duckdb", "var/werk.duckdb", {}),
        ("duckdb:////srv/werk/history.duckdb", "/srv/werk/history.duckdb", {}),
        ("duckdb://", ":memory:", {}),
        ("duckdb:///", ":memory:", {}),
        ("duckdb:///:memory:", ":memory:", {}),
        ("DuckDB:///my%20plant.duckdb", "my plant.duckdb", {}),
        (
            "duckdb:///w.duckdb?threads=2&memory_limit=1GB",
            "w.duckdb",
            {
                "threads": "2",
                "memory_limit": "1GB",
            },
        ),
    ],
)
def test_url_parsing(url: str, path: str, config: dict[str, str]) -> None:
    assert parse_url(url) == (path, config)


def test_a_url_with_a_host_is_refused() -> None:
    with pytest.raises(ConfigError, match="names a host"):
        parse_url("duckdb://server/werk.duckdb")


def test_relative_path_and_parent_directories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("duckdb:///var/deep/werk.duckdb")
    assert isinstance(store, DuckDBStore)
    store.write(SampleBatch.of("a", [T0], [1.0]))
    store.close()
    assert (tmp_path / "var" / "deep" / "werk.duckdb").is_file()


def test_in_memory_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for url in ("duckdb://", "duckdb:///:memory:"):
        store = open_store(url)
        assert store.write(SampleBatch.of("a", [T0], [1.0])) == 1
        store.close()
    assert list(tmp_path.iterdir()) == []


def test_settings_from_the_query(tmp_path: Path) -> None:
    store = DuckDBStore.from_url(f"duckdb:///{tmp_path}/w.duckdb?threads=1")
    with store._cursor() as cur:
        assert cur.execute("SELECT current_setting('threads')").fetchone() == (1,)
    store.close()
    with pytest.raises(ConfigError, match="no_such_setting"):
        DuckDBStore.from_url(f"duckdb:///{tmp_path}/w.duckdb?no_such_setting=1")


def test_schema(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    DuckDBStore(path).close()
    with duckdb.connect(str(path)) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_name IN ('signals', 'samples') ORDER BY table_name, ordinal_position"
        ).fetchall()
        keys = conn.execute(
            "SELECT table_name FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY'"
        ).fetchall()
    assert columns == [
        ("samples", "signal_id", "INTEGER"),
        ("samples", "ts", "BIGINT"),
        ("samples", "value", "DOUBLE"),
        ("samples", "quality", "UTINYINT"),
        ("signals", "id", "INTEGER"),
        ("signals", "name", "VARCHAR"),
    ]
    assert ("samples",) not in keys  # no ART index on the big table: write() dedupes itself


def test_a_file_locked_by_another_process_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "locked.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb,time; c=duckdb.connect({str(path)!r});"
            "print('ready', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as info:
            DuckDBStore(path)
        assert isinstance(info.value.__cause__, duckdb.IOException)
        assert time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.communicate()  # reaps it and closes the pipe


def test_a_closed_store_raises_store_error(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "w.duckdb")
    store.close()
    store.close()  # twice is fine
    with pytest.raises(StoreError, match="closed"):
        store.write(SampleBatch.of("a", [T0], [1.0]))
    with pytest.raises(StoreError, match="closed"):
        store.read("a", 0, T0)


def test_a_failed_write_rolls_back_and_forgets_new_signals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = DuckDBStore(tmp_path / "w.duckdb")
    batch = SampleBatch.of("fresh", T0 + np.arange(10), np.arange(10.0))
    for statement in ("_INSERT_NEW", "_APPEND"):
        monkeypatch.setattr(duckdb_module, statement, "INSERT INTO no_such_table VALUES (1)")
    with pytest.raises(StoreError) as info:
        store.write(batch)
    assert isinstance(info.value.__cause__, duckdb.Error)
    monkeypatch.undo()
    assert store.count() == 0
    # The key given inside the failed transaction is gone with it; the name gets a real one now.
    assert store.write(batch) == 10
    assert store.signal_names() == ["fresh"]
    assert store.latest() == {"fresh": (T0 + 9, 9.0, 0)}
    store.close()


def test_write_inserts_only_rows_missing_in_the_batch_time_range(tmp_path: Path) -> None:
    """Redelivery of a batch older than everything stored (a store-and-forward backlog)."""
    store = DuckDBStore(tmp_path / "w.duckdb")
    old = SampleBatch.of("a", T0 + np.arange(100), np.arange(100.0))
    new = SampleBatch.of("a", T0 + 1_000 + np.arange(100), np.arange(100.0))
    assert store.write(new) == 100
    assert store.write(old) == 100
    assert store.write(SampleBatch.concat([old, new])) == 0
    assert store.count() == 200
    store.close()


def test_a_file_without_the_summary_tables_gets_them_built(tmp_path: Path) -> None:
    """Files of the first version (no ``sample_minutes``, no ``signal_latest``) still work."""
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute(
            "CREATE SEQUENCE signal_ids;"
            "CREATE TABLE signals (id INTEGER PRIMARY KEY DEFAULT nextval('signal_ids'),"
            " name VARCHAR NOT NULL UNIQUE);"
            "CREATE TABLE samples (signal_id INTEGER NOT NULL, ts BIGINT NOT NULL,"
            " value DOUBLE NOT NULL, quality UTINYINT NOT NULL);"
            "INSERT INTO signals (name) VALUES ('press.force');"
            f"INSERT INTO samples VALUES (1, {T0}, 1.0, 0), (1, {T0 + 10**9}, 3.0, 0),"
            f" (1, {T0 + 2 * 10**9}, 99.0, 2)"
        )
    store = DuckDBStore(path)
    assert store.latest() == {"press.force": (T0 + 2 * 10**9, 99.0, 2)}
    minute = 60 * 10**9
    rollup = store.rollup(None, T0 - T0 % minute, T0 + 2 * minute, minute)
    assert rollup.mean.tolist() == [2.0] and rollup.count.tolist() == [2]
    assert store.write(SampleBatch.of("press.speed", [T0], [5.0])) == 1
    assert store.signal_names() == ["press.force", "press.speed"]
    store.close()

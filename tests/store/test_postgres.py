"""PostgreSQL specifics: URLs, schema, binary COPY, errors, pool (the rules: tests/contracts)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import numpy as np
import psycopg
import pytest

from werk.core import ConfigError, SampleBatch, StoreError, StoreUnavailable
from werk.store import open_store, postgres
from werk.store.postgres import PostgresStore, decode_copy, encode_copy, parse_url

T0 = 1_764_000_000_000_000_000


@pytest.fixture
def store(postgres_url: str) -> Iterator[PostgresStore]:
    opened = PostgresStore.from_url(postgres_url)
    yield opened
    opened.close()


def _schema_of(url: str) -> str:
    schema = parse_url(url)[1]
    assert schema
    return schema


def _server(url: str) -> str:
    """The URL without ``?schema=``: for side connections that look behind the store's back."""
    return parse_url(url)[0]


# -- without a server ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "conninfo", "schema"),
    [
        ("postgresql://u@h:5433/db", "postgresql://u@h:5433/db", None),
        ("postgresql://u@h/db?schema=werk", "postgresql://u@h/db", "werk"),
        (
            "postgres://u:pw@h/db?sslmode=disable&schema=plant_7&application_name=werk",
            "postgres://u:pw@h/db?sslmode=disable&application_name=werk",
            "plant_7",
        ),
    ],
)
def test_url_parsing(url: str, conninfo: str, schema: str | None) -> None:
    assert parse_url(url) == (conninfo, schema)


def test_an_empty_schema_is_refused() -> None:
    with pytest.raises(ConfigError, match="schema"):
        parse_url("postgresql://h/db?schema=")


def test_a_bad_url_is_a_config_error_that_hides_the_password() -> None:
    with pytest.raises(ConfigError) as info:
        PostgresStore.from_url("postgresql://u:secret@h/db?no_such_option=1")
    assert "no_such_option" in str(info.value)
    assert "secret" not in str(info.value)


def test_an_unreachable_server_is_unavailable_at_once() -> None:
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as info:
        open_store("postgresql://postgres@127.0.0.1:1/test")
    assert isinstance(info.value.__cause__, psycopg.OperationalError)
    assert time.monotonic() - started < 3


def test_binary_copy_round_trip() -> None:
    fields = postgres._SAMPLE_IN
    columns = {
        "signal_id": np.array([0, 1, 2**31 - 1], np.int32),
        "ts": np.array([-(2**63), 0, 2**63 - 1], np.int64),
        "value": np.array([np.nan, -np.inf, 1.5e300]),
        "quality": np.array([0, 2, 3], np.uint8),
    }
    rows = decode_copy(b"".join(encode_copy(fields, columns)), fields)
    for name, column in columns.items():
        np.testing.assert_array_equal(rows[name].astype(column.dtype), column)
    empty = {name: column[:0] for name, column in columns.items()}
    assert len(decode_copy(b"".join(encode_copy(fields, empty)), fields)) == 0


def test_binary_copy_with_a_null_is_refused() -> None:
    fields = (("ts", ">i8"),)
    data = b"".join(encode_copy(fields, {"ts": np.array([1, 2], np.int64)}))
    # The first row's field becomes NULL: size -1 and no value bytes (header 19, count 2).
    nulled = data[:21] + (-1).to_bytes(4, "big", signed=True) + data[33:]
    with pytest.raises(StoreError, match="NULL"):
        decode_copy(nulled, fields)


# -- against the server ----------------------------------------------------------------------------


def test_tables_go_into_the_schema_of_the_url(store: PostgresStore, postgres_url: str) -> None:
    schema = _schema_of(postgres_url)
    with psycopg.connect(_server(postgres_url)) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema]
        ).fetchall()
        indexes = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = 'samples'",
            [schema],
        ).fetchall()
    assert sorted(t for (t,) in tables) == ["events", "samples", "signals"]
    definitions = " ".join(d for (d,) in indexes)
    assert "USING btree (signal_id, ts)" in definitions
    assert "USING brin (ts)" in definitions


def test_a_missing_schema_is_created(postgres_url: str) -> None:
    server = _server(postgres_url)
    schema = f"werk_new_{uuid.uuid4().hex[:8]}"
    try:
        store = PostgresStore.from_url(f"{server}?schema={schema}")
        assert store.write(SampleBatch.of("a", [T0], [1.0])) == 1
        store.close()
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_database_errors_become_store_errors(store: PostgresStore, postgres_url: str) -> None:
    store.write(SampleBatch.of("a", [T0], [1.0]))
    with psycopg.connect(_server(postgres_url), autocommit=True) as conn:
        conn.execute(f'DROP TABLE "{_schema_of(postgres_url)}".samples')
    with pytest.raises(StoreError) as info:
        store.count()
    assert not isinstance(info.value, StoreUnavailable)
    assert isinstance(info.value.__cause__, psycopg.errors.UndefinedTable)


def test_a_killed_connection_is_unavailable_once_then_replaced(
    store: PostgresStore, postgres_url: str
) -> None:
    store.write(SampleBatch.of("a", [T0], [1.0]))
    with store._pool.connection() as pooled:  # the one idle connection the next call gets
        pid = pooled.info.backend_pid
    with psycopg.connect(_server(postgres_url), autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", [pid])
    with pytest.raises(StoreUnavailable):
        store.count()
    assert store.count() == 1  # the broken connection was dropped, a fresh one serves


def test_a_failed_write_rolls_back_and_forgets_new_signals(
    store: PostgresStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = SampleBatch.of("fresh", T0 + np.arange(10), np.arange(10.0))
    monkeypatch.setattr(postgres, "_COPY_HEADER", b"not a copy header")
    with pytest.raises(StoreError) as info:
        store.write(batch)
    assert isinstance(info.value.__cause__, psycopg.Error)
    monkeypatch.undo()
    assert store.count() == 0
    assert store.write(batch) == 10
    assert store.signal_names() == ["fresh"]


def test_stores_sharing_a_schema_share_signal_keys(postgres_url: str) -> None:
    """Two workers (processes, here two stores) writing and reading the same tables."""
    first, second = PostgresStore.from_url(postgres_url), PostgresStore.from_url(postgres_url)
    try:
        assert first.write(SampleBatch.of("a", [T0, T0 + 1], [1.0, 2.0])) == 2
        assert second.write(SampleBatch.from_columns(["b", "a"], [T0, T0 + 1], [3.0, 9.0])) == 1
        assert second.read("a", 0, 2 * T0).values.tolist() == [1.0, 2.0]
        rollup = first.rollup(None, 0, 2 * T0, 10)
        assert rollup.names == ("a", "b")
        assert rollup.count.tolist() == [2, 1]
        assert first.latest() == {"a": (T0 + 1, 2.0, 0), "b": (T0, 3.0, 0)}
    finally:
        first.close()
        second.close()

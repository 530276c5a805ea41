import gzip

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tests.ingest.conftest import NOW, T0, S
from werk.core import Quality, ValidationError
from werk.ingest import IngestResult, file_rows, iter_file

TEMP, PRESSURE, SPEED = "press1.temp", "press1.pressure", "line.speed"


def write(path, text: str):
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def load(path, catalog, **options) -> tuple[list[IngestResult], IngestResult]:
    options.setdefault("now_ns", NOW)
    chunks = list(iter_file(path, catalog, **options))
    total = IngestResult.empty()
    for chunk in chunks:
        total = total.merge(chunk)
    return chunks, total


def refused(result):
    return [(e.row, e.rule) for e in result.errors]


LONG = f"""signal,timestamp,value,quality
{TEMP},2026-11-24T10:00:00Z,20.5,good
{TEMP},2026-11-24T10:00:01Z,abc,good
nope,2026-11-24T10:00:02Z,1,good
{SPEED},{T0},55,
{TEMP},2026-11-24T10:00:01Z,,bad
{TEMP},2026-11-24T10:00:01Z,21,good
{SPEED},2026-11-24T10:00:00,1,good
{TEMP},2026-11-24T10:00:02Z,NaN,stale
{TEMP},2026-11-24T10:00:03Z,1,sparkly
"""


@pytest.mark.parametrize("name", ["samples.csv", "samples.csv.gz", "SAMPLES.CSV"])
def test_long_csv(tmp_path, catalog, name):
    _, total = load(write(tmp_path / name, LONG), catalog)
    # Rows are 1-based data rows: the header is not counted.
    assert refused(total) == [
        (2, "type"),
        (3, "unknown-signal"),
        (6, "duplicate-timestamp"),
        (7, "timezone"),
        (9, "quality"),
    ]
    kept = [(s, (t - T0) // S, q) for s, t, _, q in total.batch.rows()]
    assert kept == [
        (TEMP, 0, 0),
        (SPEED, 0, 0),
        (TEMP, 1, Quality.BAD),
        (TEMP, 2, Quality.STALE),
    ]
    assert (total.rows, total.accepted) == (9, 4)


def test_long_parquet_with_native_types(tmp_path, catalog):
    table = pa.table(
        {
            "signal": pa.array([TEMP, SPEED, TEMP, "nope"]).dictionary_encode(),
            "timestamp": pa.array([T0, T0, T0 - S, T0], pa.timestamp("ns", "UTC")),
            "value": pa.array([20.0, 500.0, 1.0, 2.0]),
            "quality": pa.array([0, 0, 0, 0], pa.uint8()),
        }
    )
    for suffix in (".parquet", ".pq"):
        pq.write_table(table, tmp_path / f"s{suffix}")
        _, total = load(tmp_path / f"s{suffix}", catalog)
        assert refused(total) == [(3, "non-monotonic-timestamp"), (4, "unknown-signal")]
        assert total.warnings == {"out-of-range": 1}  # line.speed goes up to 120
        assert total.batch.for_signal(SPEED).quality.tolist() == [Quality.UNCERTAIN]


def test_wide_csv(tmp_path, catalog):
    text = f"""timestamp,{TEMP},{SPEED},nope
2026-11-24T10:00:00Z,20,50,
2026-11-24T10:00:01Z,,51,
2026-11-24T10:00:01Z,x,,
bad,21,52,1
"""
    _, total = load(write(tmp_path / "wide.csv", text), catalog)
    # Within a row, errors come in column order.
    assert refused(total) == [
        (3, "type"),  # TEMP "x"
        (4, "type"),  # TEMP: bad timestamp
        (4, "type"),  # SPEED: bad timestamp
        (4, "unknown-signal"),  # the nope cell
    ]
    assert [e.signal for e in total.errors] == [TEMP, TEMP, SPEED, "nope"]
    assert [e.field for e in total.errors] == ["value", "timestamp", "timestamp", "signal"]
    kept = sorted((s, (t - T0) // S, v) for s, t, v, _ in total.batch.rows())
    assert kept == [(SPEED, 0, 50.0), (SPEED, 1, 51.0), (TEMP, 0, 20.0)]
    # rows are file rows; samples are the non-empty cells.
    assert (total.rows, total.submitted, total.accepted) == (4, 7, 3)


def test_wide_parquet_with_mixed_column_types(tmp_path, catalog):
    table = pa.table(
        {
            "timestamp": pa.array([T0, T0 + S], pa.int64()),
            TEMP: pa.array([20.0, None]),
            SPEED: pa.array([5, 6], pa.int32()),
        }
    )
    pq.write_table(table, tmp_path / "wide.parquet")
    _, total = load(tmp_path / "wide.parquet", catalog)
    assert total.errors == [] and (total.rows, total.submitted) == (2, 3)
    assert total.batch.for_signal(SPEED).values.tolist() == [5.0, 6.0]


def test_semicolons_tabs_and_byte_order_mark(tmp_path, catalog):
    for name, text in [
        ("semi.csv", f"signal;timestamp;value\n{TEMP};{T0};1.5\n"),
        ("tab.csv", f"signal\ttimestamp\tvalue\n{TEMP}\t{T0}\t1.5\n"),
        ("bom.csv", f"\ufeffsignal,timestamp,value\n{TEMP},{T0},1.5\n"),
    ]:
        _, total = load(write(tmp_path / name, text), catalog)
        assert list(total.batch.rows()) == [(TEMP, T0, 1.5, 0)], name


def test_a_file_not_in_utf8_says_so(tmp_path, catalog):
    (tmp_path / "latin.csv").write_bytes(
        f"signal,timestamp,value\n{TEMP},{T0},1\xb0\n".encode("latin-1")
    )
    with pytest.raises(ValidationError, match="UTF-8") as caught:
        list(iter_file(tmp_path / "latin.csv", catalog))
    assert (caught.value.field, caught.value.rule) == ("path", "format")


def test_one_signal_file(tmp_path, catalog):
    text = "Timestamp,Value,Quality\n2026-11-24T10:00:00Z,1,good\n2026-11-24T10:00:01Z,2,bad\n"
    _, total = load(write(tmp_path / "one.csv", text), catalog, signal=TEMP)
    assert list(total.batch.rows()) == [(TEMP, T0, 1.0, 0), (TEMP, T0 + S, 2.0, Quality.BAD)]
    text = "timestamp,celsius\n2026-11-24T10:00:00Z,1\n"
    _, total = load(write(tmp_path / "named.csv", text), catalog, signal=TEMP)
    assert list(total.batch.rows()) == [(TEMP, T0, 1.0, 0)]


def test_order_is_kept_across_chunks(tmp_path, catalog):
    lines = ["signal,timestamp,value"]
    lines += [f"{TEMP},{T0 + i},{i}" for i in range(10)]
    lines += [
        f"{TEMP},{T0 + 4},99",
        f"{SPEED},{T0},1",
        f"{TEMP},{T0 + 9},98",
        f"{TEMP},{T0 + 10},10",
    ]
    chunks, total = load(write(tmp_path / "c.csv", "\n".join(lines) + "\n"), catalog, chunk_rows=4)
    assert [c.rows for c in chunks] == [4, 4, 4, 2]
    # Row 11 and 13 come chunks after the rows they collide with.
    assert refused(total) == [(11, "non-monotonic-timestamp"), (13, "duplicate-timestamp")]
    assert [e.row for e in chunks[2].errors] == [11]
    assert [e.row for e in chunks[3].errors] == [13]
    assert total.batch.for_signal(TEMP).timestamps.tolist() == [T0 + i for i in range(11)]


def test_order_is_kept_across_parquet_row_groups(tmp_path, catalog):
    table = pa.table(
        {
            "signal": [TEMP] * 6,
            "timestamp": [T0 + t for t in (1, 2, 3, 3, 2, 4)],
            "value": [0.0] * 6,
        }
    )
    pq.write_table(table, tmp_path / "g.parquet", row_group_size=2)
    chunks, total = load(tmp_path / "g.parquet", catalog, chunk_rows=3)
    assert [c.rows for c in chunks] == [3, 3]
    assert refused(total) == [(4, "duplicate-timestamp"), (5, "non-monotonic-timestamp")]


def test_malformed_csv_records_are_rows_too(tmp_path, catalog):
    text = f"""signal,timestamp,value
{TEMP},{T0},1
{TEMP},{T0 + 1}
{TEMP},{T0 + 2},3,extra
{TEMP},{T0 + 3},4
{TEMP},{T0 + 3},5
{TEMP},{T0 + 5},6,7
"""
    chunks, total = load(write(tmp_path / "m.csv", text), catalog, chunk_rows=2)
    assert refused(total) == [
        (2, "columns"),
        (3, "columns"),
        (5, "duplicate-timestamp"),
        (6, "columns"),
    ]
    assert total.errors[0].field == "row" and "expected 3 fields, got 2" in total.errors[0].message
    assert (total.rows, total.accepted, total.rejected) == (6, 2, 4)
    assert sum(c.rows for c in chunks) == 6


def test_chunks_hold_chunk_rows(tmp_path, catalog):
    n = 25_001
    table = pa.table(
        {
            "signal": [SPEED] * n,
            "timestamp": pa.array(T0 + np.arange(n) * 1000, pa.int64()),
            "value": np.arange(n) % 100,
        }
    )
    pacsv.write_csv(table, tmp_path / "big.csv")
    chunks, total = load(tmp_path / "big.csv", catalog, chunk_rows=10_000)
    assert [c.rows for c in chunks] == [10_000, 10_000, 5_001]
    assert total.accepted == n and total.errors == []


def test_a_large_csv_imports_whole(tmp_path, catalog):
    # Vectorisation sanity: 500k rows go through the columnar path (a per-row Python loop would
    # take minutes). No timing assertion: timings belong in benchmarks, not in tests.
    n = 500_000
    i = np.arange(n)
    seconds = pa.array(T0 - n * S + i * S, pa.timestamp("ns", "UTC"))
    values = (i % 100).astype(str).astype(object)
    values[i % 100_000 == 7] = "n/a"
    table = pa.table(
        {
            "signal": np.array([TEMP, PRESSURE, SPEED])[i % 3],
            "timestamp": pa.compute.strftime(seconds, "%Y-%m-%dT%H:%M:%SZ"),
            "value": values.astype(str),
            "quality": np.where(i % 1000 == 0, "bad", "good"),
        }
    )
    pacsv.write_csv(table, tmp_path / "large.csv")
    total = IngestResult.empty()
    for chunk in iter_file(tmp_path / "large.csv", catalog, now_ns=NOW):
        total = total.merge(chunk, keep_batch=False, max_errors=3)
    assert (total.rows, total.accepted, total.rejected) == (n, n - 5, 5)
    assert [(e.row, e.rule) for e in total.errors] == [
        (8, "type"),
        (100_008, "type"),
        (200_008, "type"),
    ]
    assert total.left_out == {"type": 2}


def test_file_rows(tmp_path, catalog):
    pq.write_table(pa.table({"timestamp": [T0] * 7, TEMP: [1.0] * 7}), tmp_path / "r.parquet")
    assert file_rows(tmp_path / "r.parquet") == 7
    small = write(tmp_path / "small.csv", "timestamp,a\n1,2\n3,4\n5,6")
    assert file_rows(small) == 3
    row = f"{TEMP},2026-11-24T10:00:00.000000000Z,12.5\n"
    many = "signal,timestamp,value\n" + row * 200_000
    for name in ("many.csv", "many.csv.gz"):
        estimate = file_rows(write(tmp_path / name, many))
        assert estimate is not None and abs(estimate - 200_000) < 20_000, name
    assert file_rows(tmp_path / "absent.csv") is None
    assert file_rows(tmp_path / "x.json") is None


@pytest.mark.parametrize(
    ("name", "text", "field", "rule"),
    [
        ("s.json", "{}", "path", "format"),
        ("s.csv", "", "path", "empty"),
        ("s.csv", "signal,timestamp,value\n", "path", "empty"),
        ("s.csv", "signal,time,value\na,1,2\n", "timestamp", "required"),
        ("s.csv", "signal,timestamp\na,1\n", "value", "required"),
        ("s.csv", "timestamp,value\n1,2\n", "signal", "required"),
        ("s.csv", "timestamp\n1\n", "value", "required"),
    ],
)
def test_files_that_cannot_be_imported(tmp_path, catalog, name, text, field, rule):
    path = write(tmp_path / name, text)
    with pytest.raises(ValidationError) as caught:
        iter_file(path, catalog)  # raises on the call, before the first chunk
    assert (caught.value.field, caught.value.rule) == (field, rule)


def test_missing_file_and_conflicting_signal(tmp_path, catalog):
    with pytest.raises(ValidationError) as caught:
        iter_file(tmp_path / "absent.parquet", catalog)
    assert caught.value.rule == "not-found"
    with pytest.raises(ValidationError) as caught:
        iter_file(tmp_path / "absent.csv", catalog)
    assert caught.value.rule == "not-found"
    long = write(tmp_path / "long.csv", "signal,timestamp,value\na,1,2\n")
    with pytest.raises(ValidationError) as caught:
        iter_file(long, catalog, signal=TEMP)
    assert caught.value.field == "signal"


def test_empty_and_broken_parquet(tmp_path, catalog):
    empty = pa.table({"signal": pa.array([], pa.string()), "timestamp": pa.array([], pa.int64())})
    pq.write_table(empty, tmp_path / "e.parquet")
    with pytest.raises(ValidationError) as caught:
        iter_file(tmp_path / "e.parquet", catalog)
    assert caught.value.rule == "empty"
    (tmp_path / "b.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(ValidationError) as caught:
        iter_file(tmp_path / "b.parquet", catalog)
    assert (caught.value.field, caught.value.rule) == ("path", "format")

import json
import math

import pyarrow as pa
import pytest

from tests.ingest.conftest import NOW, T0, S
from werk.core import Quality, ValidationError
from werk.ingest import decode_arrow, decode_json

TEMP, SPEED = "press1.temp", "line.speed"


def body(document) -> bytes:
    return json.dumps(document).encode()


def refused(result):
    return [(e.row, e.rule) for e in result.errors]


def test_json_rows(catalog):
    samples = [
        {"signal": TEMP, "timestamp": "2026-11-24T10:00:00Z", "value": 21.5, "quality": "good"},
        {"signal": TEMP, "timestamp": T0 + S, "value": 22},
        {"signal": SPEED, "timestamp": "2026-11-24T10:00:00Z", "value": None, "quality": "bad"},
        {"signal": "press9.temp", "timestamp": T0, "value": 1.0},
        {"signal": TEMP, "timestamp": "2026-11-24T10:00:02", "value": 1.0},
        {"signal": TEMP, "timestamp": T0 + 2 * S, "value": "hot"},
        {"signal": TEMP, "timestamp": T0 + 3 * S, "value": 1.0, "quality": "perfect"},
        {"signal": TEMP, "timestamp": T0 + S, "value": 1.0},
        {"signal": TEMP, "timestamp": T0 + 4 * S, "value": 1.0, "note": "ignored"},
    ]
    result = decode_json(body({"samples": samples}), catalog, now_ns=NOW)
    assert refused(result) == [
        (3, "unknown-signal"),
        (4, "timezone"),
        (5, "type"),
        (6, "quality"),
        (7, "duplicate-timestamp"),
    ]
    assert result.rows == 9 and result.accepted == 4
    kept = [(s, t - T0, q) for s, t, _, q in result.batch.rows()]
    assert kept == [(TEMP, 0, 0), (TEMP, S, 0), (SPEED, 0, Quality.BAD), (TEMP, 4 * S, 0)]
    assert math.isnan(result.batch.for_signal(SPEED).values[0])


def test_json_rows_that_are_not_objects_are_reported_in_place(catalog):
    samples = [{"signal": TEMP, "timestamp": T0, "value": 1}, 42, {"signal": "x"}, [1, 2]]
    result = decode_json(body({"samples": samples}), catalog, now_ns=NOW)
    assert refused(result) == [(1, "type"), (2, "unknown-signal"), (3, "type")]
    assert result.errors[0].field == "sample"
    assert (result.rows, result.accepted, result.rejected) == (4, 1, 3)


def test_json_columnar(catalog):
    document = {
        "signal": TEMP,
        "timestamps": ["2026-11-24T10:00:00Z", T0 + S, T0 + S, "bad"],
        "values": [1.0, 2.0, 3.0, 4.0],
    }
    result = decode_json(body(document), catalog, now_ns=NOW)
    assert refused(result) == [(2, "duplicate-timestamp"), (3, "type")]
    assert result.batch.values.tolist() == [1.0, 2.0]


def test_json_columnar_quality_one_or_per_sample(catalog):
    document = {"signal": TEMP, "timestamps": [T0, T0 + 1], "values": [None, 1.0]}
    one = decode_json(body({**document, "quality": "stale"}), catalog, now_ns=NOW)
    assert one.batch.quality.tolist() == [Quality.STALE] * 2
    each = decode_json(body({**document, "quality": ["bad", "good"]}), catalog, now_ns=NOW)
    assert each.errors == [] and each.batch.quality.tolist() == [Quality.BAD, 0]
    plain = decode_json(body(document), catalog, now_ns=NOW)
    assert refused(plain) == [(0, "not-finite")]


def test_json_accepts_its_nan_literal_only_with_bad_quality(catalog):
    raw = b'{"samples": [{"signal": "press1.temp", "timestamp": 1795514400000000000,'
    raw += b' "value": NaN, "quality": "bad"}, {"signal": "line.speed",'
    raw += b' "timestamp": 1795514400000000000, "value": Infinity}]}'
    result = decode_json(raw, catalog, now_ns=NOW)
    assert refused(result) == [(1, "not-finite")]
    assert len(result.batch) == 1


@pytest.mark.parametrize(
    ("raw", "field", "rule"),
    [
        (b"{not json", "body", "json"),
        (b"\xff\xfe\x00garbage", "body", "json"),
        (b"", "body", "json"),
        (b"[1, 2]", "body", "shape"),
        (b"{}", "body", "shape"),
        (b'{"samples": {"signal": "a"}}', "samples", "shape"),
        (b'{"samples": [], "extra": 1}', "extra", "unknown-field"),
        (b'{"signal": 5, "timestamps": [], "values": []}', "signal", "type"),
        (b'{"signal": "a", "values": []}', "timestamps", "required"),
        (b'{"signal": "a", "timestamps": 1, "values": []}', "timestamps", "shape"),
        (b'{"signal": "a", "timestamps": [1, 2], "values": [1]}', "values", "length"),
        (
            b'{"signal": "a", "timestamps": [1], "values": [1], "quality": [0, 0]}',
            "quality",
            "length",
        ),
        (b'{"signal": "a", "timestamps": [1], "values": [1], "quality": {}}', "quality", "shape"),
        (
            b'{"signal": "a", "timestamps": [1], "values": [1], "qualities": []}',
            "qualities",
            "unknown-field",
        ),
        (b"[" * 100_000 + b"]" * 100_000, "body", "json"),
    ],
)
def test_json_that_cannot_be_read_is_refused_whole(catalog, raw, field, rule):
    with pytest.raises(ValidationError) as caught:
        decode_json(raw, catalog, now_ns=NOW)
    assert (caught.value.field, caught.value.rule) == (field, rule)
    assert str(caught.value)


def test_json_row_limit(catalog):
    samples = [{"signal": TEMP, "timestamp": T0 + i, "value": 1} for i in range(11)]
    with pytest.raises(ValidationError) as caught:
        decode_json(body({"samples": samples}), catalog, max_rows=10)
    assert (caught.value.field, caught.value.rule) == ("samples", "max-rows")
    columnar = {"signal": TEMP, "timestamps": list(range(11)), "values": [0] * 11}
    with pytest.raises(ValidationError, match="at most 10"):
        decode_json(body(columnar), catalog, max_rows=10)


def test_json_options_reach_validation(catalog):
    document = {"signal": TEMP, "timestamps": [T0, T0 + 1], "values": [20, 999]}
    result = decode_json(body(document), catalog, now_ns=NOW, reject_out_of_range=True)
    assert refused(result) == [(1, "out-of-range")]
    result = decode_json(body(document), catalog, now_ns=T0 - 10 * S, max_future_s=1)
    assert refused(result) == [(0, "timestamp-range"), (1, "timestamp-range")]


def arrow_body(table: pa.Table, file_format: bool = False) -> bytes:
    sink = pa.BufferOutputStream()
    opener = pa.ipc.new_file if file_format else pa.ipc.new_stream
    with opener(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=2):  # several record batches
            writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def test_arrow_round_trip(catalog):
    table = pa.table(
        {
            "signal": pa.array([TEMP, SPEED, TEMP, "nope", TEMP]).dictionary_encode(),
            "timestamp": pa.array(
                [T0 // 1000, T0 // 1000, T0 // 1000 + 1, T0 // 1000, T0 // 1000 - 1],
                pa.timestamp("us", "UTC"),
            ),
            "value": pa.array([20.5, 60.0, None, 1.0, 3.0]),
            "quality": pa.array([0, 0, 2, 0, 0], pa.uint8()),
        }
    )
    result = decode_arrow(arrow_body(table), catalog, now_ns=NOW)
    assert refused(result) == [(3, "unknown-signal"), (4, "non-monotonic-timestamp")]
    rows = list(result.batch.rows())
    assert [(s, t - T0, q) for s, t, _, q in rows] == [
        (TEMP, 0, 0),
        (SPEED, 0, 0),
        (TEMP, 1000, Quality.BAD),
    ]


def test_arrow_int_ns_string_quality_and_file_format(catalog):
    table = pa.table(
        {
            "signal": pa.array([TEMP, TEMP], pa.large_string()),
            "timestamp": pa.array([T0, T0 + 1], pa.int64()),
            "value": pa.array([1, 2], pa.int32()),
            "quality": ["good", "uncertain"],
            "extra": [1, 2],
        }
    )
    for file_format in (False, True):
        result = decode_arrow(arrow_body(table, file_format), catalog, now_ns=NOW)
        assert result.errors == []
        assert list(result.batch.rows()) == [(TEMP, T0, 1.0, 0), (TEMP, T0 + 1, 2.0, 1)]


def test_arrow_without_quality_is_good(catalog):
    table = pa.table({"signal": [TEMP], "timestamp": [T0], "value": [1.0]})
    assert decode_arrow(arrow_body(table), catalog, now_ns=NOW).batch.quality.tolist() == [0]


@pytest.mark.parametrize("missing", ["signal", "timestamp", "value"])
def test_arrow_missing_column_is_named(catalog, missing):
    columns = {"signal": [TEMP], "timestamp": [T0], "value": [1.0]}
    del columns[missing]
    with pytest.raises(ValidationError, match=f"no '{missing}' column") as caught:
        decode_arrow(arrow_body(pa.table(columns)), catalog)
    assert (caught.value.field, caught.value.rule) == (missing, "required")


def test_arrow_garbage_and_wrong_types(catalog):
    with pytest.raises(ValidationError) as caught:
        decode_arrow(b"definitely not arrow", catalog)
    assert (caught.value.field, caught.value.rule) == ("body", "arrow")
    table = pa.table({"signal": [TEMP], "timestamp": [1.5], "value": [1.0]})
    with pytest.raises(ValidationError) as caught:
        decode_arrow(arrow_body(table), catalog)
    assert (caught.value.field, caught.value.rule) == ("timestamp", "type")


def test_arrow_row_limit(catalog):
    table = pa.table({"signal": [TEMP] * 3, "timestamp": [T0, T0 + 1, T0 + 2], "value": [1.0] * 3})
    with pytest.raises(ValidationError) as caught:
        decode_arrow(arrow_body(table), catalog, max_rows=2)
    assert caught.value.rule == "max-rows"

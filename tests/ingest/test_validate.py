import math

import numpy as np
import pyarrow as pa
import pytest

from tests.ingest.conftest import NOW, T0, S
from werk.core import Quality, SignalCatalog, ValidationError
from werk.ingest import validate_columns

TEMP, PRESSURE, SPEED = "press1.temp", "press1.pressure", "line.speed"


def check(catalog, signals, timestamps, values, quality=None, **options):
    options.setdefault("now_ns", NOW)
    return validate_columns(signals, timestamps, values, quality, catalog, **options)


def refused(result):
    return [(e.row, e.rule) for e in result.errors]


def test_clean_columns_are_all_kept(catalog):
    result = check(catalog, [TEMP, SPEED, TEMP], [T0, T0, T0 + S], [20.0, 50.0, 21.0])
    assert result.errors == [] and result.rows == 3 and result.accepted == 3
    assert sorted(result.batch.rows()) == [
        (SPEED, T0, 50.0, 0),
        (TEMP, T0, 20.0, 0),
        (TEMP, T0 + S, 21.0, 0),
    ]


def test_unknown_and_missing_signal_keep_the_rows_around_them(catalog):
    result = check(catalog, [TEMP, "press9.temp", None, TEMP], [T0, T0, T0, T0 + S], [1, 2, 3, 4])
    assert refused(result) == [(1, "unknown-signal"), (2, "unknown-signal")]
    assert result.errors[0].signal == "press9.temp" and "press9.temp" in result.errors[0].message
    assert result.errors[1].signal is None and result.errors[1].field == "signal"
    assert [r[1] for r in result.batch.rows()] == [T0, T0 + S]
    assert result.batch.names == (TEMP,)  # only names that kept samples


def test_first_row_offsets_row_numbers(catalog):
    result = check(catalog, [TEMP, "nope"], [T0, T0], [1, 2], first_row=1000)
    assert refused(result) == [(1001, "unknown-signal")]


def test_timestamp_forms(catalog):
    timestamps = [
        "2026-11-24T10:00:00Z",
        "2026-11-24T11:00:00.000000001+01:00",  # offset, nanoseconds kept
        T0 + 2,
        "2026-11-24 10:00:00.000000003z",
        str(T0 + 4),  # integer ns as text
    ]
    result = check(catalog, TEMP, timestamps, [1, 2, 3, 4, 5])
    assert result.errors == []
    assert result.batch.timestamps.tolist() == [T0, T0 + 1, T0 + 2, T0 + 3, T0 + 4]


def test_unreadable_naive_and_missing_timestamps(catalog):
    timestamps = ["2026-11-24T10:00:00Z", "yesterday", "2026-11-24T10:00:05", None, 1.5e18, T0 + S]
    result = check(catalog, TEMP, timestamps, [1, 2, 3, 4, 5, 6])
    assert refused(result) == [(1, "type"), (2, "timezone"), (3, "type"), (4, "type")]
    assert {e.field for e in result.errors} == {"timestamp"}
    assert "'yesterday'" in result.errors[0].message
    assert "no timezone" in result.errors[1].message
    assert result.batch.timestamps.tolist() == [T0, T0 + S]


def test_one_bad_timestamp_in_a_long_text_column_spares_the_others(catalog):
    # The fast path casts whole columns; a bad row makes it split, and the good rows that end
    # up parsed one by one must keep their nanoseconds.
    n = 1000
    text = [f"2026-11-24T10:00:00.{i:09d}Z" for i in range(n)]
    text[517] = "2026-11-24T10:00:00.000000517"  # naive
    text[900] = " 2026-11-24T10:00:00.000000900Z "  # padded: rescued
    result = check(catalog, TEMP, text, np.zeros(n))
    assert refused(result) == [(517, "timezone")]
    assert result.batch.timestamps.tolist() == [T0 + i for i in range(n) if i != 517]


def test_text_timestamps_of_every_shape_in_one_column(catalog):
    # A clean column is read by one cast; a mixed one is sorted into shapes first.
    good = [f"2026-11-24T10:00:00.{i:09d}Z" for i in range(100)]
    odd = {
        10: str(T0 + 10),  # integer ns among ISO text
        20: "2026-02-30T10:00:00Z",  # ISO-shaped, no such day
        30: "99999999999999999999",  # integer-shaped, beyond int64
        40: "2026-11-24T10:00:00.000000040z",  # lower-case zone: rescued
        50: "2026-11-24T10:00:00",  # naive
        60: None,
        70: "10:00",
    }
    column = [odd.get(i, text) for i, text in enumerate(good)]
    result = check(catalog, TEMP, pa.array(column), np.ones(100))
    assert refused(result) == [
        (20, "type"),
        (30, "timestamp-range"),
        (50, "timezone"),
        (60, "type"),
        (70, "type"),
    ]
    assert result.batch.timestamps.tolist() == [
        T0 + i for i in range(100) if i not in (20, 30, 50, 60, 70)
    ]


def test_timestamp_range(catalog):
    far = NOW + 86_400 * S + 1
    timestamps = [-1, T0, far, NOW + 86_400 * S, "3000-01-01T00:00:00Z", 2**70]
    result = check(catalog, TEMP, timestamps, [1, 2, 3, 4, 5, 6])
    assert refused(result) == [
        (0, "timestamp-range"),
        (2, "timestamp-range"),
        (4, "timestamp-range"),
        (5, "timestamp-range"),
    ]
    assert "before 1970" in result.errors[0].message
    assert "86400 s after now" in result.errors[1].message
    assert result.batch.timestamps.tolist() == [T0, NOW + 86_400 * S]


def test_max_future_is_configurable(catalog):
    result = check(catalog, TEMP, [NOW + 10 * S, NOW + 11 * S], [1, 2], max_future_s=10)
    assert refused(result) == [(1, "timestamp-range")]


def test_arrow_timestamps_of_any_unit_are_utc(catalog):
    seconds = T0 // S
    for unit, scale in [("s", 1), ("ms", 1_000), ("us", 1_000_000), ("ns", S)]:
        for tz in (None, "UTC", "Europe/Berlin"):
            column = pa.array(
                [seconds * scale, None, (seconds + 1) * scale], pa.timestamp(unit, tz)
            )
            result = check(catalog, TEMP, column, [1.0, 2.0, 3.0])
            assert refused(result) == [(1, "type")], (unit, tz)
            assert result.batch.timestamps.tolist() == [T0, T0 + S], (unit, tz)


def test_arrow_timestamps_beyond_int64_ns_are_out_of_range(catalog):
    column = pa.array([T0 // S, 10**12], pa.timestamp("s"))  # the second is in the year 33658
    assert refused(check(catalog, TEMP, column, [1, 2])) == [(1, "timestamp-range")]


def test_numpy_datetime64_and_unsigned_timestamps(catalog):
    moments = np.array(["2026-11-24T10:00:00", "2026-11-24T10:00:01"], "datetime64[ms]")
    assert check(catalog, TEMP, moments, [1, 2]).batch.timestamps.tolist() == [T0, T0 + S]
    unsigned = pa.array([T0, 2**64 - 1], pa.uint64())
    assert refused(check(catalog, TEMP, unsigned, [1, 2])) == [(1, "timestamp-range")]


def test_value_types(catalog):
    values = [1, 2.5, "3.5", "abc", True, {"v": 1}, " 4 "]
    result = check(catalog, TEMP, [T0 + i for i in range(7)], values)
    assert refused(result) == [(3, "type"), (5, "type")]
    assert result.errors[0].field == "value" and "'abc'" in result.errors[0].message
    assert result.batch.values.tolist() == [1.0, 2.5, 3.5, 1.0, 4.0]


def test_text_values_with_one_bad_cell(catalog):
    values = pa.array([f"{i}.25" for i in range(200)])
    values = pa.concat_arrays([values.slice(0, 150), pa.array(["n/a"]), values.slice(151)])
    result = check(catalog, TEMP, [T0 + i for i in range(200)], values)
    assert refused(result) == [(150, "type")]
    assert result.batch.values[150] == 151.25


def test_not_finite_with_good_quality_is_refused(catalog):
    values = [1.0, math.nan, math.inf, None, -math.inf, 2.0]
    result = check(catalog, TEMP, [T0 + i for i in range(6)], values)
    assert refused(result) == [
        (1, "not-finite"),
        (2, "not-finite"),
        (3, "not-finite"),
        (4, "not-finite"),
    ]
    assert "no value" in result.errors[2].message
    assert result.batch.values.tolist() == [1.0, 2.0]


def test_nan_with_bad_or_stale_quality_is_kept(catalog):
    quality = ["bad", "stale", "uncertain", "bad", "good"]
    values = [math.nan, None, math.nan, math.inf, 5.0]
    result = check(catalog, TEMP, [T0 + i for i in range(5)], values, quality)
    # NaN with uncertain would poison averages; inf is never a reading, whatever its quality.
    assert refused(result) == [(2, "not-finite"), (3, "not-finite")]
    rows = list(result.batch.rows())
    assert [(t - T0, q) for _, t, _, q in rows] == [(0, Quality.BAD), (1, Quality.STALE), (4, 0)]
    assert math.isnan(rows[0][2]) and math.isnan(rows[1][2])


def test_quality_names_codes_and_unknown(catalog):
    quality = ["good", "BAD", " Stale ", 1, "2", None, "excellent", 7, True]
    result = check(catalog, TEMP, [T0 + i for i in range(9)], np.ones(9), quality)
    assert refused(result) == [(6, "quality"), (7, "quality"), (8, "quality")]
    assert result.errors[0].field == "quality" and "'excellent'" in result.errors[0].message
    assert result.batch.quality.tolist() == [0, 2, 3, 1, 2, 0]


def test_quality_as_arrow_codes_and_one_for_all(catalog):
    codes = pa.array([0, 3, 9], pa.uint8())
    assert refused(check(catalog, TEMP, [T0, T0 + 1, T0 + 2], [1, 2, 3], codes)) == [(2, "quality")]
    result = check(catalog, TEMP, [T0, T0 + 1], [1, 2], Quality.UNCERTAIN)
    assert result.batch.quality.tolist() == [1, 1]
    assert refused(check(catalog, TEMP, [T0], [1], "shiny")) == [(0, "quality")]


def test_out_of_range_is_kept_but_flagged_uncertain(catalog):
    values = [20.0, 301.0, -25.0, 300.0]
    quality = ["good", "good", "bad", "good"]
    result = check(catalog, TEMP, [T0 + i for i in range(4)], values, quality)
    assert result.errors == []
    assert result.warnings == {"out-of-range": 2}
    assert result.batch.quality.tolist() == [0, Quality.UNCERTAIN, Quality.BAD, 0]
    assert result.to_dict()["warnings"] == {"out-of-range": 2}


def test_out_of_range_can_be_refused(catalog):
    values = [20.0, 301.0, 50.0]
    result = check(catalog, TEMP, [T0, T0 + 1, T0 + 2], values, reject_out_of_range=True)
    assert refused(result) == [(1, "out-of-range")]
    assert "[-20, 300]" in result.errors[0].message
    assert result.warnings == {}


def test_duplicate_and_earlier_timestamps_per_signal(catalog):
    signals = [TEMP, SPEED, TEMP, TEMP, SPEED, TEMP, TEMP, SPEED]
    timestamps = [10, 5, 10, 8, 5, 20, 15, 6]
    result = check(catalog, signals, [T0 + t for t in timestamps], np.ones(8))
    assert refused(result) == [
        (2, "duplicate-timestamp"),
        (3, "non-monotonic-timestamp"),
        (4, "duplicate-timestamp"),
        (6, "non-monotonic-timestamp"),
    ]
    assert result.errors[1].field == "timestamp" and result.errors[1].signal == TEMP
    kept = [(s, t - T0) for s, t, _, _ in result.batch.rows()]
    assert kept == [(TEMP, 10), (SPEED, 5), (TEMP, 20), (SPEED, 6)]


def test_only_accepted_rows_count_for_order(catalog):
    # Row 1 is refused for its value, so row 2 (same timestamp) is the first accepted one.
    result = check(catalog, TEMP, [T0, T0 + 5, T0 + 5, T0 + 3], [1, "x", 3, 4])
    assert refused(result) == [(1, "type"), (3, "non-monotonic-timestamp")]
    assert "the latest accepted sample" in result.errors[1].message


def test_order_after_an_unsorted_run_compares_with_the_running_maximum(catalog):
    timestamps = [T0 + t for t in (1, 9, 2, 3, 10, 9, 11)]
    result = check(catalog, TEMP, timestamps, np.ones(7))
    assert refused(result) == [
        (2, "non-monotonic-timestamp"),
        (3, "non-monotonic-timestamp"),
        (5, "non-monotonic-timestamp"),
    ]


def test_last_timestamps_carry_order_across_calls(catalog):
    last: dict[str, int] = {}
    first = check(catalog, [TEMP, SPEED], [T0 + 10, T0 + 10], [1, 2], last_timestamps=last)
    assert first.errors == [] and last == {TEMP: T0 + 10, SPEED: T0 + 10}
    second = check(
        catalog, [TEMP, SPEED, PRESSURE], [T0 + 10, T0 + 11, T0], [1, 2, 3], last_timestamps=last
    )
    assert refused(second) == [(0, "duplicate-timestamp")]
    assert last == {TEMP: T0 + 10, SPEED: T0 + 11, PRESSURE: T0}


def test_rows_below_the_last_timestamp_of_an_earlier_chunk_are_refused(catalog):
    last = {TEMP: T0 + 10}
    result = check(
        catalog, TEMP, [T0 + t for t in (5, 7, 10, 11, 9)], np.ones(5), last_timestamps=last
    )
    assert refused(result) == [
        (0, "non-monotonic-timestamp"),
        (1, "non-monotonic-timestamp"),
        (2, "duplicate-timestamp"),
        (4, "non-monotonic-timestamp"),
    ]
    assert "before 2026-11-24T10:00:00.000000010Z" in result.errors[1].message
    assert last == {TEMP: T0 + 11}


def test_no_future_limit(catalog):
    result = check(catalog, TEMP, [T0, 2**62], [1, 2], max_future_s=math.inf)
    assert result.errors == []


def test_each_refused_row_reports_its_first_broken_rule(catalog):
    result = check(
        catalog, ["nope", TEMP], ["naive 1", "2026-11-24T10:00:00"], ["x", "y"], ["?", 0]
    )
    assert refused(result) == [(0, "unknown-signal"), (1, "timezone")]
    assert result.rejected == 2


def test_row_numbers_map_positions_and_sort_errors(catalog):
    result = check(catalog, ["x", TEMP, "y"], [T0, T0, T0], [1, 2, 3], row_numbers=[7, 3, 5])
    assert refused(result) == [(5, "unknown-signal"), (7, "unknown-signal")]


def test_arrow_columns_chunked_and_dictionary(catalog):
    signals = pa.chunked_array(
        [pa.array([TEMP, "nope"]).dictionary_encode(), pa.array([SPEED]).dictionary_encode()]
    )
    timestamps = pa.chunked_array([[T0, T0], [T0]], pa.int64())
    values = pa.chunked_array([[1.0, 2.0], [None]])
    result = check(catalog, signals, timestamps, values, pa.array(["good", "good", "bad"]))
    assert refused(result) == [(1, "unknown-signal")]
    assert len(result.batch) == 2


def test_vectorised_path_handles_a_large_column(catalog):
    n = 300_000
    signals = np.array([TEMP, SPEED, PRESSURE])[np.arange(n) % 3]
    timestamps = T0 + np.arange(n, dtype=np.int64)
    values = np.linspace(0, 100, n)
    values[12_345] = np.nan
    timestamps[200_000] = timestamps[199_997]  # same signal (200_000 % 3 == 199_997 % 3)
    result = check(catalog, signals, timestamps, values)
    assert refused(result) == [(12_345, "not-finite"), (200_000, "duplicate-timestamp")]
    assert result.accepted == n - 2 == len(result.batch)


def test_lengths_must_match(catalog):
    with pytest.raises(ValidationError) as caught:
        check(catalog, [TEMP], [T0, T0 + 1], [1.0, 2.0])
    assert (caught.value.field, caught.value.rule) == ("signal", "length")
    with pytest.raises(ValidationError) as caught:
        check(catalog, TEMP, [T0], [1.0], [0, 0])
    assert (caught.value.field, caught.value.rule) == ("quality", "length")


def test_columns_of_unusable_types_are_refused_whole(catalog):
    with pytest.raises(ValidationError) as caught:
        check(catalog, TEMP, np.array([1.5e18]), [1.0])
    assert (caught.value.field, caught.value.rule) == ("timestamp", "type")
    with pytest.raises(ValidationError) as caught:
        check(catalog, TEMP, [T0], pa.array([[1.0]]))
    assert (caught.value.field, caught.value.rule) == ("value", "type")


def test_empty_input(catalog):
    result = check(catalog, [], [], [])
    assert result.rows == 0 and len(result.batch) == 0 and result.errors == []


def test_catalog_without_ranges_skips_range_work():
    catalog = SignalCatalog()
    result = validate_columns("x", [T0], [1.0], None, catalog, now_ns=NOW)
    assert refused(result) == [(0, "unknown-signal")]

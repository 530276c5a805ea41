"""Validate sample columns at the edge: keep every good row, describe every bad one.

The checks work on whole columns (numpy, pyarrow); Python loops run only over refused rows, to
describe them. Each refused sample gets one :class:`RowError` naming its first broken rule:

=========================== ===========================================================
rule                        refuses a sample whose ...
=========================== ===========================================================
``unknown-signal``          signal is missing or not in the catalog
``type``                    timestamp or value cannot be read (timestamps: integer ns,
                            ISO 8601 text with a zone, Arrow timestamps of any unit)
``timezone``                timestamp is ISO 8601 text without a zone
``timestamp-range``         timestamp is before 1970 or more than ``max_future_s`` ahead
``quality``                 quality is not good/uncertain/bad/stale (or 0-3)
``not-finite``              value is missing, NaN or infinite, unless it is NaN (or
                            missing) with quality bad or stale: a reading without a value
``out-of-range``            value is outside the signal's minimum/maximum — only with
                            ``reject_out_of_range``; otherwise it is kept, flagged
                            UNCERTAIN and counted in ``warnings["out-of-range"]``
``duplicate-timestamp``     timestamp equals the latest accepted one of its signal
``non-monotonic-timestamp`` timestamp is earlier than the latest accepted one of its signal
=========================== ===========================================================

NaN is refused with quality uncertain too: the store averages uncertain samples, and one NaN
would poison every average it falls into.
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from werk.core import NS_PER_S, Quality, SampleBatch, SignalCatalog, ValidationError, iso
from werk.ingest._columns import (
    I64_MIN,
    Signals,
    Why,
    parse_quality,
    parse_signals,
    parse_timestamps,
    parse_values,
)
from werk.ingest.report import IngestResult, RowError

MAX_FUTURE_S = 86_400.0
"""Timestamps more than this far ahead of now are refused (clock errors, wrong units)."""

_MAX_SPAN_S = 9e9  # beyond int64 ns from any "now" in 1970..2262

_RULES = {
    Why.SIGNAL_MISSING: ("signal", "unknown-signal"),
    Why.SIGNAL_UNKNOWN: ("signal", "unknown-signal"),
    Why.TIMESTAMP_MISSING: ("timestamp", "type"),
    Why.TIMESTAMP_TYPE: ("timestamp", "type"),
    Why.TIMEZONE: ("timestamp", "timezone"),
    Why.TIMESTAMP_RANGE: ("timestamp", "timestamp-range"),
    Why.QUALITY: ("quality", "quality"),
    Why.VALUE_TYPE: ("value", "type"),
    Why.NOT_FINITE: ("value", "not-finite"),
    Why.OUT_OF_RANGE: ("value", "out-of-range"),
    Why.DUPLICATE: ("timestamp", "duplicate-timestamp"),
    Why.NON_MONOTONIC: ("timestamp", "non-monotonic-timestamp"),
}


def validate_columns(
    signals: Any,
    timestamps: Any,
    values: Any,
    quality: Any,
    catalog: SignalCatalog,
    *,
    first_row: int = 0,
    row_numbers: npt.ArrayLike | None = None,
    reject_out_of_range: bool = False,
    max_future_s: float = MAX_FUTURE_S,
    now_ns: int | None = None,
    last_timestamps: MutableMapping[str, int] | None = None,
) -> IngestResult:
    """Check parallel columns of samples; keep the good ones in a batch, report the rest.

    Columns are numpy arrays, pyarrow (chunked) arrays or lists; ``signals`` may be one name for
    all rows and ``quality`` one quality for all rows or ``None`` (all GOOD). Errors name rows
    ``first_row + position``, or ``row_numbers[position]`` when given (wide files, where a row
    holds several samples). ``last_timestamps`` carries, per signal, the latest timestamp
    accepted before these rows (earlier chunks of the same file); it is updated in place.
    ``now_ns`` fixes "now" for the future limit (tests); by default the wall clock.

    Raises :class:`~werk.core.ValidationError` only for columns that cannot be read at all
    (lengths differ, a column of a type that holds no timestamps or numbers).
    """
    n = _common_length(signals, timestamps, values, quality)
    if n == 0:
        return IngestResult.empty()
    if row_numbers is None:
        rows = np.arange(first_row, first_row + n, dtype=np.int64)
    elif len(rows := np.asarray(row_numbers, np.int64)) != n:
        raise ValueError(f"{len(rows)} row numbers for {n} rows")
    names = parse_signals(signals, n, catalog)
    ts, ts_why = parse_timestamps(timestamps, n)
    value, value_why = parse_values(values, n)
    codes, quality_bad = parse_quality(quality, n)

    why = np.zeros(n, np.uint8)
    _refuse(why, names.codes == -2, Why.SIGNAL_MISSING)
    _refuse(why, names.codes == -1, Why.SIGNAL_UNKNOWN)
    np.copyto(why, ts_why, where=why == Why.OK)
    now = time.time_ns() if now_ns is None else now_ns
    # Capped, so max_future_s=math.inf means "no limit" rather than an overflow.
    limit = now + round(min(max_future_s, _MAX_SPAN_S) * NS_PER_S)
    _refuse(why, (ts < 0) | (ts > limit), Why.TIMESTAMP_RANGE)
    _refuse(why, quality_bad, Why.QUALITY)
    np.copyto(why, value_why, where=why == Why.OK)
    # A NaN with quality bad or stale is a reading without a value: legitimate and kept.
    no_value = np.isnan(value) & (codes >= Quality.BAD)
    _refuse(why, ~np.isfinite(value) & ~no_value, Why.NOT_FINITE)
    out_of_range = _out_of_range(names, value, catalog)
    if reject_out_of_range:
        _refuse(why, out_of_range, Why.OUT_OF_RANGE)

    last = _last_accepted(names.names, last_timestamps)
    order_why, previous = _order(names.codes, ts, why == Why.OK, last)
    np.copyto(why, order_why, where=why == Why.OK)

    keep = why == Why.OK
    warnings = {}
    flagged = out_of_range & keep
    if flagged.any():
        codes[flagged] = np.maximum(codes[flagged], Quality.UNCERTAIN)
        warnings["out-of-range"] = int(flagged.sum())
    batch = _batch(names, keep, ts, value, codes)
    if last_timestamps is not None:
        last_timestamps.update(_latest(batch))
    describe = _Describer(
        names,
        ts,
        ts_why,
        value,
        codes,
        previous,
        catalog,
        now,
        max_future_s,
        (signals, timestamps, values, quality),
    )
    bad = np.flatnonzero(~keep)
    bad = bad[np.argsort(rows[bad], kind="stable")]
    errors = [describe(int(rows[i]), int(i), Why(int(why[i]))) for i in bad]
    return IngestResult(batch, errors, n, warnings=warnings)


def _common_length(signals: Any, timestamps: Any, values: Any, quality: Any) -> int:
    n = _length(timestamps, "timestamp")
    columns = [("value", values), ("signal", signals), ("quality", quality)]
    for field, column in columns:
        if column is None or isinstance(column, str | int | Quality):
            if field == "value":
                raise ValidationError("value must be a column", field="value", rule="shape")
            continue
        if (length := _length(column, field)) != n:
            raise ValidationError(
                f"{field} has {length} entries but timestamp has {n}", field=field, rule="length"
            )
    return n


def _length(column: Any, field: str) -> int:
    try:
        return len(column)
    except TypeError:
        raise ValidationError(f"{field} must be a column", field=field, rule="shape") from None


def _refuse(why: npt.NDArray[np.uint8], mask: npt.NDArray[np.bool_], reason: Why) -> None:
    """Give ``reason`` to the rows in ``mask`` that no earlier rule refused."""
    why[mask & (why == Why.OK)] = reason


def _out_of_range(
    names: Signals, value: npt.NDArray[np.float64], catalog: SignalCatalog
) -> npt.NDArray[np.bool_]:
    minimum = np.array([catalog[name].minimum for name in names.names] + [-np.inf])
    maximum = np.array([catalog[name].maximum for name in names.names] + [np.inf])
    if np.isinf(minimum).all() and np.isinf(maximum).all():
        return np.zeros(len(value), bool)
    code = np.where(names.codes < 0, len(names.names), names.codes)  # no signal: unbounded
    with np.errstate(invalid="ignore"):
        return (value < minimum[code]) | (value > maximum[code])


def _last_accepted(
    names: list[str], last_timestamps: MutableMapping[str, int] | None
) -> npt.NDArray[np.int64]:
    known = last_timestamps or {}
    return np.array([known.get(name, I64_MIN) for name in names], np.int64)


def _order(
    codes: npt.NDArray[np.int64],
    ts: npt.NDArray[np.int64],
    candidates: npt.NDArray[np.bool_],
    last: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """Refuse, per signal, timestamps not after the latest accepted one; the first one stays.

    A refused timestamp never exceeds the running maximum, so "the latest accepted timestamp
    before row i" is the running maximum over earlier candidate rows of the signal (or ``last``).
    Returns the reasons and, for refused rows, the timestamp they collided with.
    """
    n = len(ts)
    why = np.zeros(n, np.uint8)
    previous = np.full(n, I64_MIN, np.int64)
    position = np.flatnonzero(candidates)
    if not len(position):
        return why, previous
    code = codes[position]
    # A stable sort groups each signal's rows and keeps them in submission order.
    order = np.argsort(code, kind="stable") if len(last) > 1 else np.arange(len(position))
    code, t, position = code[order], ts[position][order], position[order]
    first = np.empty(len(t), bool)
    first[0] = True
    np.not_equal(code[1:], code[:-1], out=first[1:])
    prior = last[code]
    if not ((t[1:] > t[:-1]) | first[1:]).all() or not (t[first] > prior[first]).all():
        prior = np.maximum(prior, _previous_maximum(code, t, first))
    refused = t <= prior
    if refused.any():
        why[position[refused]] = np.where(
            t[refused] == prior[refused], Why.DUPLICATE, Why.NON_MONOTONIC
        )
        previous[position] = prior
    return why, previous


def _previous_maximum(
    code: npt.NDArray[np.int64], t: npt.NDArray[np.int64], first: npt.NDArray[np.bool_]
) -> npt.NDArray[np.int64]:
    """Per row, the maximum of the earlier rows of its group (groups are contiguous).

    Each timestamp is replaced by its rank, and each group lifted above all earlier groups
    (``code * span``), so one running maximum over everything never leaks across groups.
    """
    distinct, rank = np.unique(t, return_inverse=True)
    span = len(distinct) + 1
    key = code * span + rank.reshape(-1)
    running = np.maximum.accumulate(key)
    before = np.empty_like(running)
    before[0] = 0
    before[1:] = running[:-1]
    within = np.clip(before - code * span, 0, len(distinct) - 1)
    return np.where(first, I64_MIN, distinct[within])


def _batch(
    names: Signals,
    keep: npt.NDArray[np.bool_],
    ts: npt.NDArray[np.int64],
    value: npt.NDArray[np.float64],
    quality: npt.NDArray[np.uint8],
) -> SampleBatch:
    """The kept rows, with only the names they use."""
    code = names.codes[keep]
    used = np.bincount(code, minlength=len(names.names)) > 0
    remap = np.cumsum(used) - 1
    return SampleBatch(
        tuple(name for name, u in zip(names.names, used, strict=True) if u),
        remap[code].astype(np.int32),
        ts[keep],
        value[keep],
        quality[keep],
    )


def _latest(batch: SampleBatch) -> dict[str, int]:
    latest = np.full(len(batch.names), I64_MIN, np.int64)
    np.maximum.at(latest, batch.index, batch.timestamps)
    return {name: int(t) for name, t in zip(batch.names, latest, strict=True)}


def _raw(column: Any, i: int) -> Any:
    """The input as given, for messages."""
    if column is None or isinstance(column, str | int | Quality):
        return column
    item = column[i]
    if isinstance(item, pa.TimestampScalar):
        # as_py() fails beyond datetime's years 1-9999 and below microseconds: give the number.
        return f"{item.value} {item.type.unit}"
    if isinstance(item, pa.Scalar):
        return item.as_py()
    return item.item() if isinstance(item, np.generic) else item


@dataclass(frozen=True, slots=True)
class _Describer:
    """Turns a refused row into a :class:`RowError`; runs once per refused row only."""

    names: Signals
    ts: npt.NDArray[np.int64]
    ts_why: npt.NDArray[np.uint8]
    value: npt.NDArray[np.float64]
    quality: npt.NDArray[np.uint8]
    previous: npt.NDArray[np.int64]
    catalog: SignalCatalog
    now: int
    max_future_s: float
    raw: tuple[Any, Any, Any, Any]  # the input columns: signal, timestamp, value, quality

    def __call__(self, row: int, i: int, why: Why) -> RowError:
        field, rule = _RULES[why]
        signal = self.names.raw(i)
        return RowError(row, signal, field, rule, self.message(i, why, signal))

    def message(self, i: int, why: Why, signal: str | None) -> str:
        t = int(self.ts[i])
        match why:
            case Why.SIGNAL_MISSING:
                return "no signal given"
            case Why.SIGNAL_UNKNOWN:
                return f"unknown signal {signal!r}: not in the signal catalog"
            case Why.TIMESTAMP_MISSING:
                return "no timestamp given"
            case Why.TIMESTAMP_TYPE:
                return (
                    f"timestamp {_raw(self.raw[1], i)!r} is neither integer ns "
                    "nor ISO 8601 (2026-11-24T10:00:00Z)"
                )
            case Why.TIMEZONE:
                return (
                    f"timestamp {_raw(self.raw[1], i)!r} has no timezone: "
                    "add Z or an offset such as +01:00"
                )
            case Why.TIMESTAMP_RANGE:
                if self.ts_why[i] == Why.TIMESTAMP_RANGE:
                    return f"timestamp {_raw(self.raw[1], i)!r} is not between 1677 and 2262"
                if t < 0:
                    return f"timestamp {iso(t)} is before 1970"
                return (
                    f"timestamp {iso(t)} is more than {self.max_future_s:g} s "
                    f"after now ({iso(self.now)})"
                )
            case Why.QUALITY:
                return (
                    f"unknown quality {_raw(self.raw[3], i)!r}: "
                    "give good, uncertain, bad, stale or 0-3"
                )
            case Why.VALUE_TYPE:
                return f"value {_raw(self.raw[2], i)!r} is not a number"
            case Why.NOT_FINITE:
                quality = Quality(int(self.quality[i])).name.lower()
                if np.isnan(self.value[i]):
                    given = "no value" if _raw(self.raw[2], i) is None else "value NaN"
                    return f"{given} with quality {quality}: only bad or stale samples may lack one"
                return f"value {self.value[i]} is not finite; a reading without a value is NaN"
            case Why.OUT_OF_RANGE:
                spec = self.catalog[str(signal)]
                return f"value {self.value[i]:g} is outside [{spec.minimum:g}, {spec.maximum:g}]"
            case Why.DUPLICATE:
                return f"timestamp {iso(t)} repeats an earlier sample of {signal}"
            case Why.NON_MONOTONIC:
                return (
                    f"timestamp {iso(t)} is before {iso(int(self.previous[i]))}, "
                    f"the latest accepted sample of {signal}"
                )
        raise AssertionError(why)  # pragma: no cover

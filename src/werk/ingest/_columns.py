"""Read input columns of any shape into numpy arrays, and say per row why a value could not be read.

Columns arrive as pyarrow arrays (Arrow IPC, Parquet, CSV), numpy arrays or Python lists (JSON).
The good path is one Arrow cast per column. When a text column does not cast, its rows are sorted
by shape (regular expressions run by Arrow) and each shape is cast on its own; a shape that still
fails is bisected. Only rows of no known shape are parsed one by one in Python — to describe
them, or to rescue odd spellings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from werk.core import Quality, SignalCatalog, ValidationError, to_ns

I64_MIN = np.iinfo(np.int64).min
I64_MAX = np.iinfo(np.int64).max
TS_UTC_NS = pa.timestamp("ns", "UTC")
_NS_PER_UNIT = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
_INTEGER = re.compile(r"[-+]?\d+")
_TIME_SHAPES = (
    r"^\d{4}-\d\d-\d\d[T ]\d\d(:\d\d(:\d\d([.,]\d+)?)?)?(Z|[+-]\d\d(:?\d\d)?)$",  # ISO, zoned
    r"^[+-]?\d+$",  # integer ns
)
_NUMBER_SHAPES = (r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(?i:nan|inf|infinity)$",)
_QUALITY_CODES = {int(q) for q in Quality}
_INVALID_QUALITY = 255
# Below this many rows a failing piece is parsed row by row; above, it is split in two again.
_LEAF_ROWS = 16

# A pyarrow Array, or a Python list when its element types are mixed (pyarrow ships no types).
Column: TypeAlias = Any
Reasons = npt.NDArray[np.uint8]


class Why(IntEnum):
    """Why a row is refused (``OK`` keeps it). Rules are checked, and reported, in this order."""

    OK = 0
    SIGNAL_MISSING = 1
    SIGNAL_UNKNOWN = 2
    TIMESTAMP_MISSING = 3
    TIMESTAMP_TYPE = 4
    TIMEZONE = 5
    TIMESTAMP_RANGE = 6
    QUALITY = 7
    VALUE_TYPE = 8
    NOT_FINITE = 9
    OUT_OF_RANGE = 10
    DUPLICATE = 11
    NON_MONOTONIC = 12


def as_column(
    column: Any, field: str, typed: Sequence[tuple[tuple[type, ...], pa.DataType]]
) -> Column:
    """One pyarrow array from any column; a Python list of mixed types stays a list.

    ``typed`` says which Python element types become which Arrow type. The element types are
    checked first because ``pa.array([1, 2.5], type=pa.int64())`` silently truncates.
    """
    if isinstance(column, pa.ChunkedArray):
        if pa.types.is_dictionary(column.type):
            column = column.unify_dictionaries()
        return column.combine_chunks()
    if isinstance(column, pa.Array):
        return column
    if isinstance(column, np.ndarray) and column.dtype != object:
        if column.ndim != 1:
            raise ValidationError(f"{field} must be one column", field=field, rule="shape")
        return pa.array(column)
    if isinstance(column, str | bytes | dict) or not hasattr(column, "__iter__"):
        raise ValidationError(f"{field} must be a list of values", field=field, rule="shape")
    items = list(column)
    kinds = set(map(type, items))
    kinds.discard(type(None))
    if not kinds:
        return pa.nulls(len(items))
    for allowed, arrow_type in typed:
        if kinds <= set(allowed):
            try:
                return pa.array(items, type=arrow_type)
            except (pa.ArrowException, OverflowError):
                break  # e.g. an int beyond int64: the row-by-row path says which
    return items


def _plain(column: pa.Array) -> pa.Array:
    """Dictionary-encoded and large string arrays as plain ones, for casting."""
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if pa.types.is_large_string(column.type) or pa.types.is_string_view(column.type):
        column = column.cast(pa.string())
    return column


def _bisect(
    column: pa.Array,
    fast: Callable[[pa.Array], npt.NDArray[Any] | None],
    slow: Callable[[Any], tuple[Any, Why]],
    out: npt.NDArray[Any],
    why: Reasons,
) -> None:
    """Fill ``out`` with ``fast`` over whole pieces; only pieces it cannot read are split."""
    pending = [(0, len(column))]
    while pending:
        start, length = pending.pop()
        values = fast(column.slice(start, length))
        if values is not None:
            out[start : start + length] = values
        elif length <= _LEAF_ROWS:
            for i in range(start, start + length):
                out[i], why[i] = slow(column[i].as_py())
        else:
            half = length // 2
            pending += [(start + half, length - half), (start, half)]


def _read_text(
    column: pa.Array,
    fast: Callable[[pa.Array], npt.NDArray[Any] | None],
    slow: Callable[[Any], tuple[Any, Why]],
    out: npt.NDArray[Any],
    why: Reasons,
    shapes: Sequence[str],
) -> None:
    """Read a text column: one cast when it is clean; when it is not, sort rows by shape.

    Rows matching one of the ``shapes`` (regular expressions, checked by Arrow in C) are cast
    together; only rows of no known shape — the bad ones, mostly — are read one by one.
    """
    values = fast(column)
    if values is not None:
        out[:] = values
        return
    column = pc.utf8_trim_whitespace(column)
    pending = np.ones(len(column), bool)
    for shape in shapes:
        # A null matches any shape: the cast reads it as missing.
        matches = pc.match_substring_regex(column, shape).fill_null(True)
        group = np.flatnonzero(matches.to_numpy(zero_copy_only=False) & pending)
        if len(group):
            pending[group] = False
            group_out, group_why = np.empty(len(group), out.dtype), np.zeros(len(group), np.uint8)
            _bisect(column.take(pa.array(group)), fast, slow, group_out, group_why)
            out[group], why[group] = group_out, group_why
    for i in np.flatnonzero(pending):
        out[i], why[i] = slow(column[i].as_py())


# -- signals -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Signals:
    """Per row, the code of a known signal (``-1`` unknown, ``-2`` missing) and its raw name."""

    names: list[str]
    codes: npt.NDArray[np.int64]
    entries: list[str | None]
    entry: npt.NDArray[np.int64]

    def raw(self, i: int) -> str | None:
        e = int(self.entry[i])
        return None if e < 0 else self.entries[e]


def parse_signals(column: Any, n: int, catalog: SignalCatalog) -> Signals:
    """Dictionary-encode the names (Arrow does it in C); the catalog is asked once per name."""
    entries: list[str | None]
    if isinstance(column, str):
        entries, entry = [column], np.zeros(n, np.int64)
    else:
        col = as_column(column, "signal", [((str,), pa.string())])
        if isinstance(col, list):
            seen: dict[str, int] = {}
            entry = np.fromiter(
                (-1 if x is None else seen.setdefault(str(x), len(seen)) for x in col), np.int64, n
            )
            entries = list(seen)
        elif pa.types.is_null(col.type):
            entries, entry = [], np.full(n, -1, np.int64)
        else:
            if not pa.types.is_dictionary(col.type):
                col = _cast_or_refuse(col, pa.string(), "signal").dictionary_encode()
            entries = [None if e is None else str(e) for e in col.dictionary.to_pylist()]
            entry = col.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    names: list[str] = []
    position: dict[str, int] = {}
    lookup = np.empty(len(entries) + 1, np.int64)
    for e, name in enumerate(entries):
        if name is None:
            lookup[e] = -2
        elif name in catalog:
            lookup[e] = position.setdefault(name, len(position))
            if lookup[e] == len(names):
                names.append(name)
        else:
            lookup[e] = -1
    lookup[-1] = -2  # entry -1 (a null) reads the last slot
    return Signals(names, lookup[entry], entries, entry)


def _cast_or_refuse(column: pa.Array, target: pa.DataType, field: str) -> pa.Array:
    try:
        return column.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise ValidationError(
            f"{field} column of type {column.type} cannot be read as {target}",
            field=field,
            rule="type",
        ) from error


# -- timestamps ----------------------------------------------------------------------------------


def parse_timestamps(column: Any, n: int) -> tuple[npt.NDArray[np.int64], Reasons]:
    """ns since the epoch per row; integer ns, ISO 8601 text with a zone, or Arrow timestamps."""
    col = as_column(column, "timestamp", [((int,), pa.int64()), ((str,), pa.string())])
    ns = np.zeros(n, np.int64)
    why = np.zeros(n, np.uint8)
    if isinstance(col, list):
        for i, item in enumerate(col):
            ns[i], why[i] = _timestamp_from_python(item)
        return ns, why
    col = _plain(col)
    kind = col.type
    if pa.types.is_null(kind):
        why[:] = Why.TIMESTAMP_MISSING
        return ns, why
    if pa.types.is_timestamp(kind):
        # Arrow timestamps are UTC whether or not they carry a zone (the zone is for display).
        _scale_integers(col.cast(pa.int64()), _NS_PER_UNIT[kind.unit], ns, why)
    elif pa.types.is_integer(kind):
        _scale_integers(col, 1, ns, why)
    elif pa.types.is_string(kind):
        _read_text(col, _timestamps_from_text, _timestamp_from_python, ns, why, _TIME_SHAPES)
    else:
        raise ValidationError(
            f"timestamp column of type {kind}: give integer ns, ISO 8601 text with a zone "
            "or an Arrow timestamp column",
            field="timestamp",
            rule="type",
        )
    why[col.is_null().to_numpy(zero_copy_only=False)] = Why.TIMESTAMP_MISSING
    return ns, why


def _scale_integers(col: pa.Array, factor: int, ns: npt.NDArray[np.int64], why: Reasons) -> None:
    if pa.types.is_unsigned_integer(col.type):
        raw = col.fill_null(0).to_numpy(zero_copy_only=False).astype(np.uint64)
        over = raw > np.uint64(I64_MAX // factor)
        values = np.where(over, 0, raw).astype(np.int64)
    else:
        values = col.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
        limit = I64_MAX // factor
        over = (values > limit) | (values < -limit)
        values = np.where(over, 0, values)
    ns[:] = values * factor
    why[over] = Why.TIMESTAMP_RANGE


def _timestamps_from_text(piece: pa.Array) -> npt.NDArray[np.int64] | None:
    """A whole piece of ISO 8601 text with a zone, or of integer ns; ``None`` if any row is not.

    The first row decides which: a failed cast costs about a microsecond per row it cannot
    read, so trying both on every piece would slow a clean column of either kind.
    """
    first = (piece if piece.null_count == 0 else piece.drop_null())[:1].to_pylist()
    target = pa.int64() if first and _INTEGER.fullmatch(first[0]) else TS_UTC_NS
    try:
        cast = piece.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    result: npt.NDArray[np.int64] = (
        cast.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
    )
    return result


def _timestamp_from_python(item: Any) -> tuple[int, Why]:
    if item is None:
        return 0, Why.TIMESTAMP_MISSING
    if isinstance(item, bool):
        return 0, Why.TIMESTAMP_TYPE
    if isinstance(item, int | np.integer):
        return _representable(int(item))
    if not isinstance(item, str):
        return 0, Why.TIMESTAMP_TYPE
    text = item.strip()
    if text.endswith("z"):
        text = text[:-1] + "Z"  # Arrow reads only the capital
    parsed = _timestamps_from_text(pa.array([text], pa.string()))
    if parsed is not None:
        return int(parsed[0]), Why.OK
    if _INTEGER.fullmatch(text):
        return _representable(int(text))
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return 0, Why.TIMESTAMP_TYPE
    if moment.tzinfo is None:
        return 0, Why.TIMEZONE
    return _representable(to_ns(moment))


def _representable(ns: int) -> tuple[int, Why]:
    # int64 ns spans the years 1677-2262; anything outside is out of range, not unreadable.
    return (ns, Why.OK) if I64_MIN < ns <= I64_MAX else (0, Why.TIMESTAMP_RANGE)


# -- values --------------------------------------------------------------------------------------


def parse_values(column: Any, n: int) -> tuple[npt.NDArray[np.float64], Reasons]:
    """float64 per row; a missing value reads as NaN (the quality decides whether that is fine)."""
    col = as_column(column, "value", [((int, float, bool), pa.float64()), ((str,), pa.string())])
    out = np.full(n, np.nan)
    why = np.zeros(n, np.uint8)
    if isinstance(col, list):
        for i, item in enumerate(col):
            out[i], why[i] = _value_from_python(item)
        return out, why
    col = _plain(col)
    kind = col.type
    if pa.types.is_null(kind):
        return out, why
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
        out[:] = col.cast(pa.float64(), safe=False).fill_null(np.nan).to_numpy(zero_copy_only=False)
    elif pa.types.is_decimal(kind):
        out[:] = col.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False)
    elif pa.types.is_string(kind):
        _read_text(col, _values_from_text, _value_from_python, out, why, _NUMBER_SHAPES)
    else:
        raise ValidationError(
            f"value column of type {kind}: give numbers", field="value", rule="type"
        )
    return out, why


def _values_from_text(piece: pa.Array) -> npt.NDArray[np.float64] | None:
    try:
        result: npt.NDArray[np.float64] = (
            piece.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False)
        )
    except pa.ArrowInvalid:
        return None
    return result


def _value_from_python(item: Any) -> tuple[float, Why]:
    if item is None:
        return np.nan, Why.OK
    if isinstance(item, bool | int | float | np.integer | np.floating):
        try:
            return float(item), Why.OK
        except OverflowError:
            return np.nan, Why.VALUE_TYPE
    if isinstance(item, str):
        try:
            return float(item.strip()), Why.OK
        except ValueError:
            pass
    return np.nan, Why.VALUE_TYPE


# -- quality -------------------------------------------------------------------------------------


def parse_quality(column: Any, n: int) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]]:
    """Quality code per row and which rows gave an unknown one. Missing quality means GOOD."""
    if column is None or isinstance(column, str | int | Quality):
        code = quality_code(column)
        codes = np.full(n, Quality.GOOD if code is None else code, np.uint8)
        return codes, np.full(n, code is None)
    col = as_column(column, "quality", [((int,), pa.int64()), ((str,), pa.string())])
    if isinstance(col, list):
        # Keyed by type too: True == 1, but True is no quality.
        cache: dict[tuple[type, Any], int] = {}
        raw = np.fromiter((_cached_code(cache, x) for x in col), np.int64, n)
    elif pa.types.is_null(col.type):
        raw = np.zeros(n, np.int64)
    else:
        encoded = col if pa.types.is_dictionary(col.type) else col.dictionary_encode()
        lookup = np.array(
            [_code_or_invalid(e) for e in encoded.dictionary.to_pylist()] + [int(Quality.GOOD)],
            np.int64,
        )
        raw = lookup[encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)]
    bad = raw == _INVALID_QUALITY
    return np.where(bad, Quality.GOOD, raw).astype(np.uint8), bad


def quality_code(item: Any) -> int | None:
    """A quality name (any case) or code -> its code; ``None`` -> GOOD; unknown -> ``None``."""
    if item is None:
        return int(Quality.GOOD)
    if isinstance(item, bool):
        return None
    if isinstance(item, float) and item.is_integer():
        item = int(item)
    if isinstance(item, str):
        text = item.strip()
        if text.isdigit():
            item = int(text)
        else:
            member = Quality.__members__.get(text.upper())
            return None if member is None else int(member)
    if isinstance(item, int | np.integer) and int(item) in _QUALITY_CODES:
        return int(item)
    return None


def _cached_code(cache: dict[tuple[type, Any], int], item: Any) -> int:
    key = (type(item), item)
    code = cache.get(key)
    if code is None:
        code = cache[key] = _code_or_invalid(item)
    return code


def _code_or_invalid(item: Any) -> int:
    code = quality_code(item)
    return _INVALID_QUALITY if code is None else code

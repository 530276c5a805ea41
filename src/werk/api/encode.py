"""How samples, rollups and events look on the wire: JSON, CSV and Arrow IPC stream.

Columns are converted with numpy in one go (``tolist``, ``datetime_as_string``), never a Python
call per sample beyond building the row itself. Non-finite values (a BAD sample may carry NaN)
become ``null``: JSON has no NaN.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence, Set
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from werk.core import Event, Quality, SampleBatch, ValidationError, iso
from werk.store.base import Latest, Rollup

JSON = "application/json"
CSV = "text/csv"
ARROW = "application/vnd.apache.arrow.stream"
MEDIA_TYPES = {"json": JSON, "csv": CSV, "arrow": ARROW}

AGGREGATES = ("min", "max", "mean", "last", "count")
_ROLLUP_COLUMN = {
    "min": "minimum",
    "max": "maximum",
    "mean": "mean",
    "last": "last",
    "count": "count",
}

# Lower case, as ingest documents them ("quality": "good"); Quality.parse reads either case.
_QUALITY_NAMES = {int(q): q.name.lower() for q in Quality}


def quality_name(code: int) -> str:
    return _QUALITY_NAMES.get(code, str(code))


def choose_format(requested: str | None, accept: str | None) -> str:
    """``format=`` wins; otherwise the Accept header; otherwise JSON."""
    if requested:
        key = requested.strip().lower()
        if key not in MEDIA_TYPES:
            raise ValidationError(
                f"format {requested!r} is not one of {', '.join(MEDIA_TYPES)}",
                field="format",
                rule="one-of",
            )
        return key
    accept = (accept or "").lower()
    if ARROW in accept:
        return "arrow"
    if CSV in accept:
        return "csv"
    return "json"


def iso_column(ns: npt.NDArray[np.int64]) -> list[str]:
    """ISO 8601 with nanoseconds and a Z, like ``werk.core.iso``, for a whole column."""
    return [s + "Z" for s in np.datetime_as_string(ns.astype("datetime64[ns]"), unit="ns").tolist()]


def float_column(values: npt.NDArray[np.float64]) -> list[float | None]:
    out: list[float | None] = values.tolist()
    if not np.isfinite(values).all():
        for i in np.flatnonzero(~np.isfinite(values)).tolist():
            out[i] = None
    return out


def finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def sample_rows(batch: SampleBatch) -> list[dict[str, Any]]:
    """``[{signal, timestamp, ns, value, quality}]`` in batch order."""
    names = batch.names
    return [
        {
            "signal": names[i],
            "timestamp": t,
            "ns": n,
            "value": v,
            "quality": _QUALITY_NAMES.get(q, str(q)),
        }
        for i, t, n, v, q in zip(
            batch.index.tolist(),
            iso_column(batch.timestamps),
            batch.timestamps.tolist(),
            float_column(batch.values),
            batch.quality.tolist(),
            strict=True,
        )
    ]


def latest_rows(latest: Latest, stale: Set[str] = frozenset()) -> list[dict[str, Any]]:
    return [
        {
            "signal": signal,
            "timestamp": iso(ts),
            "ns": ts,
            "value": finite(value),
            "quality": quality_name(quality),
            "stale": signal in stale,
        }
        for signal, (ts, value, quality) in sorted(latest.items())
    ]


def rollup_rows(rollup: Rollup, aggregates: Sequence[str]) -> list[dict[str, Any]]:
    columns: dict[str, list[Any]] = {
        "signal": [rollup.names[i] for i in rollup.index.tolist()],
        "bucket": iso_column(rollup.bucket),
        "ns": rollup.bucket.tolist(),
    }
    for agg in aggregates:
        column = getattr(rollup, _ROLLUP_COLUMN[agg])
        columns[agg] = column.tolist() if agg == "count" else float_column(column)
    keys = list(columns)
    return [dict(zip(keys, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def event_row(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "parent_id": event.context.parent_id,
        "user": event.context.user,
        "kind": event.kind,
        "source": event.source,
        "timestamp": iso(event.timestamp),
        "ns": event.timestamp,
        "data": json_safe(event.data),
    }


def json_safe(value: Any) -> Any:
    """Event data as JSON can carry it: NaN and infinities become null, numpy scalars plain."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


# -- tabular formats -----------------------------------------------------------------------------


def to_csv(rows: list[dict[str, Any]], columns: Sequence[str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row[c] is None else row[c] for c in columns])
    return buffer.getvalue().encode()


def samples_table(batch: SampleBatch) -> pa.Table:
    """Raw samples as Arrow: the same columns ``POST /samples`` takes, so history round-trips."""
    names = pa.array(batch.names, pa.string())
    return pa.table(
        {
            "signal": pa.DictionaryArray.from_arrays(pa.array(batch.index, pa.int32()), names),
            "timestamp": pa.array(batch.timestamps, pa.timestamp("ns", tz="UTC")),
            "value": pa.array(batch.values, pa.float64()),
            "quality": pa.array(batch.quality, pa.uint8()),
        }
    )


def rollup_table(rollup: Rollup, aggregates: Sequence[str]) -> pa.Table:
    names = pa.array(rollup.names, pa.string())
    columns: dict[str, pa.Array] = {
        "signal": pa.DictionaryArray.from_arrays(pa.array(rollup.index, pa.int32()), names),
        "bucket": pa.array(rollup.bucket, pa.timestamp("ns", tz="UTC")),
    }
    for agg in aggregates:
        columns[agg] = pa.array(getattr(rollup, _ROLLUP_COLUMN[agg]))
    return pa.table(columns)


def to_arrow(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())

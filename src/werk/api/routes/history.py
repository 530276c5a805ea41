"""Values: the latest of each signal (from the live state) and history (raw pages or rollups)."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import JSONResponse, Response

from werk.api.auth import Principal, read_access
from werk.api.encode import (
    AGGREGATES,
    ARROW,
    MEDIA_TYPES,
    choose_format,
    latest_rows,
    rollup_rows,
    rollup_table,
    sample_rows,
    samples_table,
    to_arrow,
    to_csv,
)
from werk.api.params import HOUR_NS, TIME_HELP, duration, get_runtime, time_window
from werk.core import SampleBatch, ValidationError, iso
from werk.runtime import Runtime
from werk.store.base import Rollup

router = APIRouter(tags=["values"])

MAX_LIMIT = 100_000
MAX_BUCKETS = 100_000  # per signal: guards against bucket=1ms over a year

_TABULAR = {
    200: {
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            ARROW: {"schema": {"type": "string", "format": "binary"}},
        },
        "description": "JSON by default; CSV or an Arrow IPC stream with format= or Accept.",
    }
}


@router.get(
    "/latest",
    summary="The latest sample of each signal (all when none is named); stale: silent too long",
)
async def latest(
    signal: Annotated[list[str] | None, Query(description="repeat for several")] = None,
    runtime: Runtime = Depends(get_runtime),
    _: Principal = Depends(read_access),
) -> dict[str, Any]:
    values = runtime.state.get(signal or None)
    stale = runtime.state.stale(runtime.clock.now_ns())
    body: dict[str, Any] = {"samples": latest_rows(values, stale)}
    if signal:
        body["missing"] = sorted(set(signal) - set(values))
    return body


@router.get(
    "/history",
    summary="History of signals: raw samples, paged, or rollups per bucket",
    responses=_TABULAR,  # type: ignore[arg-type]
)
async def history(
    request: Request,
    signal: Annotated[list[str], Query(min_length=1, description="one raw; several for rollups")],
    start: Annotated[str | None, Query(description=f"{TIME_HELP}; default: end - 1h")] = None,
    end: Annotated[str | None, Query(description=f"{TIME_HELP}; default: now")] = None,
    bucket: Annotated[str | None, Query(description="rollup bucket, e.g. 1m, 15m, 1h")] = None,
    agg: Annotated[str | None, Query(description="rollup columns: min,max,mean,last,count")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="raw: samples per page")] = 10_000,
    cursor: Annotated[int | None, Query(description="raw: the previous page's next_cursor")] = None,
    format: Annotated[str | None, Query(description="json, csv or arrow")] = None,
    runtime: Runtime = Depends(get_runtime),
    _: Principal = Depends(read_access),
) -> Response:
    fmt = choose_format(format, request.headers.get("accept"))
    start_ns, end_ns = time_window(start, end, runtime.clock.now_ns(), HOUR_NS)
    window = {"start": iso(start_ns), "end": iso(end_ns), "start_ns": start_ns, "end_ns": end_ns}
    if bucket is not None:
        return await _rollup(runtime, signal, start_ns, end_ns, bucket, agg, fmt, window)
    if len(signal) > 1:
        raise ValidationError(
            "raw history is one signal at a time; give bucket= for a rollup of several",
            field="signal",
            rule="one-signal-raw",
        )
    if agg is not None:
        raise ValidationError("agg= needs bucket=", field="agg", rule="needs-bucket")
    # One more than asked tells whether another page exists without a second query.
    batch: SampleBatch = await runtime.query(
        runtime.store.read, signal[0], start_ns, end_ns, limit=limit + 1, after=cursor
    )
    next_cursor = None
    if len(batch) > limit:
        batch = batch.take(np.arange(limit))
        next_cursor = int(batch.timestamps[-1])
    headers = {"X-Next-Cursor": str(next_cursor)} if next_cursor is not None else {}
    if fmt == "arrow":
        return Response(
            to_arrow(samples_table(batch)), media_type=MEDIA_TYPES[fmt], headers=headers
        )
    rows = sample_rows(batch)
    if fmt == "csv":
        columns = ("signal", "timestamp", "ns", "value", "quality")
        return Response(to_csv(rows, columns), media_type=MEDIA_TYPES[fmt], headers=headers)
    body = {"signal": signal[0], **window, "samples": rows, "next_cursor": next_cursor}
    return JSONResponse(body, headers=headers)


async def _rollup(
    runtime: Runtime,
    signals: list[str],
    start_ns: int,
    end_ns: int,
    bucket: str,
    agg: str | None,
    fmt: str,
    window: dict[str, Any],
) -> Response:
    bucket_ns = duration(bucket, "bucket")
    if (end_ns - start_ns) // bucket_ns > MAX_BUCKETS:
        raise ValidationError(
            f"{bucket} buckets from {window['start']} to {window['end']} are more than "
            f"{MAX_BUCKETS}; use a larger bucket or a shorter window",
            field="bucket",
            rule="max-buckets",
        )
    aggregates = _aggregates(agg)
    rollup: Rollup = await runtime.query(
        runtime.store.rollup, list(dict.fromkeys(signals)), start_ns, end_ns, bucket_ns
    )
    if fmt == "arrow":
        return Response(to_arrow(rollup_table(rollup, aggregates)), media_type=MEDIA_TYPES[fmt])
    rows = rollup_rows(rollup, aggregates)
    if fmt == "csv":
        columns = ("signal", "bucket", "ns", *aggregates)
        return Response(to_csv(rows, columns), media_type=MEDIA_TYPES[fmt])
    body = {
        "signals": signals,
        **window,
        "bucket": bucket,
        "bucket_ns": bucket_ns,
        "aggregates": list(aggregates),
        "rows": rows,
    }
    return JSONResponse(body)


def _aggregates(agg: str | None) -> tuple[str, ...]:
    if agg is None:
        return AGGREGATES
    chosen = [a.strip().lower() for a in agg.split(",") if a.strip()]
    unknown = [a for a in chosen if a not in AGGREGATES]
    if unknown or not chosen:
        raise ValidationError(
            f"agg {agg!r}: choose from {','.join(AGGREGATES)}", field="agg", rule="one-of"
        )
    return tuple(dict.fromkeys(chosen))

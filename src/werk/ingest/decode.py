"""Decode HTTP request bodies of samples (JSON, Arrow IPC) into validated batches.

A body that cannot be read, or has the wrong shape, raises :class:`~werk.core.ValidationError`
naming the field and the rule (the endpoint answers 422). Problems of single samples never do:
they go into the :class:`~werk.ingest.IngestResult` and the good samples are kept. Rows in errors
are 0-based positions: in the ``samples`` list, the ``timestamps`` list or the Arrow stream.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from werk.core import SignalCatalog, ValidationError
from werk.ingest.report import IngestResult, RowError
from werk.ingest.validate import MAX_FUTURE_S, validate_columns

MAX_ROWS = 1_000_000

_SHAPES = (
    'give {"samples": [{"signal": ..., "timestamp": ..., "value": ..., "quality": ...}]} '
    'or {"signal": ..., "timestamps": [...], "values": [...], "quality": ...}'
)
_COLUMNAR_FIELDS = {"signal", "timestamps", "values", "quality"}


def decode_json(
    body: bytes,
    catalog: SignalCatalog,
    *,
    max_rows: int = MAX_ROWS,
    reject_out_of_range: bool = False,
    max_future_s: float = MAX_FUTURE_S,
    now_ns: int | None = None,
) -> IngestResult:
    """Samples from a JSON body, in one of two shapes.

    Rows: ``{"samples": [{"signal": "press1.temp", "timestamp": "2026-11-24T10:00:00Z",
    "value": 21.5, "quality": "good"}, ...]}`` — timestamps as ISO 8601 with a zone or integer
    ns; ``quality`` optional (good); ``value`` null means no value (fine with quality bad or
    stale); other keys in a sample are ignored.

    Columnar, one signal: ``{"signal": "press1.temp", "timestamps": [...], "values": [...]}``
    with an optional ``quality``: one for all samples, or a list.
    """
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as error:  # JSONDecodeError, UnicodeDecodeError
        raise ValidationError(f"body is not JSON: {error}", field="body", rule="json") from error
    if not isinstance(document, dict):
        raise ValidationError(f"body must be a JSON object: {_SHAPES}", field="body", rule="shape")
    options: dict[str, Any] = {
        "reject_out_of_range": reject_out_of_range,
        "max_future_s": max_future_s,
        "now_ns": now_ns,
    }
    if "samples" in document:
        _only(document, {"samples"})
        return _rows(document["samples"], catalog, max_rows, options)
    if "signal" in document:
        _only(document, _COLUMNAR_FIELDS)
        return _columnar(document, catalog, max_rows, options)
    raise ValidationError(f"no samples in the body: {_SHAPES}", field="body", rule="shape")


def _only(document: dict[str, Any], allowed: set[str]) -> None:
    # A misspelt top-level key ("qualities") would silently change meaning: refuse it.
    for key in document:
        if key not in allowed:
            raise ValidationError(
                f"unexpected field {key!r}: {_SHAPES}", field=str(key), rule="unknown-field"
            )


def _rows(
    items: Any, catalog: SignalCatalog, max_rows: int, options: dict[str, Any]
) -> IngestResult:
    if not isinstance(items, list):
        raise ValidationError("samples must be a list", field="samples", rule="shape")
    _check_size(len(items), max_rows, "samples")
    samples = [item for item in items if isinstance(item, dict)]
    shape_errors: list[RowError] = []
    positions = None
    if len(samples) < len(items):
        positions = [i for i, item in enumerate(items) if isinstance(item, dict)]
        shape_errors = [
            RowError(i, None, "sample", "type", f"sample {item!r:.40} is not an object")
            for i, item in enumerate(items)
            if not isinstance(item, dict)
        ]
    quality = [sample.get("quality") for sample in samples]
    result = validate_columns(
        [sample.get("signal") for sample in samples],
        [sample.get("timestamp") for sample in samples],
        [sample.get("value") for sample in samples],
        quality if any(q is not None for q in quality) else None,
        catalog,
        row_numbers=positions,
        **options,
    )
    if not shape_errors:
        return result
    return IngestResult(
        result.batch,
        sorted(result.errors + shape_errors, key=lambda error: error.row),
        len(items),
        warnings=result.warnings,
    )


def _columnar(
    document: dict[str, Any], catalog: SignalCatalog, max_rows: int, options: dict[str, Any]
) -> IngestResult:
    signal = document["signal"]
    if not isinstance(signal, str):
        raise ValidationError("signal must be a string", field="signal", rule="type")
    for field in ("timestamps", "values"):
        if field not in document:
            raise ValidationError(f"{field} is missing: {_SHAPES}", field=field, rule="required")
        if not isinstance(document[field], list):
            raise ValidationError(f"{field} must be a list", field=field, rule="shape")
    quality = document.get("quality")
    if not (quality is None or isinstance(quality, str | int | list)):
        raise ValidationError(
            "quality must be one quality or a list", field="quality", rule="shape"
        )
    timestamps, values = document["timestamps"], document["values"]
    _check_size(len(timestamps), max_rows, "timestamps")
    if len(values) != len(timestamps):
        raise ValidationError(
            f"values has {len(values)} entries but timestamps has {len(timestamps)}",
            field="values",
            rule="length",
        )
    if isinstance(quality, list) and len(quality) != len(timestamps):
        raise ValidationError(
            f"quality has {len(quality)} entries but timestamps has {len(timestamps)}",
            field="quality",
            rule="length",
        )
    return validate_columns(signal, timestamps, values, quality, catalog, **options)


def _check_size(rows: int, max_rows: int, field: str) -> None:
    if rows > max_rows:
        raise ValidationError(
            f"{rows} samples in one request; at most {max_rows}: send them in parts",
            field=field,
            rule="max-rows",
        )


_ARROW_REQUIRED = ("signal", "timestamp", "value")


def decode_arrow(
    body: bytes,
    catalog: SignalCatalog,
    *,
    max_rows: int = MAX_ROWS,
    reject_out_of_range: bool = False,
    max_future_s: float = MAX_FUTURE_S,
    now_ns: int | None = None,
) -> IngestResult:
    """Samples from an Arrow IPC stream (the file format is accepted too).

    Columns: ``signal`` (string or dictionary of strings), ``timestamp`` (any Arrow timestamp,
    read as UTC, or int64 ns), ``value`` (float or int), optional ``quality`` (uint8 codes or
    names). Other columns are ignored.
    """
    table = _read_ipc(body)
    for name in _ARROW_REQUIRED:
        if name not in table.column_names:
            present = ", ".join(table.column_names) or "none"
            raise ValidationError(
                f"Arrow body has no {name!r} column (columns: {present})",
                field=name,
                rule="required",
            )
    _check_size(table.num_rows, max_rows, "body")
    return validate_columns(
        table["signal"],
        table["timestamp"],
        table["value"],
        table["quality"] if "quality" in table.column_names else None,
        catalog,
        reject_out_of_range=reject_out_of_range,
        max_future_s=max_future_s,
        now_ns=now_ns,
    )


def _read_ipc(body: bytes) -> pa.Table:
    try:
        if body[:6] == b"ARROW1":
            return pa.ipc.open_file(pa.py_buffer(body)).read_all()
        return pa.ipc.open_stream(pa.py_buffer(body)).read_all()
    except (pa.ArrowException, OSError) as error:
        raise ValidationError(
            f"body is not an Arrow IPC stream: {error}", field="body", rule="arrow"
        ) from error

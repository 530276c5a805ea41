"""Import samples from CSV and Parquet files, streamed in chunks so any file size works.

Layouts, detected from the column names (``signal``, ``timestamp``, ``value`` and ``quality``
match in any case):

- long: ``signal,timestamp,value[,quality]`` — one sample a row;
- one signal: ``timestamp,value[,quality]`` with ``signal=`` naming the signal (or
  ``timestamp,<column>`` — the one other column holds the values);
- wide: ``timestamp,<signal>,<signal>,...`` — each column a signal; an empty cell is no sample.

Row numbers in errors are 1-based data rows: row 1 is the first row after the CSV header (the
first row of a Parquet file). A malformed CSV record (wrong number of fields) counts as a row and
is reported with rule ``columns``; timestamps must increase per signal across the whole file.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from werk.core import SignalCatalog, ValidationError
from werk.ingest._sources import CsvSource, ParquetSource, Source, unreadable
from werk.ingest.report import IngestResult
from werk.ingest.validate import MAX_FUTURE_S, validate_columns

CHUNK_ROWS = 100_000
_ESTIMATE_SAMPLE_BYTES = 1 << 20


def iter_file(
    path: str | Path,
    catalog: SignalCatalog,
    *,
    chunk_rows: int = CHUNK_ROWS,
    signal: str | None = None,
    reject_out_of_range: bool = False,
    max_future_s: float = MAX_FUTURE_S,
    now_ns: int | None = None,
) -> Iterator[IngestResult]:
    """Validated chunks of ``chunk_rows`` rows of a ``.csv``, ``.csv.gz``, ``.parquet`` or ``.pq``.

    The file is opened and its layout checked before this returns: an unknown suffix, a missing
    file, an empty file or a missing ``timestamp`` column raise :class:`ValidationError` here.
    Each result's ``rows`` counts file rows, so ``sum(r.rows)`` tracks :func:`file_rows`.
    """
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be positive")
    path = Path(path)
    source: Source = ParquetSource(path) if _kind(path) == "parquet" else CsvSource(path)
    layout = _layout(source.columns, signal, path.name)
    source.open(layout.columns)
    options: dict[str, Any] = {
        "reject_out_of_range": reject_out_of_range,
        "max_future_s": max_future_s,
        "now_ns": now_ns,
    }
    return _results(source, layout, catalog, chunk_rows, options)


def file_rows(path: str | Path) -> int | None:
    """Data rows in a file, for a progress bar: exact for Parquet, estimated for CSV.

    The CSV estimate extrapolates the first MiB (for ``.csv.gz``, the compressed bytes it took)
    over the file size; it is exact for files that small. ``None`` when the file cannot be read.
    """
    path = Path(path)
    try:
        if _kind(path) == "parquet":
            with pq.ParquetFile(path) as parquet:
                return int(parquet.metadata.num_rows)
        size = path.stat().st_size
        with path.open("rb") as raw:
            sample, consumed, whole = (_gzip_sample if _is_gzip(path) else _plain_sample)(raw)
    except (OSError, EOFError, zlib.error, ValidationError, pa.ArrowException):
        return None
    lines = sample.count(b"\n") + (1 if sample and not sample.endswith(b"\n") else 0)
    if whole:
        return max(lines - 1, 0)
    return max(round(lines * size / max(consumed, 1)) - 1, 0)


def _plain_sample(raw: BinaryIO) -> tuple[bytes, int, bool]:
    sample = raw.read(_ESTIMATE_SAMPLE_BYTES)
    return sample, len(sample), not raw.read(1)


def _gzip_sample(raw: BinaryIO) -> tuple[bytes, int, bool]:
    """The first MiB decompressed, and exactly how many compressed bytes it took.

    (``GzipFile`` reads ahead, so its file position says little about a well-compressed file.)
    """
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    sample, consumed = bytearray(), 0
    while len(sample) < _ESTIMATE_SAMPLE_BYTES and not inflate.eof:
        compressed = inflate.unconsumed_tail or raw.read(1 << 16)
        if not compressed:
            break
        sample += inflate.decompress(compressed, _ESTIMATE_SAMPLE_BYTES - len(sample))
        consumed += len(compressed) - len(inflate.unconsumed_tail)
    return bytes(sample), consumed, inflate.eof


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    raise ValidationError(
        f"{path.name}: unknown file type; give .csv, .csv.gz, .parquet or .pq",
        field="path",
        rule="format",
    )


def _is_gzip(path: Path) -> bool:
    return path.name.lower().endswith(".gz")


# -- layout --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Layout:
    timestamp: str
    signal_column: str | None = None  # long
    signal: str | None = None  # one signal
    value: str | None = None
    quality: str | None = None
    wide: tuple[str, ...] = ()  # wide: the signal columns

    @property
    def columns(self) -> list[str]:
        named = [self.timestamp, self.signal_column, self.value, self.quality]
        return [c for c in named if c is not None] + list(self.wide)


def _layout(columns: list[str], signal: str | None, name: str) -> _Layout:
    by_name = {column.strip().lower(): column for column in columns}
    listed = ", ".join(columns)
    if "timestamp" not in by_name:
        raise ValidationError(
            f"{name} has no timestamp column (columns: {listed})",
            field="timestamp",
            rule="required",
        )
    timestamp = by_name["timestamp"]
    quality = by_name.get("quality")
    if "signal" in by_name:
        if signal is not None:
            raise ValidationError(
                f"{name} has a signal column; give no signal for it", field="signal", rule="layout"
            )
        if "value" not in by_name:
            raise ValidationError(
                f"{name} has a signal column but no value column (columns: {listed})",
                field="value",
                rule="required",
            )
        return _Layout(timestamp, by_name["signal"], None, by_name["value"], quality)
    if signal is not None:
        others = [c for c in columns if c not in (timestamp, quality)]
        value = by_name.get("value") or (others[0] if len(others) == 1 else None)
        if value is None:
            raise ValidationError(
                f"{name}: with one signal give timestamp,value[,quality] (columns: {listed})",
                field="value",
                rule="required",
            )
        return _Layout(timestamp, None, signal, value, quality)
    if "value" in by_name:
        raise ValidationError(
            f"{name} has a value column but no signal column: name its signal (signal=...)",
            field="signal",
            rule="required",
        )
    wide = tuple(c for c in columns if c != timestamp)
    if not wide:
        raise ValidationError(f"{name} has no value columns", field="value", rule="required")
    return _Layout(timestamp, wide=wide)


# -- validation ----------------------------------------------------------------------------------


def _results(
    source: Source,
    layout: _Layout,
    catalog: SignalCatalog,
    chunk_rows: int,
    options: dict[str, Any],
) -> Iterator[IngestResult]:
    last: dict[str, int] = {}  # per signal, the latest accepted timestamp: monotonic across chunks
    chunks = source.chunks(chunk_rows)
    while True:
        try:
            chunk = next(chunks, None)
        except (pa.ArrowException, OSError) as error:
            raise unreadable(source.path, error) from error
        if chunk is None:
            return
        table, rows, malformed = chunk
        result = (
            _validate(table, rows, layout, catalog, last, options)
            if table.num_rows
            else IngestResult.empty()
        )
        if malformed:
            result = replace(
                result,
                errors=sorted(result.errors + malformed, key=lambda error: error.row),
                rows=result.rows + len(malformed),
                samples=result.submitted + len(malformed),
            )
        yield result


def _validate(
    table: pa.Table,
    rows: npt.NDArray[np.int64],
    layout: _Layout,
    catalog: SignalCatalog,
    last: dict[str, int],
    options: dict[str, Any],
) -> IngestResult:
    if not layout.wide:
        assert layout.value is not None
        signals = table[layout.signal_column] if layout.signal_column else layout.signal
        quality = table[layout.quality] if layout.quality else None
        return validate_columns(
            signals,
            table[layout.timestamp],
            table[layout.value],
            quality,
            catalog,
            row_numbers=rows,
            last_timestamps=last,
            **options,
        )
    signals, positions, values = _stack(table, layout.wide)
    result = validate_columns(
        signals,
        table[layout.timestamp].combine_chunks().take(pa.array(positions)),
        values,
        None,
        catalog,
        row_numbers=rows[positions],
        last_timestamps=last,
        **options,
    )
    return replace(result, rows=table.num_rows, samples=len(positions))


def _stack(table: pa.Table, names: tuple[str, ...]) -> tuple[Any, npt.NDArray[np.int64], Any]:
    """A wide table as long columns: (signal, row position, value) of every non-empty cell."""
    codes, positions, parts = [], [], []
    for code, name in enumerate(names):
        column = table[name].combine_chunks()
        present = np.flatnonzero(column.is_valid().to_numpy(zero_copy_only=False))
        codes.append(np.full(len(present), code, np.int32))
        positions.append(present)
        parts.append(column.take(pa.array(present)))
    if len({part.type for part in parts}) > 1:
        numeric = all(pa.types.is_integer(p.type) or pa.types.is_floating(p.type) for p in parts)
        parts = [part.cast(pa.float64() if numeric else pa.string()) for part in parts]
    signals = pa.DictionaryArray.from_arrays(
        pa.array(np.concatenate(codes)), pa.array(list(names), pa.string())
    )
    return signals, np.concatenate(positions), pa.concat_arrays(parts)

"""Readers of CSV and Parquet files: chunks of rows with their 1-based data row numbers.

CSV is read as text columns, single-threaded, so that one bad cell is one bad row (never a failed
import) and malformed records arrive in order with their line numbers.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from werk.core import ValidationError
from werk.ingest.report import RowError

_CSV_BLOCK_BYTES = 4 << 20

Chunk = tuple[pa.Table, npt.NDArray[np.int64], list[RowError]]
"""Rows of a file, their 1-based data row numbers, and malformed records among them."""


class Source:
    path: Path
    columns: list[str]

    def open(self, columns: list[str]) -> None:
        """Start reading ``columns``; raise here, not mid-import, if there is nothing to read."""

    def chunks(self, chunk_rows: int) -> Iterator[Chunk]:
        raise NotImplementedError


class ParquetSource(Source):
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            with pq.ParquetFile(path) as parquet:
                self.columns = list(parquet.schema_arrow.names)
                rows = parquet.metadata.num_rows
        except FileNotFoundError as error:
            raise _not_found(path) from error
        except (pa.ArrowException, OSError) as error:
            raise unreadable(path, error) from error
        if rows == 0:
            raise _empty(path)
        self._columns = self.columns

    def open(self, columns: list[str]) -> None:
        self._columns = columns

    def chunks(self, chunk_rows: int) -> Iterator[Chunk]:
        first = 1
        with pq.ParquetFile(self.path) as parquet:
            batches = parquet.iter_batches(batch_size=chunk_rows, columns=self._columns)
            for table in rechunk(batches, chunk_rows):
                rows = np.arange(first, first + table.num_rows, dtype=np.int64)
                first += table.num_rows
                yield table, rows, []


class CsvSource(Source):
    """CSV read as text columns, so one bad cell is one bad row, never a failed import."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.malformed: list[tuple[int, str]] = []  # (data row, what was wrong), in file order
        self._batches: Iterator[pa.RecordBatch] = iter(())
        if not path.exists():
            raise _not_found(path)
        self.delimiter = ","
        with self._translated():
            # Only the header matters here; types come later, all as text.
            self.columns = list(self._reader(None).schema.names)
            if len(self.columns) == 1:
                # Spreadsheets in many locales write ";"; exports from historians often tabs.
                other = next((d for d in ";\t|" if d in self.columns[0]), None)
                if other is not None:
                    self.delimiter = other
                    self.columns = list(self._reader(None).schema.names)

    def open(self, columns: list[str]) -> None:
        with self._translated():
            reader = self._reader(columns)
            peeked = []
            for batch in reader:
                peeked.append(batch)
                if batch.num_rows:
                    break
        if not any(batch.num_rows for batch in peeked) and not self.malformed:
            raise _empty(self.path)
        self._batches = itertools.chain(peeked, reader)

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except (pa.ArrowException, OSError) as error:
            if "Empty CSV" in str(error):
                raise _empty(self.path) from error
            raise unreadable(self.path, error) from error

    def _reader(self, columns: list[str] | None) -> Any:
        self.malformed = []
        convert = pacsv.ConvertOptions(
            column_types=dict.fromkeys(columns, pa.string()) if columns else None,
            include_columns=columns,
            strings_can_be_null=True,
            null_values=[""],  # only an empty cell is missing: "NaN" is a value
        )
        return pacsv.open_csv(
            self.path,
            # Single-threaded, so malformed records arrive in order and with line numbers.
            read_options=pacsv.ReadOptions(use_threads=False, block_size=_CSV_BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(
                delimiter=self.delimiter, invalid_row_handler=self._malformed
            ),
            convert_options=convert,
        )

    def _malformed(self, row: Any) -> str:
        line = row.number or 0  # physical line; the header is line 1
        self.malformed.append(
            (line - 1, f"expected {row.expected_columns} fields, got {row.actual_columns}")
        )
        return "skip"

    def chunks(self, chunk_rows: int) -> Iterator[Chunk]:
        good = 0  # well-formed rows read so far
        passed = 0  # malformed records before them
        for table in rechunk(self._batches, chunk_rows):
            ordinal = np.arange(good + 1, good + table.num_rows + 1, dtype=np.int64)
            rows = self._data_rows(ordinal, passed)
            good += table.num_rows
            last = int(rows[-1])
            upto = passed
            while upto < len(self.malformed) and self.malformed[upto][0] <= last:
                upto += 1
            yield table, rows, self._errors(passed, upto)
            passed = upto
        if passed < len(self.malformed):
            yield pa.table({}), np.empty(0, np.int64), self._errors(passed, None)

    def _data_rows(self, ordinal: npt.NDArray[np.int64], passed: int) -> npt.NDArray[np.int64]:
        """Data row of the k-th well-formed row: k plus the malformed records before it."""
        if passed == len(self.malformed):
            return ordinal + passed
        skipped = np.array([row for row, _ in self.malformed[passed:]], np.int64)
        # Malformed record i (0-based overall) has skipped[i] - i - 1 good rows before it.
        good_before = skipped - np.arange(passed, passed + len(skipped)) - 1
        return ordinal + passed + np.searchsorted(good_before, ordinal, side="left")

    def _errors(self, start: int, stop: int | None) -> list[RowError]:
        return [
            RowError(row, None, "row", "columns", f"malformed record: {message}")
            for row, message in self.malformed[start:stop]
        ]


def rechunk(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """Tables of exactly ``rows`` rows (the last may be shorter), however the reader splits."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        if not batch.num_rows:
            continue
        pending.append(batch)
        count += batch.num_rows
        while count >= rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, rows)
            rest = table.slice(rows)
            pending, count = rest.to_batches(), rest.num_rows
    if count:
        yield pa.Table.from_batches(pending)


def _not_found(path: Path) -> ValidationError:
    return ValidationError(f"{path}: no such file", field="path", rule="not-found")


def _empty(path: Path) -> ValidationError:
    return ValidationError(f"{path.name} is empty: no data rows", field="path", rule="empty")


def unreadable(path: Path, error: BaseException) -> ValidationError:
    hint = "; save it as UTF-8" if "UTF8" in str(error) else ""
    return ValidationError(
        f"{path.name} cannot be read: {error}{hint}", field="path", rule="format"
    )

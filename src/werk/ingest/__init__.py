"""Ingest: validate and decode samples from HTTP bodies (JSON, Arrow IPC) and files (CSV, Parquet).

Bulk input is validated leniently: good samples are kept in a batch, bad ones reported row by row
with the rule they broke (:class:`IngestResult`). Input that cannot be read at all — not JSON, a
missing column, an unknown file type — raises :class:`werk.core.ValidationError`.

The HTTP endpoint calls :func:`decode_json` / :func:`decode_arrow`; ``werk import`` iterates
:func:`iter_file`, writing each chunk's batch and merging the results::

    total = IngestResult.empty()
    for chunk in iter_file(path, catalog):
        store.write(chunk.batch)
        total = total.merge(chunk, keep_batch=False, max_errors=1000)
"""

from werk.ingest.decode import decode_arrow, decode_json
from werk.ingest.files import file_rows, iter_file
from werk.ingest.report import IngestResult, RowError
from werk.ingest.validate import MAX_FUTURE_S, validate_columns

__all__ = [
    "MAX_FUTURE_S",
    "IngestResult",
    "RowError",
    "decode_arrow",
    "decode_json",
    "file_rows",
    "iter_file",
    "validate_columns",
]

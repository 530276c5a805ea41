"""``werk import``: history files into the store, chunk by chunk, with a progress bar.

Straight into the configured store when no werk runs (fastest), or through a running werk's
``POST /api/v1/samples`` (``--api``): a DuckDB file is locked by the process that serves it.
"""

from __future__ import annotations

import math
from pathlib import Path

import httpx
import pyarrow as pa
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from werk.cli.http import raise_for_answer
from werk.core import ConfigError, SampleBatch, Signal, SignalCatalog, StoreError
from werk.ingest import IngestResult, RowError, file_rows, iter_file
from werk.settings import Settings
from werk.store.base import open_store

MAX_ERRORS_KEPT = 1_000


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeRemainingColumn(),
        console=console,
    )


def import_into_store(path: Path, settings: Settings, console: Console) -> IngestResult:
    total = IngestResult.empty()
    chunks = iter_file(path, settings.catalog())
    try:
        store = open_store(settings.store.url)
    except StoreError as error:
        raise StoreError(
            f"{error}\nIf werk is running on this store, import through it: "
            "werk import FILE --api http://127.0.0.1:8080 --token TOKEN"
        ) from error
    try:
        with _progress(console) as progress:
            task = progress.add_task(f"importing {path.name}", total=file_rows(path))
            for chunk in chunks:
                store.write(chunk.batch)
                total = total.merge(chunk, keep_batch=False, max_errors=MAX_ERRORS_KEPT)
                progress.update(task, advance=chunk.rows)
    finally:
        store.close()
    return total


def import_via_api(
    path: Path, catalog: SignalCatalog, base_url: str, token: str, console: Console
) -> IngestResult:
    """Validate locally against the server's signals, then post each chunk as Arrow IPC."""
    headers = {"Authorization": f"Bearer {token}"}
    total = IngestResult.empty()
    with httpx.Client(base_url=base_url, headers=headers, timeout=120) as client:
        server_catalog = _server_catalog(client, catalog)
        with _progress(console) as progress:
            task = progress.add_task(f"importing {path.name}", total=file_rows(path))
            for chunk in iter_file(path, server_catalog):
                refused = _post(client, chunk.batch)
                chunk.errors.extend(refused)
                total = total.merge(chunk, keep_batch=False, max_errors=MAX_ERRORS_KEPT)
                progress.update(task, advance=chunk.rows)
    return total


def _server_catalog(client: httpx.Client, local: SignalCatalog) -> SignalCatalog:
    try:
        response = client.get("/api/v1/signals")
    except httpx.TransportError as error:
        raise ConfigError(f"no werk answers at {client.base_url}: {error}") from error
    raise_for_answer(response)
    catalog = SignalCatalog(local.values())
    for raw in response.json()["signals"]:
        if raw["id"] not in catalog:
            low, high = raw.get("minimum"), raw.get("maximum")
            catalog.add(
                Signal(
                    id=raw["id"],
                    unit=raw.get("unit") or "1",
                    minimum=-math.inf if low is None else low,
                    maximum=math.inf if high is None else high,
                )
            )
    return catalog


def _post(client: httpx.Client, batch: SampleBatch) -> list[RowError]:
    """Post a validated batch; the server re-validates, and what it refuses is reported here."""
    if not len(batch):
        return []
    table = pa.table(
        {
            "signal": pa.DictionaryArray.from_arrays(pa.array(batch.index), pa.array(batch.names)),
            "timestamp": pa.array(batch.timestamps, pa.int64()),
            "value": pa.array(batch.values),
            "quality": pa.array(batch.quality),
        }
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    response = client.post(
        "/api/v1/samples",
        content=sink.getvalue().to_pybytes(),
        headers={"Content-Type": "application/vnd.apache.arrow.stream"},
    )
    if response.status_code == 422:
        body = response.json()
        return [RowError(**e) for e in body.get("errors", [])]
    raise_for_answer(response)
    return [RowError(**e) for e in response.json().get("errors", [])]

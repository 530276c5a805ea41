"""``werk query``: history over HTTP from a running werk, or straight from the store."""

from __future__ import annotations

from typing import Any

import httpx

from werk.api.encode import AGGREGATES, rollup_rows, sample_rows
from werk.cli.http import raise_for_answer
from werk.settings import Settings
from werk.store.base import open_store


def fetch_history(
    settings: Settings,
    base_url: str,
    token: str | None,
    signal: str,
    start: int,
    end: int,
    bucket: int,
    raw: bool,
    limit: int,
) -> list[dict[str, Any]]:
    """Rows with ``timestamp`` (ISO) and either value/quality (raw) or min/mean/max/last/count."""
    params: dict[str, Any] = {"signal": signal, "start": str(start), "end": str(end)}
    if raw:
        params["limit"] = limit
    else:
        params["bucket"] = f"{bucket}ns"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.get(
            f"{base_url}/api/v1/history", params=params, headers=headers, timeout=30
        )
    except httpx.TransportError:
        return _from_store(settings, signal, start, end, bucket, raw, limit)
    raise_for_answer(response)
    body = response.json()
    return [_normalise(row) for row in body.get("samples", body.get("rows", []))]


def _normalise(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row.setdefault("timestamp", row.get("bucket", ""))
    return row


def _from_store(
    settings: Settings, signal: str, start: int, end: int, bucket: int, raw: bool, limit: int
) -> list[dict[str, Any]]:
    """The same rows the API answers with, read from the store itself."""
    store = open_store(settings.store.url)
    try:
        if raw:
            return sample_rows(store.read(signal, start, end, limit=limit))
        rollup = store.rollup([signal], start, end, bucket)
        return [_normalise(row) for row in rollup_rows(rollup, AGGREGATES)]
    finally:
        store.close()

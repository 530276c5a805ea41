"""What signals there are: the catalog, plus any in the store that the catalog no longer names."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Depends
from starlette.exceptions import HTTPException

from werk.api.auth import Principal, read_access
from werk.api.encode import latest_rows
from werk.api.params import get_runtime
from werk.core import Signal
from werk.runtime import Runtime

router = APIRouter(tags=["signals"])


def _bound(value: float) -> float | None:
    return value if math.isfinite(value) else None  # unbounded: JSON has no infinity


def signal_dict(signal_id: str, signal: Signal | None, stored: bool) -> dict[str, Any]:
    if signal is None:  # known only from history: the catalog no longer describes it
        return {
            "id": signal_id,
            "unit": None,
            "description": "",
            "minimum": None,
            "maximum": None,
            "asset": "",
            "expected_interval_s": None,
            "in_catalog": False,
            "stored": stored,
        }
    return {
        "id": signal.id,
        "unit": signal.unit,
        "description": signal.description,
        "minimum": _bound(signal.minimum),
        "maximum": _bound(signal.maximum),
        "asset": signal.asset,
        "expected_interval_s": signal.expected_interval_s,
        "in_catalog": True,
        "stored": stored,
    }


@router.get("/signals", summary="Every known signal with unit, range, description and asset")
async def list_signals(
    runtime: Runtime = Depends(get_runtime), _: Principal = Depends(read_access)
) -> dict[str, Any]:
    stored = set(await runtime.query(runtime.store.signal_names))
    ids = sorted(set(runtime.catalog) | stored)
    return {"signals": [signal_dict(i, runtime.catalog.get(i), i in stored) for i in ids]}


@router.get("/signals/{signal_id:path}", summary="One signal, with its latest value")
async def get_signal(
    signal_id: str, runtime: Runtime = Depends(get_runtime), _: Principal = Depends(read_access)
) -> dict[str, Any]:
    latest = runtime.state.get([signal_id])
    stored = bool(latest) or await runtime.query(runtime.store.count, signal_id) > 0
    signal = runtime.catalog.get(signal_id)
    if signal is None and not stored:
        raise HTTPException(
            404, f"unknown signal {signal_id!r}: not in the catalog and no history stored"
        )
    body = signal_dict(signal_id, signal, stored)
    rows = latest_rows(latest)
    body["latest"] = rows[0] if rows else None
    return body

"""Data quality and the detectors: coverage per asset, what each signal's screen found, and
what each detector is looking at now (score, anomalies, warm-up)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from werk.api.auth import Principal, read_access
from werk.api.params import get_runtime
from werk.core import Signal
from werk.runtime import Runtime

router = APIRouter(tags=["analytics"])


@router.get(
    "/quality",
    summary="Data-quality coverage per asset (share of signals fresh and plausible) and what "
    "the screen found per signal",
)
async def quality(
    asset: Annotated[str | None, Query(description="only this asset")] = None,
    runtime: Runtime = Depends(get_runtime),
    _: Principal = Depends(read_access),
) -> dict[str, Any]:
    signals = [s for s in runtime.catalog.values() if asset is None or s.asset == asset]
    ids = [s.id for s in signals]
    assets = coverage_now(runtime, signals)
    screened = runtime.quality.summary(ids) if runtime.quality is not None else {}
    return {"enabled": runtime.quality is not None, "assets": assets, "signals": screened}


def coverage_now(runtime: Runtime, signals: Iterable[Signal]) -> dict[str, dict[str, Any]]:
    """Coverage per asset of ``signals`` as the twin's live state and the screen see them now."""
    from werk.analytics.coverage import coverage

    chosen = list(signals)
    latest = runtime.state.get([s.id for s in chosen])
    stale = runtime.state.stale(runtime.clock.now_ns())
    return coverage(chosen, latest, stale, runtime.quality)


@router.get("/detectors", summary="Every detector: what it watches, its newest score, anomalies")
async def detectors(
    runtime: Runtime = Depends(get_runtime), _: Principal = Depends(read_access)
) -> dict[str, Any]:
    service = runtime.analytics
    if service is None:
        return {"enabled": False, "signals": [], "machines": []}
    return {"enabled": True, **service.status()}

"""Data quality and the detectors: coverage per asset, what each signal's screen found, and
what each detector is looking at now (score, anomalies, warm-up)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from werk.api.auth import Principal, read_access
from werk.api.params import get_runtime
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
    from werk.analytics.coverage import coverage

    signals = [s for s in runtime.catalog.values() if asset is None or s.asset == asset]
    ids = [s.id for s in signals]
    assets = coverage(
        signals,
        runtime.state.get(ids),
        runtime.state.stale(runtime.clock.now_ns()),
        runtime.quality,
    )
    screened = runtime.quality.summary(ids) if runtime.quality is not None else {}
    return {"enabled": runtime.quality is not None, "assets": assets, "signals": screened}


@router.get("/detectors", summary="Every detector: what it watches, its newest score, anomalies")
async def detectors(
    runtime: Runtime = Depends(get_runtime), _: Principal = Depends(read_access)
) -> dict[str, Any]:
    service = runtime.analytics
    if service is None:
        return {"enabled": False, "signals": [], "machines": []}
    return {"enabled": True, **service.status()}

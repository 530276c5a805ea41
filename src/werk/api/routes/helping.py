"""Is it helping? One page of the signals that say whether werk's AI is earning its keep or
creating new failure modes.

* **alarms**: precision (what operators acknowledged as real against what they dismissed),
  alarms per operator-hour against ISA-18.2's benchmark, floods, chattering and bad actors;
* **detectors**: each detector's share of samples judged anomalous and the drift of its inputs
  (PSI of the newest inputs against those it learnt on) — a detector whose inputs drifted judges
  by an out-of-date idea of normal;
* **data quality**: per asset, the share of signals fresh and plausible (a detector is no better
  than its inputs);
* **predictions**: remaining-life predictions against what happened (early/late, interval hits);
* **changes**: the changes marked in the window, each with where to compare KPIs before and after.

Every part is also an endpoint of its own (``/alarms/kpis``, ``/detectors``, ``/quality``,
``/maintenance``, ``/kpis/compare``); this one puts them side by side, with a verdict per part.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from werk.api.auth import Principal, read_access
from werk.api.params import HOUR_NS, TIME_HELP, get_runtime, time_window
from werk.api.routes.alarms import kpis_of
from werk.api.routes.quality import coverage_now
from werk.core import iso
from werk.runtime import Runtime

router = APIRouter(tags=["analytics"])

PRECISION_LOW = 0.5
"""Fewer than half of the judged alarms real: operators learn to ignore them."""
DETECTOR_NOISY = 0.05
"""A detector calling more than 5 % of samples anomalous is describing normal, not anomalies."""
COVERAGE_LOW = 0.9


@router.get("/helping", summary="Is it helping? Alarms, detectors, data quality, predictions")
async def helping(
    start: Annotated[str | None, Query(description=f"{TIME_HELP}; default: end - 7d")] = None,
    end: Annotated[str | None, Query(description=f"{TIME_HELP}; default: now")] = None,
    runtime: Runtime = Depends(get_runtime),
    _: Principal = Depends(read_access),
) -> dict[str, Any]:
    from werk.analytics.alarms.history import read_events
    from werk.maintenance.report import KINDS, overview

    start_ns, end_ns = time_window(start, end, runtime.clock.now_ns(), 7 * 24 * HOUR_NS)

    def read() -> tuple[list[Any], list[Any], list[Any]]:
        alarm_events = read_events(runtime.store, "alarm", start_ns, end_ns)
        maintenance = [
            e for kind in KINDS for e in runtime.store.events(start_ns, end_ns, kind=kind)
        ]
        changes = runtime.store.events(start_ns, end_ns, kind="change.marked")
        return alarm_events, maintenance, changes

    alarm_events, maintenance_events, changes = await runtime.query(read)
    alarms = kpis_of(runtime, alarm_events, start_ns, end_ns, now=end is None)
    detectors = _detectors(runtime)
    quality = coverage_now(runtime, runtime.catalog.values())
    predictions = overview(maintenance_events)["monitoring"]
    findings = _findings(alarms, detectors, quality)
    return {
        "start": iso(start_ns),
        "end": iso(end_ns),
        "findings": findings,
        "alarms": alarms,
        "detectors": detectors,
        "quality": quality,
        "predictions": predictions,
        "changes": [
            {
                "id": e.id,
                "title": e.data.get("title"),
                "at": iso(int(e.data.get("at") or e.timestamp)),
                "by": e.context.user,
                "compare": f"/api/v1/kpis/compare?change={e.id}",
            }
            for e in changes
        ],
    }


def _detectors(runtime: Runtime) -> list[dict[str, Any]]:
    if runtime.analytics is None:
        return []
    status = runtime.analytics.status()
    out = []
    for row in status["signals"]:
        if not row["detector"]:
            continue
        scored = row["scored"]
        out.append(
            {
                "source": row["signal"],
                "detector": row["detector"],
                "anomalous_share": round(row["anomalous_samples"] / scored, 4) if scored else None,
                "active": row["anomalous"],
                "drift": row["drift"],
            }
        )
    for row in status["machines"]:
        out.append(
            {
                "source": row["asset"],
                "detector": row["detector"],
                "anomalous_share": None,
                "active": row["anomalous"],
                "drift": row["drift"],
            }
        )
    return out


def _findings(
    alarms: dict[str, Any], detectors: list[dict[str, Any]], quality: dict[str, Any]
) -> list[str]:
    """Plain sentences for what needs a look; empty when nothing does."""
    found = []
    precision = alarms.get("precision", {}).get("precision")
    if precision is not None and precision < PRECISION_LOW:
        found.append(
            f"alarm precision {precision:.0%}: most judged alarms were dismissed as false — "
            "review the bad actors' thresholds"
        )
    verdict = alarms.get("rates", {}).get("benchmark")
    if verdict and verdict != "very likely acceptable":
        per_hour = alarms["rates"].get("per_operator_hour")
        found.append(f"alarm rate {per_hour} per operator-hour: {verdict} (ISA-18.2)")
    for d in detectors:
        share = d["anomalous_share"]
        if share is not None and share > DETECTOR_NOISY:
            found.append(
                f"detector {d['detector']} on {d['source']} calls {share:.0%} of samples "
                "anomalous: it is describing normal operation"
            )
        drifted = (d["drift"] or {}).get("drifted")
        if drifted:
            found.append(
                f"inputs of {d['detector']} on {d['source']} drifted ({', '.join(drifted)}): "
                "its idea of normal is out of date"
            )
    for asset, row in quality.items():
        if row["coverage"] is not None and row["coverage"] < COVERAGE_LOW:
            found.append(
                f"{asset}: only {row['covered']} of {row['signals']} signals fresh and plausible"
            )
    return found

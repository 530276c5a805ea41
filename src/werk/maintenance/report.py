"""The state of predictive maintenance, read back from the events the service recorded.

The API answers from the store, not from the service's memory: the record then survives a
restart, and an API process shows what a maintenance worker elsewhere predicted. Pure: events in,
a JSON-ready dict out (``GET /api/v1/maintenance``).

- ``assets``: the newest ``maintenance.rul`` of each asset (health index, remaining life, interval);
- ``work_orders``: suggestions not yet closed by a ``maintenance.failure`` or
  ``maintenance.performed`` of their asset;
- ``monitoring``: the outcomes judged in the window, summarised as the service's
  :class:`~werk.maintenance.monitoring.PredictionMonitor` does (verdicts early/late/on-time, RMSE,
  mean error, interval coverage), overall and per model version, and the newest outcomes;
- ``drift``: the newest ``maintenance.drift`` report of each model version.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from werk.core import Event, iso
from werk.maintenance.monitoring import Outcome, PredictionMonitor
from werk.maintenance.serving import DRIFT, FAILURE, OUTCOME, PERFORMED, RUL, WORK_ORDER_SUGGESTED

KINDS = (RUL, WORK_ORDER_SUGGESTED, OUTCOME, DRIFT, FAILURE, PERFORMED)
"""The event kinds the overview reads."""

RECENT_OUTCOMES = 20


def overview(events: Iterable[Event]) -> dict[str, Any]:
    """The overview of ``events`` (any order; other kinds are ignored)."""
    ordered = sorted(events, key=lambda e: (e.timestamp, e.id))
    latest: dict[str, Event] = {}
    suggested: dict[str, list[Event]] = {}
    outcomes: list[Outcome] = []
    drift: dict[str, Event] = {}
    for event in ordered:
        if event.kind == RUL:
            latest[event.source] = event
        elif event.kind == WORK_ORDER_SUGGESTED:
            suggested.setdefault(event.source, []).append(event)
        elif event.kind in {FAILURE, PERFORMED}:
            asset = str(event.data.get("asset") or event.source)
            suggested.pop(asset, None)  # the asset was maintained (or failed): nothing is open
        elif event.kind == OUTCOME:
            outcomes.append(Outcome.from_dict(event.data))
        elif event.kind == DRIFT:
            drift[event.source] = event
    return {
        "assets": [_estimate(latest[a]) for a in sorted(latest)],
        "work_orders": [_suggestion(e) for a in sorted(suggested) for e in suggested[a]],
        "monitoring": _monitoring(outcomes),
        "drift": [_drift(drift[v]) for v in sorted(drift)],
    }


def _estimate(event: Event) -> dict[str, Any]:
    data = event.data
    keys = ("health_index", "rul", "rul_lower", "rul_upper", "coverage", "rul_unit", "rul_s")
    return {
        "asset": event.source,
        "timestamp": iso(event.timestamp),
        **{k: data.get(k) for k in keys},
        "failure_expected": _iso(data.get("failure_expected_ns")),
        "failure_earliest": _iso(data.get("failure_earliest_ns")),
        "cycle": data.get("cycle"),
        "model_version": data.get("model_version"),
        "event_id": event.id,
    }


def _suggestion(event: Event) -> dict[str, Any]:
    data = event.data
    return {
        "machine": data.get("machine", event.source),
        "since": _iso(data.get("since")),
        "until": _iso(data.get("until")),
        "expected_duration": data.get("expected_duration"),
        "reason": data.get("reason"),
        "rul": data.get("rul"),
        "rul_lower": data.get("rul_lower"),
        "model_version": data.get("model_version"),
        "suggested": iso(event.timestamp),
        "event_id": event.id,
        "since_ns": data.get("since"),  # as the planner's machine.down wants them
        "until_ns": data.get("until"),
    }


def _monitoring(outcomes: list[Outcome]) -> dict[str, Any]:
    versions = sorted({o.model_version for o in outcomes})
    return {
        **PredictionMonitor(outcomes=outcomes).summary(),
        "by_model_version": {
            version: PredictionMonitor(
                outcomes=[o for o in outcomes if o.model_version == version]
            ).summary()
            for version in versions
        },
        "recent": [
            {**o.to_dict(), "timestamp": iso(o.timestamp), "ns": o.timestamp}
            for o in reversed(outcomes[-RECENT_OUTCOMES:])
        ],
    }


def _drift(event: Event) -> dict[str, Any]:
    data = event.data
    return {
        "model_version": event.source,
        "timestamp": iso(event.timestamp),
        "drifted": list(data.get("drifted", [])),
        "moderate": list(data.get("moderate", [])),
        "worst_psi": data.get("worst_psi"),
        "rows": data.get("rows"),
        "top": data.get("top", []),
    }


def _iso(ns: Any) -> str | None:
    return iso(int(ns)) if isinstance(ns, int | float) else None

"""SPC charts, OEE with its losses, before/after KPI comparison, and the changes they are
compared around.

The figures are computed on request from the stored history (``werk.analytics.spc``, ``.oee``,
``.compare``), so they are the same whichever process records the data. A change is an event
(``change.marked``, data ``{title, description, at}``) emitted through the runtime like every
other event, and read back from the store.
"""

from __future__ import annotations

from typing import Annotated, Any, cast

import numpy as np
from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from werk.analytics import compare as kpi_compare
from werk.analytics import oee as oee_calc
from werk.analytics import spc as spc_calc
from werk.api.auth import Principal, engineer_access, read_access
from werk.api.encode import event_row, json_safe
from werk.api.params import HOUR_NS, TIME_HELP, get_runtime, instant, time_window
from werk.core import Context, Event, Quality, ValidationError, iso
from werk.runtime import Runtime
from werk.store.base import TimeSeriesStore

router = APIRouter(tags=["analytics"])

DAY_NS = 24 * HOUR_NS
PAGE = 50_000
MAX_SPC_VALUES = 200_000
MAX_OEE_SPAN_NS = 92 * DAY_NS
BEFORE_WINDOW_NS = 7 * DAY_NS  # how far back the state (and counter) before a window is looked for
CHANGE_KIND = "change.marked"
DEFAULT_IDEAL_CYCLE_S = 2.0  # the virtual plant's cycle
KPIS: dict[str, tuple[str, bool]] = {  # name -> (unit, higher is better)
    "oee": ("1", True),
    "availability": ("1", True),
    "performance": ("1", True),
    "quality": ("1", True),
    "scrap": ("1", False),  # scrap rate: scrap / (good + scrap)
    "downtime": ("min", False),  # minutes DOWN per day, in planned time
    "alarms": ("{alarms}", False),  # alarms shown to the operator per day (alarm.raised)
}
MAX_ALARMS = 200_000

Start = Annotated[str | None, Query(description=f"{TIME_HELP}; default: end - 24h")]
End = Annotated[str | None, Query(description=f"{TIME_HELP}; default: now")]
IdealCycle = Annotated[
    float | None,
    Query(
        gt=0,
        description="ideal cycle time per part, seconds (ISO 22400 PRI); default: the plant "
        f"file's analytics.ideal_cycle_s of the asset, else {DEFAULT_IDEAL_CYCLE_S:g}",
    ),
]
Shifts = Annotated[
    str | None,
    Query(
        description="daily shifts, name=HH:MM-HH:MM, comma-separated (names optional); default: "
        "the asset's calendar in the plant file, else " + oee_calc.DEFAULT_SHIFTS
    ),
]
Zone = Annotated[
    str | None,
    Query(description="the shifts' time zone (IANA), e.g. Europe/Berlin; default UTC"),
]
Breaks = Annotated[str | None, Query(description="planned breaks, HH:MM-HH:MM, comma-separated")]
SmallStop = Annotated[
    float, Query(gt=0, description="idle/blocked/starved stops shorter than this (s) are small")
]


# -- reading the store ----------------------------------------------------------------------------


def _read(
    store: TimeSeriesStore,
    signal: str,
    start: int,
    end: int,
    *,
    cap: int | None = None,
    changes_only: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """A signal's samples in ``[start, end)``, paged; BAD and STALE samples read as NaN.

    ``changes_only`` keeps a sample only where the value differs from the one before (a state
    or counter sampled at 10 Hz changes a few times a minute); ``cap`` bounds what is kept.
    """
    stamps: list[np.ndarray] = []
    values: list[np.ndarray] = []
    kept, after, previous = 0, None, np.nan
    while True:
        batch = store.read(signal, start, end, limit=PAGE, after=after)
        if not len(batch):
            break
        ts = np.asarray(batch.timestamps, np.int64)
        x = np.where(batch.quality <= Quality.UNCERTAIN, batch.values, np.nan)
        if changes_only:
            before = np.concatenate([[previous], x[:-1]])
            new = ~((x == before) | (np.isnan(x) & np.isnan(before)))
            previous = x[-1]
            ts, x = ts[new], x[new]
        stamps.append(ts)
        values.append(x)
        kept += len(ts)
        if cap is not None and kept > cap:
            raise ValidationError(
                f"{signal} has more than {cap} samples from {iso(start)} to {iso(end)}: "
                "use a shorter window",
                field="start",
                rule="too-many-samples",
            )
        if len(batch) < PAGE:
            break
        after = int(batch.timestamps[-1])
    if not stamps:
        return np.empty(0, np.int64), np.empty(0)
    return np.concatenate(stamps), np.concatenate(values)


def _last_before(store: TimeSeriesStore, signal: str, start: int) -> tuple[np.ndarray, np.ndarray]:
    """The newest usable sample in the week before ``start`` (from an hourly rollup's ``last``),
    stamped just before ``start``: what a state held, or where a counter stood, at the start."""
    for since in (start - HOUR_NS, start - BEFORE_WINDOW_NS):  # the last hour is usually enough
        rollup = store.rollup([signal], since, start, HOUR_NS)
        if len(rollup):
            return np.array([start - 1], np.int64), np.array([float(rollup.last[-1])])
    return np.empty(0, np.int64), np.empty(0)


def _series_with_start(
    store: TimeSeriesStore, signal: str, start: int, end: int
) -> tuple[np.ndarray, np.ndarray]:
    ts0, x0 = _last_before(store, signal, start)
    ts, x = _read(store, signal, start, end, changes_only=True)
    return np.concatenate([ts0, ts]), np.concatenate([x0, x])


def _known(runtime: Runtime, store_names: list[str], signal: str) -> bool:
    return signal in runtime.catalog or signal in store_names


# -- SPC ------------------------------------------------------------------------------------------


@router.get(
    "/spc/{signal}",
    summary="Shewhart chart of a signal: limits, points, Nelson-rule violations, capability",
    responses={404: {"description": "no such signal"}},
)
async def spc(
    signal: str,
    start: Start = None,
    end: End = None,
    subgroup: Annotated[
        int, Query(ge=1, le=spc_calc.MAX_SUBGROUP, description="1: I-MR chart; 2-10: X̄-R")
    ] = 1,
    baseline_end: Annotated[
        str | None,
        Query(description=f"limits from points before this ({TIME_HELP}); default: all points"),
    ] = None,
    lsl: Annotated[float | None, Query(description="lower spec limit (capability)")] = None,
    usl: Annotated[float | None, Query(description="upper spec limit (capability)")] = None,
    capability: Annotated[
        bool, Query(description="require capability (then lsl or usl must be given)")
    ] = False,
    rules: Annotated[
        str | None, Query(description="Nelson rules to check: 1,2,5 … or 'we' (default: all)")
    ] = None,
    points: Annotated[bool, Query(description="include every plotted point")] = True,
    max_violations: Annotated[
        int, Query(ge=0, le=100_000, description="the newest this many violations (counts: all)")
    ] = 1_000,
    runtime: Runtime = Depends(get_runtime),
    _: Principal = Depends(read_access),
) -> dict[str, Any]:
    now = runtime.clock.now_ns()
    start_ns, end_ns = time_window(start, end, now, DAY_NS)
    baseline_ns = instant(baseline_end, now, "baseline_end") if baseline_end else None
    checked = spc_calc.parse_rules(rules)
    if capability and lsl is None and usl is None:
        raise ValidationError(
            "capability needs a spec limit: give lsl, usl or both", field="lsl", rule="spec-limits"
        )

    def read() -> tuple[np.ndarray, np.ndarray, list[str]]:
        ts, x = _read(runtime.store, signal, start_ns, end_ns, cap=MAX_SPC_VALUES)
        return ts, x, [] if len(ts) else runtime.store.signal_names()

    ts, x, names = await runtime.query(read)
    if not np.isfinite(x).any():
        if not len(ts) and not _known(runtime, names, signal):
            raise HTTPException(404, f"signal {signal!r} is unknown")
        raise ValidationError(
            f"no usable samples of {signal} from {iso(start_ns)} to {iso(end_ns)}",
            field="start",
            rule="empty-window",
        )
    chart = spc_calc.chart(
        ts, x, subgroup=subgroup, baseline_end=baseline_ns, lsl=lsl, usl=usl, rules=checked
    )
    shown = chart.violations[len(chart.violations) - max_violations :] if max_violations else []
    body: dict[str, Any] = {
        "signal": signal,
        "start": iso(start_ns),
        "end": iso(end_ns),
        "baseline_end": iso(baseline_ns) if baseline_ns is not None else None,
        "values": chart.values_used,
        "limits": chart.limits.to_dict(),
        "rules": [
            {
                "rule": spc_calc.RULES[n].name,
                "western_electric": spc_calc.RULES[n].western_electric,
                "description": spc_calc.RULES[n].description,
            }
            for n in checked
        ],
        "counts": chart.counts(),
        "violations": [v.to_dict() for v in shown],
        "violations_left_out": len(chart.violations) - len(shown),
        "capability": chart.capability.to_dict() if chart.capability is not None else None,
    }
    if points:
        body["points"] = [
            {"timestamp": iso(int(t)), "ns": int(t), "value": float(v), "range": r, "z": z}
            for t, v, r, z in zip(
                chart.timestamps,
                chart.plotted,
                json_safe(chart.ranges.tolist()),
                json_safe(chart.z.tolist()),
                strict=True,
            )
        ]
    return body


# -- OEE ------------------------------------------------------------------------------------------


def _calendar(
    runtime: Runtime, asset: str, shifts: str | None, tz: str | None, breaks: str | None
) -> tuple[oee_calc.ShiftCalendar, str]:
    """The shifts OEE is planned against, and where they come from: the request's, else the
    asset's calendar in the plant file (inherited down the ISA-95 tree), else the default three
    shifts every day."""
    if shifts is None and tz is None:
        plant = runtime.plant
        calendar = plant.calendar_of(asset) if plant is not None and asset in plant else None
        if calendar is not None:
            return oee_calc.ShiftCalendar.from_plant(calendar, breaks), "plant"
    given = shifts is not None
    chosen = oee_calc.ShiftCalendar.parse(shifts or oee_calc.DEFAULT_SHIFTS, tz or "UTC", breaks)
    return chosen, "request" if given else "default"


def _calendar_row(calendar: oee_calc.ShiftCalendar, source: str) -> dict[str, Any]:
    return {
        "source": source,
        "timezone": calendar.timezone,
        "days": list(calendar.days),
        "shifts": [
            {
                "name": s.name,
                "start": s.start.isoformat("minutes"),
                "end": s.end.isoformat("minutes"),
            }
            for s in calendar.shifts
        ],
        "breaks": [
            f"{a.isoformat('minutes')}-{b.isoformat('minutes')}" for a, b in calendar.breaks
        ],
    }


def _oee_signals(runtime: Runtime, asset: str) -> tuple[str, str, str]:
    """The ids of the asset's state, good-parts and scrap signals: the plant file's
    ``analytics.state_signal`` / ``count_signal`` (default ``state``, ``parts``) and ``scrap``."""
    names = {"state": "state", "parts": "parts", "scrap": "scrap"}
    ids: dict[str, str] = {}
    plant = runtime.plant
    if plant is not None and asset in plant:
        described = plant.asset(asset)
        names["state"] = described.analytics.state_signal
        names["parts"] = described.analytics.count_signal
        ids = {s.name: s.id for s in described.signals}
    state, parts, scrap = (ids.get(n) or f"{asset}.{n}" for n in names.values())
    return state, parts, scrap


async def _machine(
    runtime: Runtime, asset: str, start: int, end: int, small_stop_s: float
) -> oee_calc.MachineHistory:
    """The asset's state and counters from the store; 404 for an asset nobody has heard of."""
    state, parts, scrap = _oee_signals(runtime, asset)

    def read() -> tuple[Any, Any, Any, list[str]]:
        names = runtime.store.signal_names()
        found = _series_with_start(runtime.store, state, start, end)
        counted = _series_with_start(runtime.store, parts, start, end)
        scrapped = None
        if _known(runtime, names, scrap):
            scrapped = _series_with_start(runtime.store, scrap, start, end)
        return found, counted, scrapped, names

    found, counted, scrapped, names = await runtime.query(read)
    if not _known(runtime, names, state):
        raise HTTPException(404, f"asset {asset!r} has no state signal {state!r}")
    if not np.isfinite(found[1]).any():
        raise ValidationError(
            f"no machine states of {asset} from {iso(start)} to {iso(end)} (nor in the week "
            "before)",
            field="start",
            rule="empty-window",
        )
    return oee_calc.history(asset, start, end, found, counted, scrapped, small_stop_s=small_stop_s)


def _oee_window(start: str | None, end: str | None, now: int) -> tuple[int, int]:
    start_ns, end_ns = time_window(start, end, now, DAY_NS)
    end_ns = min(end_ns, now)  # the future is not planned time lost
    if start_ns >= end_ns:
        raise ValidationError("the window is in the future", field="start", rule="future")
    if end_ns - start_ns > MAX_OEE_SPAN_NS:
        raise ValidationError(
            f"OEE windows are at most {MAX_OEE_SPAN_NS // DAY_NS} days",
            field="start",
            rule="max-span",
        )
    return start_ns, end_ns


def _ideal_cycle(runtime: Runtime, asset: str, given: float | None) -> float:
    if given is not None:
        return given
    plant = runtime.plant
    if plant is not None and asset in plant:
        configured = plant.asset(asset).analytics.ideal_cycle_s
        if configured is not None:
            return configured
    return DEFAULT_IDEAL_CYCLE_S


@router.get(
    "/oee",
    summary="OEE per ISO 22400 per shift or day and asset: A, P, Q, six big losses, MTBF, MTTR",
    responses={404: {"description": "no such asset"}},
)
async def oee(
    asset: Annotated[list[str], Query(min_length=1, description="asset id; repeat for several")],
    start: Start = None,
    end: End = None,
    by: Annotated[str, Query(pattern="^(shift|day|total)$")] = "shift",
    ideal_cycle_s: IdealCycle = None,
    shifts: Shifts = None,
    tz: Zone = None,
    breaks: Breaks = None,
    small_stop_s: SmallStop = oee_calc.SMALL_STOP_S,
    startup_s: Annotated[
        float, Query(ge=0, description="scrap this soon after a setup is start-up loss (s)")
    ] = 0.0,
    runtime: Runtime = Depends(get_runtime),
    _: Principal = Depends(read_access),
) -> dict[str, Any]:
    start_ns, end_ns = _oee_window(start, end, runtime.clock.now_ns())
    assets = []
    calendars = []
    for name in dict.fromkeys(asset):
        calendar, source = _calendar(runtime, name, shifts, tz, breaks)
        calendars.append(_calendar_row(calendar, source))
        periods = calendar.periods(start_ns, end_ns, cast(oee_calc.By, by))
        whole = calendar.periods(start_ns, end_ns, "total")
        machine = await _machine(runtime, name, start_ns, end_ns, small_stop_s)
        cycle_s = _ideal_cycle(runtime, name, ideal_cycle_s)
        kwargs = {"ideal_cycle_s": cycle_s, "startup_s": startup_s}
        [total] = oee_calc.figures(machine, whole, **kwargs)
        assets.append(
            {
                "asset": name,
                "ideal_cycle_s": cycle_s,
                "scrap_counter": machine.has_scrap,
                "calendar": calendars[-1],
                "total": total.to_dict(),
                "periods": [f.to_dict() for f in oee_calc.figures(machine, periods, **kwargs)],
            }
        )
    return {
        "start": iso(start_ns),
        "end": iso(end_ns),
        "by": by,
        "ideal_cycle_s": ideal_cycle_s,
        "small_stop_s": small_stop_s,
        "startup_s": startup_s,
        "calendar": calendars[0],  # the first asset's (each asset's is in its entry)
        "assets": assets,
    }


# -- changes and before/after ---------------------------------------------------------------------


class ChangeIn(BaseModel):
    title: str = Field(min_length=1, max_length=200, description="what changed, in a line")
    description: str = Field("", max_length=5_000)
    at: str | None = Field(None, description=f"when it took effect ({TIME_HELP}); default: now")
    asset: str | None = Field(None, description="the asset it concerns, if one")


def _change_row(event: Event) -> dict[str, Any]:
    at = event.data.get("at")
    return {
        "id": event.id,
        "title": event.data.get("title"),
        "description": event.data.get("description", ""),
        "at": iso(int(at)) if isinstance(at, int) else None,
        "at_ns": at,
        "asset": event.source or None,
        "user": event.context.user,
        "marked": iso(event.timestamp),
    }


@router.post(
    "/changes",
    status_code=201,
    summary="Mark a change (engineer): a change.marked event to compare KPIs around",
)
async def mark_change(
    change: Annotated[ChangeIn, Body()],
    principal: Principal = Depends(engineer_access),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    now = runtime.clock.now_ns()
    at = instant(change.at, now, "at") if change.at else now
    user = principal.name if principal is not None else None
    event = Event(
        CHANGE_KIND,
        change.asset or "",
        {"title": change.title, "description": change.description, "at": at},
        Context(user=user),
        timestamp=now,
    )
    await runtime.emit(event, confirm=True)  # stored before the answer: a GET sees it
    return {**_change_row(event), "event": event_row(event)}


@router.get("/changes", summary="Marked changes, newest first")
async def changes(
    start: Annotated[str | None, Query(description=f"{TIME_HELP}; default: end - 365d")] = None,
    end: End = None,
    asset: Annotated[str | None, Query(description="only changes marked for this asset")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1_000,
    runtime: Runtime = Depends(get_runtime),
    _: Principal = Depends(read_access),
) -> dict[str, Any]:
    start_ns, end_ns = time_window(start, end, runtime.clock.now_ns() + 1, 365 * DAY_NS)
    found: list[Event] = await runtime.query(
        runtime.store.events, start_ns, end_ns, kind=CHANGE_KIND, source=asset or None, limit=limit
    )
    return {"changes": [_change_row(e) for e in found]}


async def _find_change(runtime: Runtime, change_id: str) -> Event:
    found: list[Event] = await runtime.query(
        runtime.store.events, 0, runtime.clock.now_ns() + 1, kind=CHANGE_KIND, limit=100_000
    )
    for event in found:
        if event.id == change_id:
            return event
    raise HTTPException(404, f"no marked change with id {change_id!r}")


async def _alarm_times(runtime: Runtime, asset: str, start: int, end: int) -> np.ndarray:
    """When the operator was shown an alarm of ``asset`` (``alarm.raised``, not shelved)."""
    found: list[Event] = await runtime.query(
        runtime.store.events, start, end, kind="alarm.raised", limit=MAX_ALARMS
    )
    if len(found) >= MAX_ALARMS:
        raise ValidationError(
            f"more than {MAX_ALARMS} alarms in the window: compare fewer days",
            field="days",
            rule="too-many-events",
        )
    return np.array(
        [
            e.timestamp
            for e in found
            if e.data.get("annunciated", True)
            and (
                e.data.get("asset") == asset
                or e.source == asset
                or e.source.startswith(f"{asset}.")
            )
        ],
        np.int64,
    )


def _kpi(figures: oee_calc.Figures, kpi: str) -> float | None:
    if not figures.has_data:
        return None
    if kpi == "scrap":
        return figures.scrap_rate
    if kpi == "downtime":
        return figures.losses["breakdowns_s"] / 60.0
    value: float | None = getattr(figures, kpi)
    return value


@router.get(
    "/kpis/compare",
    summary="A KPI per day before and after a change: means, difference, its interval, verdict",
    responses={404: {"description": "no such change or asset"}},
)
async def compare_kpi(
    asset: Annotated[str, Query(description="the asset whose KPI is compared")],
    change: Annotated[str | None, Query(description="a marked change's event id")] = None,
    at: Annotated[str | None, Query(description=f"or the change time ({TIME_HELP})")] = None,
    kpi: Annotated[str, Query(pattern=f"^({'|'.join(KPIS)})$")] = "oee",
    days: Annotated[int, Query(ge=2, le=90, description="days on each side")] = 14,
    method: Annotated[str, Query(pattern="^(welch|bootstrap)$")] = "welch",
    confidence: Annotated[float, Query(ge=0.5, lt=1)] = 0.95,
    ideal_cycle_s: IdealCycle = None,
    shifts: Shifts = None,
    tz: Zone = None,
    breaks: Breaks = None,
    small_stop_s: SmallStop = oee_calc.SMALL_STOP_S,
    runtime: Runtime = Depends(get_runtime),
    _: Principal = Depends(read_access),
) -> dict[str, Any]:
    if (change is None) == (at is None):
        raise ValidationError("give change (an event id) or at (a time), one of them", field="at")
    now = runtime.clock.now_ns()
    marked: dict[str, Any] = {}
    if change is not None:
        event = await _find_change(runtime, change)
        if not isinstance(event.data.get("at"), int):
            raise ValidationError(
                f"change {change!r} has no time (data.at, ns)", field="change", rule="change-time"
            )
        at_ns = int(event.data["at"])
        marked = _change_row(event)
    else:
        assert at is not None
        at_ns = instant(at, now, "at")
        marked = {"at": iso(at_ns), "at_ns": at_ns}
    calendar, _source = _calendar(runtime, asset, shifts, tz, breaks)
    start_ns, end_ns = at_ns - days * DAY_NS, min(at_ns + days * DAY_NS, now)
    if end_ns <= at_ns:
        raise ValidationError("the change is in the future: nothing after it yet", field="at")

    def windows(first: int, count: int) -> list[oee_calc.Period]:
        out = []
        for k in range(count):
            a, b = first + k * DAY_NS, first + (k + 1) * DAY_NS
            if b <= now:  # whole days only: a day in progress is not a day yet
                out.append(oee_calc.Period(iso(a), a, b, calendar.planned_in(a, b)))
        return out

    sides = {"before": windows(start_ns, days), "after": windows(at_ns, days)}
    samples: dict[str, list[dict[str, Any]]] = {}
    if kpi == "alarms":
        raised = await _alarm_times(runtime, asset, start_ns, end_ns)
        for side, periods in sides.items():
            samples[side] = [
                {
                    "start": p.label,
                    "value": float(np.count_nonzero((raised >= p.start) & (raised < p.end))),
                }
                for p in periods
            ]
    else:
        machine = await _machine(runtime, asset, start_ns, end_ns, small_stop_s)
        for side, periods in sides.items():
            cycle_s = _ideal_cycle(runtime, asset, ideal_cycle_s)
            found = oee_calc.figures(machine, periods, ideal_cycle_s=cycle_s)
            samples[side] = [
                {"start": f.period.label, "value": _kpi(f, kpi)}
                for f in found
                if _kpi(f, kpi) is not None
            ]
    unit, higher_is_better = KPIS[kpi]
    result = kpi_compare.compare(
        [s["value"] for s in samples["before"]],
        [s["value"] for s in samples["after"]],
        higher_is_better=higher_is_better,
        confidence=confidence,
        method=method,
    )
    return {
        "asset": asset,
        "kpi": kpi,
        "unit": unit,
        "change": marked,
        "days": days,
        **result.to_dict(),
        "samples": samples,
    }

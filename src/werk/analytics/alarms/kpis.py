"""Is the alarm system helping? Figures over the ``alarm.*`` events of a window.

The benchmarks are those of ANSI/ISA-18.2 (and EEMUA 191, which it follows), per operator:

* average annunciated alarms: about 1 per 10 minutes (6 an hour, 150 a day) is *very likely
  acceptable*; about 2 per 10 minutes (12 an hour, 300 a day) is the *maximum manageable*; more
  is *likely over-demanding*;
* an alarm **flood** is more than 10 alarms in 10 minutes; the share of 10-minute periods in
  flood should stay under about 1 %;
* the ten most frequent alarms (*bad actors*) should be a small share of the total (1-5 %);
  a **chattering** alarm activates 3 or more times within a minute; a **stale** one stays active
  for more than 24 hours.

And the one the standard lacks, because it needs the operator's word: **alarm precision**, the
share of judged alarms the operator acknowledged as real (verdict ``real``) rather than false.

Only annunciated activations count as alarms (an alarm raised while shelved was not shown).
Every function here is pure: events in, JSON-ready figures out.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from werk.analytics.alarms.model import TRANSITION_KINDS
from werk.core import NS_PER_S, Event

TEN_MINUTES_NS = 600 * NS_PER_S
ACCEPTABLE_PER_HOUR = 6.0
MANAGEABLE_PER_HOUR = 12.0
FLOOD_ALARMS = 10
"""More than this many alarms in 10 minutes (per operator) is a flood."""
CHATTER_COUNT = 3
CHATTER_WINDOW_S = 60.0
STALE_AFTER_S = 24 * 3600.0


def annunciated_raises(events: Iterable[Event]) -> list[Event]:
    """The ``alarm.raised`` events the operator saw, oldest first."""
    raised = [e for e in events if e.kind == "alarm.raised" and e.data.get("annunciated", True)]
    raised.sort(key=lambda e: e.timestamp)
    return raised


def rate_verdict(per_hour: float) -> str:
    """Where an average rate per operator-hour stands against ISA-18.2."""
    if per_hour <= ACCEPTABLE_PER_HOUR:
        return "very likely acceptable"
    if per_hour <= MANAGEABLE_PER_HOUR:
        return "manageable"
    return "likely over-demanding"


def rates(raised: Sequence[Event], start: int, end: int, *, operators: int = 1) -> dict[str, Any]:
    """Average and peak alarm rates per operator, and the share of 10-minute periods in flood.

    Periods are the 10-minute slots from ``start``; a trailing partial slot counts as a period.
    """
    span_ns = max(end - start, 1)
    hours = span_ns / (3600 * NS_PER_S)
    per_hour = len(raised) / hours / operators
    slots = max(1, -(-span_ns // TEN_MINUTES_NS))
    counts = Counter(
        (e.timestamp - start) // TEN_MINUTES_NS for e in raised if start <= e.timestamp < end
    )
    per_slot = [counts.get(i, 0) / operators for i in range(slots)]
    flood_slots = sum(1 for c in per_slot if c > FLOOD_ALARMS)
    return {
        "alarms": len(raised),
        "operators": operators,
        "per_operator_hour": round(per_hour, 3),
        "per_operator_10min": round(per_hour / 6, 3),
        "peak_per_operator_10min": round(max(per_slot), 3),
        "benchmark": rate_verdict(per_hour),
        "benchmark_per_hour": {
            "very_likely_acceptable": ACCEPTABLE_PER_HOUR,
            "maximum_manageable": MANAGEABLE_PER_HOUR,
        },
        "ten_minute_periods": slots,
        "flood_periods": flood_slots,
        "flood_share": round(flood_slots / slots, 4),
    }


def precision(acknowledged: Iterable[Event]) -> dict[str, Any]:
    """Real / (real + false) over the judged acknowledgements, overall and per condition and
    source. ``None`` where nothing was judged."""

    def figure(real: int, false: int, unjudged: int) -> dict[str, Any]:
        judged = real + false
        return {
            "precision": round(real / judged, 4) if judged else None,
            "real": real,
            "false": false,
            "unjudged": unjudged,
        }

    total = Counter[str]()
    by_condition: dict[str, Counter[str]] = defaultdict(Counter)
    by_source: dict[str, Counter[str]] = defaultdict(Counter)
    for event in acknowledged:
        if event.kind != "alarm.acknowledged":
            continue
        verdict = event.data.get("verdict") or "unjudged"
        total[verdict] += 1
        by_condition[str(event.data.get("condition", ""))][verdict] += 1
        by_source[event.source][verdict] += 1

    def table(groups: Mapping[str, Counter[str]]) -> dict[str, Any]:
        return {k: figure(c["real"], c["false"], c["unjudged"]) for k, c in sorted(groups.items())}

    return {
        **figure(total["real"], total["false"], total["unjudged"]),
        "by_condition": table(by_condition),
        "by_source": table(by_source),
    }


def bad_actors(raised: Sequence[Event], top: int = 10) -> dict[str, Any]:
    """The ``top`` alarms by activations and the share of all alarms they make."""
    counts = Counter(str(e.data.get("alarm_id", e.source)) for e in raised)
    leaders = counts.most_common(top)
    total = len(raised)
    return {
        "alarms": [
            {"alarm_id": key, "count": n, "share": round(n / total, 4)} for key, n in leaders
        ],
        "share": round(sum(n for _, n in leaders) / total, 4) if total else 0.0,
    }


def chattering(
    raised: Sequence[Event],
    *,
    count: int = CHATTER_COUNT,
    window_s: float = CHATTER_WINDOW_S,
) -> list[dict[str, Any]]:
    """Alarms activated ``count`` or more times within ``window_s``, with their worst burst."""
    times: dict[str, list[int]] = defaultdict(list)
    for event in raised:
        times[str(event.data.get("alarm_id", event.source))].append(event.timestamp)
    window = round(window_s * NS_PER_S)
    found: list[dict[str, Any]] = []
    for key, stamps in times.items():
        stamps.sort()
        worst, low = 0, 0
        for high, stamp in enumerate(stamps):
            while stamp - stamps[low] > window:
                low += 1
            worst = max(worst, high - low + 1)
        if worst >= count:
            found.append({"alarm_id": key, "activations": len(stamps), "most_in_window": worst})
    found.sort(key=lambda f: (-f["most_in_window"], f["alarm_id"]))
    return found


def latest_snapshots(events: Iterable[Event]) -> list[Mapping[str, Any]]:
    """Each alarm's newest snapshot among ``events`` (by its sequence number)."""
    newest: dict[str, Mapping[str, Any]] = {}
    for event in events:
        data = event.data
        key = data.get("alarm_id")
        if key is None or event.kind not in TRANSITION_KINDS:
            continue
        known = newest.get(key)
        if known is None or int(data.get("seq", 0)) > int(known.get("seq", 0)):
            newest[key] = data
    return list(newest.values())


def stale(
    snapshots: Iterable[Mapping[str, Any]], now: int, *, after_s: float = STALE_AFTER_S
) -> list[dict[str, Any]]:
    """Alarms active for more than ``after_s`` at ``now``, oldest first."""
    limit = round(after_s * NS_PER_S)
    found = [
        (now - s["raised_at"], s)
        for s in snapshots
        if s.get("active") and s.get("raised_at") is not None and now - s["raised_at"] > limit
    ]
    found.sort(key=lambda f: -f[0])
    return [
        {"alarm_id": s["alarm_id"], "state": s.get("state"), "active_s": round(age / NS_PER_S, 1)}
        for age, s in found
    ]


def time_to_acknowledge(acknowledged: Iterable[Event]) -> dict[str, Any]:
    """Seconds from activation to acknowledgement: mean, median, and how many."""
    waits = [
        (e.timestamp - e.data["raised_at"]) / NS_PER_S
        for e in acknowledged
        if e.kind == "alarm.acknowledged" and e.data.get("raised_at") is not None
    ]
    return {
        "count": len(waits),
        "mean_s": round(statistics.fmean(waits), 3) if waits else None,
        "median_s": round(statistics.median(waits), 3) if waits else None,
    }


def alarm_kpis(
    events: Iterable[Event],
    start: int,
    end: int,
    *,
    operators: int = 1,
    current: Iterable[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Every alarm figure for ``start <= t < end``.

    ``current`` is the alarms' state now (the manager's snapshots) for the stale count; without
    it, the newest snapshot of each alarm among ``events`` is judged at ``end``.
    """
    # transitions only: an API replica's alarm.request and the leader's alarm.refused are not alarms
    inside = [e for e in events if start <= e.timestamp < end and e.kind in TRANSITION_KINDS]
    raised = annunciated_raises(inside)
    acknowledged = [e for e in inside if e.kind == "alarm.acknowledged"]
    snapshots = list(current) if current is not None else latest_snapshots(inside)
    return {
        "start": start,
        "end": end,
        "rates": rates(raised, start, end, operators=operators),
        "precision": precision(acknowledged),
        "time_to_acknowledge": time_to_acknowledge(acknowledged),
        "bad_actors": bad_actors(raised),
        "chattering": chattering(raised),
        "stale": stale(snapshots, end),
    }

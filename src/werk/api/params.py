"""Query parameters shared by several routes: time windows and the runtime itself."""

from __future__ import annotations

from fastapi import Request

from werk.core import NS_PER_S, ValidationError, parse_duration, parse_time
from werk.runtime import Runtime

HOUR_NS = 3_600 * NS_PER_S

TIME_HELP = "ISO 8601 with a zone (2026-11-24T10:00:00Z), ns since the epoch, `now`, or `1h` (ago)"


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def instant(text: str, now: int, field: str) -> int:
    try:
        return parse_time(text, now)
    except ValueError as error:
        raise ValidationError(str(error), field=field, rule="time") from None


def time_window(
    start: str | None, end: str | None, now: int, default_span_ns: int
) -> tuple[int, int]:
    """``(start, end)`` in ns; ``end`` defaults to now, ``start`` to ``default_span_ns`` before."""
    end_ns = instant(end, now, "end") if end else now
    start_ns = instant(start, now, "start") if start else end_ns - default_span_ns
    if start_ns >= end_ns:
        raise ValidationError(
            f"start ({start or start_ns}) must be before end ({end or 'now'})",
            field="start",
            rule="start-before-end",
        )
    return start_ns, end_ns


def duration(text: str, field: str) -> int:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise ValidationError(str(error), field=field, rule="duration") from None

"""Reading many events back from the store, past its per-call limit, newest first."""

from __future__ import annotations

import logging

from werk.core import Event
from werk.store.base import TimeSeriesStore

log = logging.getLogger(__name__)

PAGE = 5_000


def read_events(
    store: TimeSeriesStore,
    kind: str,
    start: int,
    end: int,
    *,
    source: str | None = None,
    cap: int = 200_000,
) -> list[Event]:
    """Every event of ``kind`` with ``start <= timestamp < end`` (at most ``cap``), newest first.

    Pages backwards by timestamp. The page boundary's timestamp is read again (events sharing it
    may straddle two pages) and duplicates are dropped by id.
    """
    found: dict[str, Event] = {}
    upper = end
    while len(found) < cap:
        page = store.events(start, upper, kind=kind, source=source, limit=PAGE)
        fresh = [e for e in page if e.id not in found]
        for event in fresh:
            found[event.id] = event
        if len(page) < PAGE:
            break
        oldest = page[-1].timestamp
        # More than a page at one instant cannot be told apart: move past that instant.
        upper = oldest if not fresh or oldest + 1 >= upper else oldest + 1
    else:
        log.warning(
            "more than %d %s events between %d and %d: the oldest are left out",
            cap,
            kind,
            start,
            end,
        )
    events = list(found.values())
    events.sort(key=lambda e: (e.timestamp, e.id), reverse=True)
    return events[:cap]

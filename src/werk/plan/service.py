"""The planner on the bus: it holds the current plan and repairs it when the plant changes.

Events it listens to (topic ``events.<kind>``; times are ns since the epoch or ISO 8601 for plans
with a start time, time units for plans without one):

``machine.down``  ``source`` (or ``data.machine``) is the machine; ``data.since`` (default: the
                  event's timestamp), ``data.until`` or ``data.expected_duration`` (``"2h"``;
                  default: the service's ``default_downtime``), ``data.reason``.
``machine.up``    the machine is back at ``data.at`` (default: the event's timestamp); the
                  downtime window it is in ends then.
``order.rush``    ``data`` is an order as in a plan file (``id``, ``product`` + ``options`` or
                  ``operations``, ``quantity``, ``due``, ``priority``); it is released now and
                  weighs ``RUSH_WEIGHT`` unless it says otherwise.

Each repair publishes ``plan.schedule`` (source: the plan's name; context: a child of the
trigger's) with the reason, KPIs, what was kept, moved and interrupted, and the assignments.
A new plan from the API or CLI publishes the same event with reason ``solve``. Repairs run in a
worker thread, one at a time, so the bus is never held up by a solve.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from werk.core import EVENTS, Bus, Clock, Context, Event, ValidationError, WerkError, parse_duration
from werk.plan.formats import order_from_dict, time_of
from werk.plan.kpi import kpis
from werk.plan.model import Order, Problem, Schedule, Window
from werk.plan.repair import Downtime, Repair, repair

log = logging.getLogger(__name__)

MACHINE_DOWN = "machine.down"
MACHINE_UP = "machine.up"
ORDER_RUSH = "order.rush"
PLAN_SCHEDULE = "plan.schedule"
LISTENS_TO = (MACHINE_DOWN, MACHINE_UP, ORDER_RUSH)
RUSH_WEIGHT = 10
MAX_ASSIGNMENTS_IN_EVENT = 5_000

Emit = Callable[[Event], Awaitable[None]]


@dataclass
class Plan:
    """The plan in force: its problem, its schedule and what made it."""

    problem: Problem
    schedule: Schedule
    event: Event


class PlanService:
    def __init__(
        self,
        bus: Bus,
        emit: Emit,
        clock: Clock,
        *,
        frozen_s: float = 3600.0,
        default_downtime_s: float = 3600.0,
        time_limit_s: float = 5.0,
        workers: int = 2,
        use_cpsat: bool = True,
    ) -> None:
        self.bus = bus
        self.emit = emit
        self.clock = clock
        self.frozen_s = frozen_s
        self.default_downtime_s = default_downtime_s
        self.time_limit_s = time_limit_s
        self.workers = workers
        self.use_cpsat = use_cpsat
        self.current: Plan | None = None
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []

    # -- the plan in force ------------------------------------------------------------------

    async def publish(
        self,
        problem: Problem,
        schedule: Schedule,
        *,
        reason: str = "solve",
        context: Context | None = None,
        changes: dict[str, Any] | None = None,
    ) -> Event:
        """Make ``schedule`` the plan in force and announce it as ``plan.schedule``."""
        event = schedule_event(problem, schedule, reason, context or Context(), changes)
        self.current = Plan(problem, schedule, event)
        await self.emit(event)
        return event

    # -- listening ----------------------------------------------------------------------------

    def start(self) -> None:
        """Listen for the event kinds of ``LISTENS_TO`` (idempotent)."""
        if self._tasks:
            return
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        for kind in LISTENS_TO:
            subscription = self.bus.subscribe(f"{EVENTS}.{kind}", name=f"plan.{kind}")
            self._tasks.append(asyncio.create_task(self._collect(subscription, queue)))
        self._tasks.append(asyncio.create_task(self._work(queue), name="plan.repair"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _collect(self, subscription: Any, queue: asyncio.Queue[Event | None]) -> None:
        # A quick hand-off to an unbounded queue: the bus never waits for a solve.
        try:
            async with subscription:
                async for message in subscription:
                    payload = message.payload
                    event = payload if isinstance(payload, Event) else Event.from_dict(payload)
                    queue.put_nowait(event)
        finally:
            queue.put_nowait(None)  # this subscription ended (the bus closed)

    async def _work(self, queue: asyncio.Queue[Event | None]) -> None:
        open_subscriptions = len(LISTENS_TO)
        while open_subscriptions:
            event = await queue.get()
            if event is None:
                open_subscriptions -= 1
                continue
            try:
                await self.handle(event)
            except WerkError as error:
                log.warning("plan: cannot handle %s %s: %s", event.kind, event.id, error)
            except Exception:  # one bad event must not stop the planner
                log.exception("plan: failed on %s %s", event.kind, event.id)

    async def handle(self, event: Event) -> Event | None:
        """Repair the plan in force after ``event``; returns the ``plan.schedule`` published."""
        async with self._lock:
            plan = self.current
            if plan is None:
                log.info("plan: %s %s ignored, no plan in force", event.kind, event.id)
                return None
            now = self._now(plan.problem, event)
            down: list[Downtime] = []
            rush = []
            problem = plan.problem
            if event.kind == MACHINE_DOWN:
                down.append(self._downtime(problem, event, now))
            elif event.kind == MACHINE_UP:
                problem = _machine_up(problem, event, now)
            elif event.kind == ORDER_RUSH:
                rush.append(self._rush_order(plan, event, now))
            else:
                return None
            frozen = _units(problem, self.frozen_s)
            result: Repair = await asyncio.to_thread(
                repair,
                problem,
                plan.schedule,
                now=now,
                frozen=frozen,
                down=down,
                rush=rush,
                time_limit_s=self.time_limit_s,
                workers=self.workers,
                use_cpsat=self.use_cpsat,
            )
            return await self.publish(
                result.problem,
                result.schedule,
                reason=event.kind,
                context=event.context.child(),
                changes={"trigger": event.id, **result.summary()},
            )

    # -- reading events -----------------------------------------------------------------------

    def _now(self, problem: Problem, event: Event) -> int:
        if problem.start_ns is None:
            return int(event.data.get("now", event.data.get("since", event.data.get("at", 0))))
        return max(0, problem.to_units(self.clock.now_ns()))

    def _downtime(self, problem: Problem, event: Event, now: int) -> Downtime:
        machine = str(event.data.get("machine") or event.source)
        if machine not in {m.id for m in problem.machines}:
            raise ValidationError(
                f"machine.down for {machine!r}, which is not in plan {problem.name!r}",
                field="source",
                rule="unknown-machine",
            )
        since = _time(problem, event.data.get("since"), event.timestamp, now, "since")
        if event.data.get("until") is not None:
            until = _time(problem, event.data["until"], event.timestamp, now, "until")
        else:
            expected = event.data.get("expected_duration")
            seconds = (
                parse_duration(str(expected)) / 1e9
                if expected is not None
                else self.default_downtime_s
            )
            until = since + max(1, _units(problem, seconds))
        return Downtime(
            machine, since, max(until, since + 1), str(event.data.get("reason", "down"))
        )

    def _rush_order(self, plan: Plan, event: Event, now: int) -> Order:
        raw = dict(event.data)
        raw.setdefault("id", event.source or event.id[:8])
        raw.setdefault("release", now)
        if "priority" not in raw and "weight" not in raw:
            raw["priority"] = RUSH_WEIGHT
        return order_from_dict(raw, plan.problem, "order.rush")


def _units(problem: Problem, seconds: float) -> int:
    return max(0, round(seconds / problem.unit_s))


def _time(problem: Problem, value: Any, default_ns: int, now: int, field: str) -> int:
    if value is None:
        return now if problem.start_ns is None else max(now, problem.to_units(default_ns))
    if problem.start_ns is None:
        return int(value)
    if isinstance(value, int) and value > 10**15:  # ns since the epoch
        return problem.to_units(value)
    return time_of(problem, value, f"data.{field}")


def _machine_up(problem: Problem, event: Event, now: int) -> Problem:
    machine_id = str(event.data.get("machine") or event.source)
    at = _time(problem, event.data.get("at"), event.timestamp, now, "at")
    machines = []
    for machine in problem.machines:
        if machine.id == machine_id:
            blocked = tuple(
                Window(w.start, max(w.start, at), w.reason)
                if w.reason != "off shift" and w.start <= at < w.end
                else w
                for w in machine.blocked
            )
            machine = replace(machine, blocked=tuple(w for w in blocked if w.end > w.start))
        machines.append(machine)
    return replace(problem, machines=tuple(machines))


def schedule_event(
    problem: Problem,
    schedule: Schedule,
    reason: str,
    context: Context,
    changes: dict[str, Any] | None = None,
) -> Event:
    body = schedule.to_dict(problem)
    assignments = body.pop("assignments")
    body.pop("history", None)
    return Event(
        PLAN_SCHEDULE,
        source=problem.name,
        data={
            "reason": reason,
            **body,
            "kpis": kpis(problem, schedule),
            "changes": changes or {},
            "assignments": assignments[:MAX_ASSIGNMENTS_IN_EVENT],
            "assignments_total": len(assignments),
        },
        context=context,
    )

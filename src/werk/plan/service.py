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
``maintenance.work_order.suggested``  the maintenance planner's window (``data.machine``,
                  ``since``, ``until`` in ns, ``reason``; werk.maintenance.serving). With
                  ``maintenance="suggested"`` (the default) it repairs the plan like a planned
                  maintenance window (reason ``maintenance (suggested): ...``); with
                  ``"accepted"`` it is only recorded, and enters the plan once someone publishes
                  it as ``machine.down`` (``werk.maintenance.serving.as_machine_down``).

The service remembers the windows these events announce (:attr:`PlanService.windows`, by
machine, with the events' ids), from its start on, whether or not a plan is in force; a problem
solved later gets those still ahead as blocked windows (:meth:`PlanService.with_known_windows`).

Each repair publishes ``plan.schedule`` (source: the plan's name; context: a child of the
trigger's) with the reason, KPIs, what was kept, moved and interrupted, and the assignments.
A new plan from the API or CLI publishes the same event with reason ``solve``. Repairs run in a
worker thread, one at a time, so the bus is never held up by a solve.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from werk.core import (
    EVENTS,
    NS_PER_S,
    Bus,
    Clock,
    Context,
    Event,
    ValidationError,
    WerkError,
    iso,
    parse_duration,
    parse_time,
)
from werk.plan.formats import order_from_dict, time_of
from werk.plan.kpi import kpis
from werk.plan.model import Order, Problem, Schedule, Window
from werk.plan.repair import Downtime, Repair, repair

if TYPE_CHECKING:
    from werk.runtime import Runtime

log = logging.getLogger(__name__)

MACHINE_DOWN = "machine.down"
MACHINE_UP = "machine.up"
ORDER_RUSH = "order.rush"
PLAN_SCHEDULE = "plan.schedule"
WORK_ORDER_SUGGESTED = "maintenance.work_order.suggested"  # werk.maintenance's; named, not imported
LISTENS_TO = (MACHINE_DOWN, MACHINE_UP, ORDER_RUSH, WORK_ORDER_SUGGESTED)
MAINTENANCE_MODES = ("suggested", "accepted")
SUGGESTED_REASON = "maintenance (suggested)"
KEEP_ENDED_S = 86_400.0
"""Known windows are forgotten a day after they ended."""
RUSH_WEIGHT = 10
MAX_ASSIGNMENTS_IN_EVENT = 5_000

Emit = Callable[[Event], Awaitable[None]]


@dataclass
class Plan:
    """The plan in force: its problem, its schedule and what made it."""

    problem: Problem
    schedule: Schedule
    event: Event


@dataclass(frozen=True, slots=True)
class KnownWindow:
    """A window ``machine`` is out of production in, and the event that announced it."""

    machine: str
    since_ns: int
    until_ns: int
    reason: str
    kind: str
    """The announcing event's kind: ``maintenance.work_order.suggested`` or ``machine.down``."""
    event: str
    """The announcing event's id."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since_ns,
            "until": self.until_ns,
            "since_iso": iso(self.since_ns),
            "until_iso": iso(self.until_ns),
            "reason": self.reason,
            "kind": self.kind,
            "event": self.event,
        }


def open_planner(runtime: Runtime) -> PlanService:
    """The planner of a running werk, listening on its bus from now on: ``[plan]`` settings,
    CP-SAT repairs where OR-Tools is installed, else the dispatching rules."""
    service = PlanService(
        runtime.bus,
        runtime.emit,
        runtime.clock,
        maintenance=runtime.settings.plan.maintenance,
        use_cpsat=importlib.util.find_spec("ortools") is not None,
    )
    service.start()
    return service


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
        maintenance: str = "suggested",
    ) -> None:
        if maintenance not in MAINTENANCE_MODES:
            raise ValidationError(
                f"maintenance must be one of {', '.join(MAINTENANCE_MODES)}, not {maintenance!r}",
                field="maintenance",
                rule="choice",
            )
        self.bus = bus
        self.emit = emit
        self.clock = clock
        self.frozen_s = frozen_s
        self.default_downtime_s = default_downtime_s
        self.time_limit_s = time_limit_s
        self.workers = workers
        self.use_cpsat = use_cpsat
        self.maintenance = maintenance
        self.windows: dict[str, list[KnownWindow]] = {}
        """Windows announced on the bus, by machine, in the order they came."""
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
        self._remember(event)
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
            elif event.kind == WORK_ORDER_SUGGESTED:
                if self.maintenance != "suggested":
                    log.info("plan: %s recorded; it enters the plan once accepted", event.id)
                    return None
                window = self._suggested(problem, event, now)
                if window is None:
                    return None
                down.append(window)
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

    # -- known windows --------------------------------------------------------------------------

    def with_known_windows(self, problem: Problem) -> Problem:
        """``problem`` with the known windows not yet over blocked on its machines: breakdowns
        and accepted maintenance always, suggested maintenance with ``maintenance="suggested"``.
        Problems without a start time are returned as they are (their times are not instants).
        """
        if problem.start_ns is None:
            return problem
        now_ns = self.clock.now_ns()
        unit_ns = round(problem.unit_s * NS_PER_S)
        machines = []
        for machine in problem.machines:
            extra = []
            for known in self.windows.get(machine.id, ()):
                if known.until_ns <= now_ns or not self._enters_plans(known):
                    continue
                start = max(0, problem.to_units(known.since_ns))
                end = -(-(known.until_ns - problem.start_ns) // unit_ns)
                if problem.horizon is not None:
                    end = min(end, problem.horizon)
                if end > start:
                    extra.append(Window(start, end, _window_reason(known)))
            if extra:
                blocked = sorted((*machine.blocked, *extra), key=lambda w: (w.start, w.end))
                machine = replace(machine, blocked=tuple(blocked))
            machines.append(machine)
        return replace(problem, machines=tuple(machines))

    def known_windows(self) -> dict[str, list[dict[str, Any]]]:
        """The windows known, by machine, each saying whether it enters plans (``in_plan``)."""
        return {
            machine: [{**w.to_dict(), "in_plan": self._enters_plans(w)} for w in windows]
            for machine, windows in self.windows.items()
            if windows
        }

    def _enters_plans(self, known: KnownWindow) -> bool:
        return known.kind != WORK_ORDER_SUGGESTED or self.maintenance == "suggested"

    def _remember(self, event: Event) -> None:
        """Keep the window a ``machine.down`` or a suggestion announces (given in ns or ISO
        8601; windows in a plan's time units are not instants and are not kept); a
        ``machine.up`` ends the machine's breakdown it falls into."""
        machine = _machine_of(event)
        if not machine:
            return
        if event.kind == MACHINE_UP:
            at = _instant(event.data.get("at"), event.timestamp)
            if at is not None:
                self.windows[machine] = [
                    replace(w, until_ns=at)
                    if w.kind == MACHINE_DOWN and w.since_ns <= at < w.until_ns
                    else w
                    for w in self.windows.get(machine, ())
                ]
            return
        if event.kind not in (MACHINE_DOWN, WORK_ORDER_SUGGESTED):
            return
        since = _instant(event.data.get("since"), event.timestamp)
        if since is None:
            return
        if event.data.get("until") is not None:
            until = _instant(event.data["until"], event.timestamp)
        else:
            try:
                until = since + self._length_ns(event)
            except ValueError:
                return
        if until is None or until <= since:
            return
        reason = str(event.data.get("reason", "down"))
        known = KnownWindow(machine, since, until, reason, event.kind, event.id)
        forget_before = self.clock.now_ns() - round(KEEP_ENDED_S * NS_PER_S)
        self.windows[machine] = [
            w
            for w in self.windows.get(machine, ())
            if w.event != event.id and w.until_ns >= forget_before
        ] + [known]

    # -- reading events -----------------------------------------------------------------------

    def _now(self, problem: Problem, event: Event) -> int:
        if problem.start_ns is None:
            return int(event.data.get("now", event.data.get("since", event.data.get("at", 0))))
        return max(0, problem.to_units(self.clock.now_ns()))

    def _length_ns(self, event: Event) -> int:
        """How long a window without ``until`` lasts: ``expected_duration`` (``"2h"``), else
        the service's ``default_downtime_s``. ValueError for a duration that is not one."""
        expected = event.data.get("expected_duration")
        if expected is None:
            return round(self.default_downtime_s * NS_PER_S)
        return parse_duration(str(expected))

    def _downtime(self, problem: Problem, event: Event, now: int) -> Downtime:
        machine = _machine_of(event)
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
            until = since + max(1, _units(problem, self._length_ns(event) / NS_PER_S))
        return Downtime(
            machine, since, max(until, since + 1), str(event.data.get("reason", "down"))
        )

    def _suggested(self, problem: Problem, event: Event, now: int) -> Downtime | None:
        """A suggested maintenance window as a planned downtime (``None``: already over, or
        for a machine the plan does not use)."""
        if problem.start_ns is None:
            raise ValidationError(
                f"{event.kind} {event.id}: plan {problem.name!r} has no start time, so a "
                "window in ns cannot be placed in it",
                field="since",
                rule="start-required",
            )
        machine = _machine_of(event)
        if machine not in {m.id for m in problem.machines}:
            log.info("plan: %s %s is for %r, not in the plan", event.kind, event.id, machine)
            return None
        down = self._downtime(problem, event, now)
        if down.end <= now:
            log.info("plan: %s %s ignored, its window is over", event.kind, event.id)
            return None
        reason = str(event.data.get("reason") or "planned maintenance")
        return replace(down, reason=f"{SUGGESTED_REASON}: {reason}")

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


def _instant(value: Any, default_ns: int) -> int | None:
    """ns since the epoch from ns or ISO 8601 (``None``: a plan's time units, not an instant)."""
    if value is None:
        return default_ns
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value) if value > 10**15 else None
    try:
        ns = parse_time(str(value), default_ns)
    except ValueError:
        return None
    return ns if ns > 10**15 else None


def _machine_of(event: Event) -> str:
    """The machine a machine or maintenance event is about: ``data.machine``, else its source."""
    return str(event.data.get("machine") or event.source)


def _window_reason(known: KnownWindow) -> str:
    if known.kind == WORK_ORDER_SUGGESTED:
        return f"{SUGGESTED_REASON}: {known.reason}"
    return known.reason


def _machine_up(problem: Problem, event: Event, now: int) -> Problem:
    machine_id = _machine_of(event)
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

"""The alarm service: conditions from the bus through the lifecycle model, alarm events back out.

It subscribes to ``events.anomaly.>``, ``events.quality.>``, ``events.spc.>`` and
``events.limit.>``, applies each condition event to the :class:`AlarmBook`, and publishes every
transition through the ``emit`` it was given (``Runtime.emit``: the recorder stores them, the
live feed shows them) and to the webhooks. The API calls :meth:`AlarmManager.acknowledge`,
:meth:`~AlarmManager.shelve` and :meth:`~AlarmManager.unshelve`; their events are published with
``confirm=True``, so the audit record is stored before the operator gets an answer.

Scaled out, API replicas keep a read model (:mod:`~werk.analytics.alarms.replica`) and forward
an operator's action as an ``alarm.request`` event; the manager follows ``events.alarm.request``,
applies each request once (by its id) exactly as its own API would, and answers with the
resulting ``alarm.*`` event, or an ``alarm.refused`` one, whose ``context.parent_id`` is the
request's id.

A restart loses nothing: :meth:`~AlarmManager.rebuild` takes each alarm's newest ``alarm.*``
snapshot from the store, then replays the condition events stored after it (a condition still
inside its on-delay, or one raised while this service was down) at their own timestamps.

Deadlines (on/off delays, shelving expiry) are checked before each cause and by a timer that
sleeps until the next one, at most ``poll_s`` seconds of real time. With a simulated clock that
moves only when told, deadlines fire on the next cause or poll after the clock passes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from werk.analytics.alarms.history import read_events
from werk.analytics.alarms.model import (
    REFUSED,
    REQUEST,
    Alarm,
    AlarmBook,
    AlarmError,
    AlarmState,
    Delays,
    Priority,
    UnknownAlarm,
    Verdict,
    alarm_id,
)
from werk.analytics.alarms.webhooks import Webhook, WebhookNotifier
from werk.core import (
    EVENTS,
    NS_PER_S,
    Bus,
    BusClosed,
    Clock,
    Context,
    Event,
    StoreError,
    ValidationError,
)
from werk.core.condition import FAMILIES
from werk.store.base import TimeSeriesStore

log = logging.getLogger(__name__)

REBUILD_RETRY_S = 2.0
REQUESTS = "requests"
"""The subscription name of the leader's request follower (``alarms.requests``)."""
REMEMBERED = 10_000
"""Event ids remembered to apply each condition and each request once."""


class Emit(Protocol):
    """``Runtime.emit``: publish an event; ``confirm`` waits until it is stored."""

    def __call__(self, event: Event, *, confirm: bool = False) -> Awaitable[None]: ...


@dataclass(frozen=True)
class AlarmPolicy:
    """How the alarm system behaves; plain values, built from settings by the composition root."""

    on_delay_s: float = 0.0
    off_delay_s: float = 0.0
    default_priority: Mapping[str, str] = field(
        default_factory=lambda: {
            "anomaly": "medium",
            "quality": "low",
            "spc": "medium",
            "limit": "high",
        }
    )
    """Priority of a condition event that names none, per family."""
    max_shelve_s: float = 8 * 3600.0
    """A longer shelf is cut to this: a shelved alarm is a blind spot, it must come back."""
    webhooks: tuple[Webhook, ...] = ()
    operators: int = 1
    """Operators sharing the alarms (console positions): the rate KPIs are per operator."""
    lookback_s: float = 30 * 86_400.0
    """How far back a restart reads the store to rebuild the alarms."""
    poll_s: float = 1.0
    """Longest real-time sleep between deadline checks."""
    confirm_actions: bool = True
    """Wait until an operator's action is stored before answering (needs a recorder)."""

    def __post_init__(self) -> None:
        Delays(self.on_delay_s, self.off_delay_s)  # validates
        for name in ("max_shelve_s", "lookback_s", "poll_s"):
            if not getattr(self, name) > 0:
                raise ValidationError(f"{name} must be > 0", field=name, rule="positive")
        if self.operators < 1:
            raise ValidationError("operators must be >= 1", field="operators", rule="positive")


@dataclass
class Shelved:
    alarm: Alarm
    capped: bool
    """The requested duration was longer than the policy allows, and was cut."""


class AlarmManager:
    """Runs the alarm lifecycle for a bus and a store; :meth:`run` until cancelled."""

    def __init__(
        self,
        bus: Bus,
        store: TimeSeriesStore,
        clock: Clock,
        emit: Emit,
        policy: AlarmPolicy | None = None,
    ) -> None:
        self.bus = bus
        self.store = store
        self.clock = clock
        self.policy = policy or AlarmPolicy()
        self._emit = emit
        self.book = AlarmBook(
            clock,
            Delays(self.policy.on_delay_s, self.policy.off_delay_s),
            {
                f: Priority.parse(p, Priority.medium)
                for f, p in self.policy.default_priority.items()
            },
        )
        self.notifier = WebhookNotifier(self.policy.webhooks)
        self.ready = asyncio.Event()
        """Set once the state is rebuilt from the store and conditions are being followed."""
        self._wake = asyncio.Event()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._requests: OrderedDict[str, None] = OrderedDict()
        self._answers: dict[str, Event] = {}
        self.conditions = 0
        self.emitted = 0
        self.requests = 0
        """Actions forwarded by API replicas and applied here (not those refused)."""
        self.refused = 0

    # -- running ---------------------------------------------------------------------------------

    async def run(self) -> None:
        """Subscribe (before the first await: nothing published after the start is missed),
        rebuild from the store, then follow conditions and deadlines until cancelled."""
        subscriptions = [
            self.bus.subscribe(f"{EVENTS}.{family}.>", name=f"alarms.{family}")
            for family in FAMILIES
        ]
        # Ephemeral: a request made while no leader runs is answered by nobody (the replica says
        # so after its timeout) and must not be applied later, when the operator has moved on.
        requests = self.bus.subscribe(f"{EVENTS}.{REQUEST}", name=f"alarms.{REQUESTS}")
        async with contextlib.AsyncExitStack() as stack:
            for sub in [*subscriptions, requests]:
                await stack.enter_async_context(sub)
            while True:
                try:
                    await self.rebuild()
                    break
                except StoreError as error:  # conditions wait in the subscriptions meanwhile
                    log.warning("alarms: cannot rebuild from the store (%s); retrying", error)
                    await asyncio.sleep(REBUILD_RETRY_S)
            self.ready.set()
            try:
                async with asyncio.TaskGroup() as group:
                    for sub in subscriptions:
                        group.create_task(self._follow(sub))
                    group.create_task(self._follow_requests(requests))
                    group.create_task(self._timer())
                    group.create_task(self.notifier.run())
            finally:
                self.ready.clear()

    async def _follow(self, subscription: Any) -> None:
        async for message in subscription:
            event = message.payload
            if not isinstance(event, Event) or self._already_applied(event.id):
                continue
            self.conditions += 1
            try:
                out = self.book.condition(event)
            except Exception:  # one bad event must not stop the alarm system
                log.exception(
                    "alarm condition %s from %s could not be applied", event.kind, event.source
                )
                continue
            self._wake.set()
            try:
                await self._publish(out)
            except BusClosed:
                return

    async def _timer(self) -> None:
        while True:
            try:
                await self.tick()
            except BusClosed:
                return
            deadline = self.book.next_deadline()
            wait = self.policy.poll_s
            if deadline is not None:
                wait = min(wait, max(0.0, (deadline - self.clock.now_ns()) / NS_PER_S))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()

    async def tick(self) -> None:
        """Fire the deadlines that are due now (the timer calls it; tests may too)."""
        await self._publish(self.book.due())

    async def _publish(self, events: Iterable[Event], *, confirm: bool = False) -> None:
        for event in events:
            await self._emit(event, confirm=confirm)
            self.emitted += 1
            self.notifier.notify(event)

    def _already_applied(self, event_id: str) -> bool:
        """Has this condition event been applied (live, or in the replay at start)?"""
        return _remembered(self._seen, event_id)

    # -- requests from API replicas --------------------------------------------------------------

    async def _follow_requests(self, subscription: Any) -> None:
        async for message in subscription:
            request = message.payload
            if not isinstance(request, Event) or request.kind != REQUEST:
                continue
            if _remembered(self._requests, request.id):
                log.debug("alarm request %s seen again: not applied twice", request.id)
                continue
            try:
                await self.apply_request(request)
            except BusClosed:
                return
            except Exception:  # one bad request must not stop the alarm system
                log.exception("alarm request %s could not be answered", request.id)

    async def apply_request(self, request: Event) -> Event:
        """Apply an ``alarm.request`` from an API replica as this process's API would, and publish
        the answer: the resulting ``alarm.*`` event, or ``alarm.refused`` (``data``: ``status``,
        ``message``), with ``context.parent_id`` = the request's id. Returns the answer."""
        data = request.data
        action = data.get("action")
        target = str(data.get("alarm_id") or "")
        user = request.context.user
        try:
            if action == "acknowledge":
                await self.acknowledge(
                    target, user, data.get("verdict"), data.get("comment"), request=request
                )
            elif action == "shelve":
                duration = data.get("duration_s")
                if isinstance(duration, bool) or not isinstance(duration, int | float):
                    raise ValidationError(
                        "duration_s must be a number of seconds", field="duration_s", rule="type"
                    )
                reason = data.get("reason")
                await self.shelve(target, user, float(duration), reason, request=request)
            elif action == "unshelve":
                await self.unshelve(target, user, request=request)
            else:
                raise ValidationError(
                    f"unknown alarm action {action!r}: acknowledge, shelve or unshelve",
                    field="action",
                    rule="one-of",
                )
        except (AlarmError, ValidationError) as error:
            self._answers.pop(request.id, None)
            extra: dict[str, Any] = {}
            if isinstance(error, ValidationError):
                status, extra = 422, {"field": error.field, "rule": error.rule}
            else:  # UnknownAlarm, AlarmConflict: what this process's API answers 404, 409
                status = 404 if isinstance(error, UnknownAlarm) else 409
            refusal = Event(
                REFUSED,
                request.source,
                {
                    "status": status,
                    "message": str(error),
                    "action": action,
                    "alarm_id": target,
                    **extra,
                },
                Context(parent_id=request.id, user=user),
                timestamp=self.clock.now_ns(),
            )
            self.refused += 1
            await self._emit(refusal)
            return refusal
        except BaseException:
            self._answers.pop(request.id, None)
            raise
        self.requests += 1
        return self._answers.pop(request.id)

    # -- restart ---------------------------------------------------------------------------------

    async def rebuild(self) -> int:
        """Restore alarms from the store and catch up on conditions; return the alarms known."""
        now = self.clock.now_ns()
        start = now - round(self.policy.lookback_s * NS_PER_S)
        stored = await asyncio.to_thread(read_events, self.store, "alarm", start, now + 1)
        for event in stored:
            self.book.restore(event)
            if event.context.user is not None and event.context.parent_id is not None:
                # an operator's action: its parent may be a replica's request, applied already
                _remembered(self._requests, event.context.parent_id)
        conditions: list[Event] = []
        for family in FAMILIES:
            conditions += await asyncio.to_thread(read_events, self.store, family, start, now + 1)
        replay = self._not_yet_applied(conditions)
        out: list[Event] = []
        for event in replay:
            self._already_applied(event.id)
            out += self.book.condition(event, at=min(event.timestamp, now))
        out += self.book.due(now)
        await self._publish(out)
        if stored or replay:
            log.info(
                "alarms: %d restored from %d stored events, %d condition events replayed, "
                "%d alarm events published",
                len(self.book),
                len(stored),
                len(replay),
                len(out),
            )
        return len(self.book)

    def _not_yet_applied(self, conditions: list[Event]) -> list[Event]:
        """The condition events after each alarm's last applied one, oldest first."""
        by_alarm: dict[str, list[Event]] = {}
        for event in sorted(conditions, key=lambda e: (e.timestamp, e.id)):
            family = event.kind.partition(".")[0]
            key = alarm_id(event.source, str(event.data.get("condition") or family))
            by_alarm.setdefault(key, []).append(event)
        replay: list[Event] = []
        for key, events in by_alarm.items():
            known = self.book.find(key)
            if known is not None:
                ids = [e.id for e in events]
                if known.condition_event in ids:
                    events = events[ids.index(known.condition_event) + 1 :]
                else:
                    events = [e for e in events if e.timestamp > known.updated_at]
            replay += events
        replay.sort(key=lambda e: (e.timestamp, e.id))
        return replay

    # -- what the API asks -----------------------------------------------------------------------

    def alarms(
        self,
        *,
        states: Iterable[AlarmState | str] | None = None,
        priority: Priority | None = None,
        source: str | None = None,
        asset: str | None = None,
    ) -> list[Alarm]:
        """Alarms that need attention (all but normal) unless ``states`` says otherwise; at
        least ``priority``; most urgent first, then newest."""
        wanted = (
            {AlarmState(s) for s in states}
            if states
            else {AlarmState.UNACK, AlarmState.ACKED, AlarmState.RTNUNACK, AlarmState.SHELVED}
        )
        found = [
            a
            for a in self.book
            if a.state in wanted
            and (priority is None or a.priority >= priority)
            and (source is None or a.source == source)
            and (asset is None or a.asset == asset)
        ]
        found.sort(key=lambda a: (-a.priority, -(a.raised_at or 0), a.id))
        return found

    def get(self, alarm_id: str) -> Alarm:
        return self.book.get(alarm_id)

    async def acknowledge(
        self,
        alarm_id: str,
        user: str | None,
        verdict: Verdict | str | None = None,
        comment: str | None = None,
        *,
        request: Event | None = None,
    ) -> Alarm:
        """``request``: the replica's ``alarm.request`` this carries out (the event's parent)."""
        await self.tick()  # a shelf that just expired, a delay that just ran out
        event = self.book.acknowledge(alarm_id, user, verdict, comment)
        await self._act(event, request)
        return self.book.get(alarm_id)

    async def shelve(
        self,
        alarm_id: str,
        user: str | None,
        duration_s: float,
        reason: str | None = None,
        *,
        request: Event | None = None,
    ) -> Shelved:
        if not duration_s > 0:
            raise ValidationError("duration_s must be > 0", field="duration_s", rule="positive")
        await self.tick()
        capped = duration_s > self.policy.max_shelve_s
        seconds = min(duration_s, self.policy.max_shelve_s)
        now = self.clock.now_ns()
        event = self.book.shelve(alarm_id, user, now + round(seconds * NS_PER_S), reason, at=now)
        self._wake.set()
        await self._act(event, request)
        return Shelved(self.book.get(alarm_id), capped)

    async def unshelve(
        self, alarm_id: str, user: str | None, *, request: Event | None = None
    ) -> Alarm:
        await self.tick()
        event = self.book.unshelve(alarm_id, user)
        await self._act(event, request)
        return self.book.get(alarm_id)

    async def _act(self, event: Event, request: Event | None) -> None:
        """Publish an operator's action (confirmed); one asked by a replica names its request
        as the parent, so the replica knows its answer."""
        if request is not None:
            context = Context(id=event.id, parent_id=request.id, user=event.context.user)
            event = dataclasses.replace(event, context=context)
            self._answers[request.id] = event
        await self._publish([event], confirm=self.policy.confirm_actions)

    def stats(self) -> dict[str, Any]:
        return {
            "alarms": len(self.book),
            "conditions": self.conditions,
            "emitted": self.emitted,
            "requests": self.requests,
            "refused": self.refused,
            "filtered_by_on_delay": self.book.filtered,
            "webhooks": self.notifier.stats(),
        }


def _remembered(seen: OrderedDict[str, None], event_id: str) -> bool:
    """Whether ``event_id`` was seen before; remember it (the newest ``REMEMBERED`` ids)."""
    if event_id in seen:
        return True
    seen[event_id] = None
    if len(seen) > REMEMBERED:
        seen.popitem(last=False)
    return False

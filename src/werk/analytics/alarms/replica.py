"""The alarms on an API replica of a scaled-out werk: a read model, actions forwarded to the leader.

The alarm lifecycle runs once in the cluster, in worker 0 (the leader's
:class:`~werk.analytics.alarms.manager.AlarmManager`). An API replica keeps a copy of its
alarms: at start, each alarm's newest ``alarm.*`` snapshot from the store (as the manager's
rebuild does), then every ``alarm.*`` event on the bus (an ephemeral subscription to
``events.alarm.>``), so the alarm list, one alarm and the KPIs answer on every replica. Every so
often (``resync_s``) it reads the recent alarm events from the store again, which closes a gap
the subscription may have had (an event stored just before it started, a bus outage).

It fires no deadlines and raises no alarms of its own: a shelf that expires or an on-delay that
runs out is the leader's event, followed here like any other.

An operator's action (acknowledge, shelve, unshelve) is published as an ``alarm.request`` event
(``data``: ``action``, ``alarm_id``, ``verdict``, ``comment``, ``duration_s``, ``reason``;
``context.user``: who asks) with ``confirm=True``. The leader applies it as its own API would
and answers with the resulting ``alarm.*`` event, or ``alarm.refused`` (``data``: ``status``,
``message``), whose ``context.parent_id`` is the request's id. The replica waits for that answer
at most ``answer_timeout_s`` and raises what the leader's API would have raised (unknown alarm,
conflict, validation), or :class:`NoAnswer` when none came: then the outcome is unknown (the
leader may still apply it), and the alarm history says whether it happened.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

from werk.analytics.alarms.history import read_events
from werk.analytics.alarms.manager import (
    REBUILD_RETRY_S,
    AlarmManager,
    AlarmPolicy,
    Emit,
    Shelved,
)
from werk.analytics.alarms.model import (
    REFUSED,
    REQUEST,
    TRANSITION_KINDS,
    Alarm,
    AlarmConflict,
    AlarmError,
    UnknownAlarm,
    Verdict,
    _verdict,
)
from werk.core import (
    EVENTS,
    NS_PER_S,
    Bus,
    Clock,
    Context,
    Event,
    StoreError,
    ValidationError,
)
from werk.store.base import TimeSeriesStore

log = logging.getLogger(__name__)

ANSWER_TIMEOUT_S = 10.0
RESYNC_S = 60.0
RESYNC_OVERLAP_S = 120.0
"""A resync reads the store back this far before the previous one (the recorder's lag)."""


class NoAnswer(AlarmError):
    """The alarm leader did not answer a forwarded action in time (HTTP 504)."""


class AlarmReplica(AlarmManager):
    """The alarms as an API replica sees them; :meth:`run` until cancelled.

    An :class:`AlarmManager` to its callers (the API routes, the plant view, the KPIs): the same
    :attr:`book`, :meth:`alarms`, :meth:`get` and actions, but the book follows the leader's events
    and the actions are the leader's. Webhooks are the leader's too: none are sent from here.
    """

    def __init__(
        self,
        bus: Bus,
        store: TimeSeriesStore,
        clock: Clock,
        emit: Emit,
        policy: AlarmPolicy | None = None,
        *,
        answer_timeout_s: float = ANSWER_TIMEOUT_S,
        resync_s: float = RESYNC_S,
    ) -> None:
        policy = dataclasses.replace(policy or AlarmPolicy(), webhooks=())
        super().__init__(bus, store, clock, emit, policy)
        if not answer_timeout_s > 0 or not resync_s > 0:
            raise ValidationError("answer_timeout_s and resync_s must be > 0", rule="positive")
        self.answer_timeout_s = answer_timeout_s
        self.resync_s = resync_s
        self._pending: dict[str, asyncio.Future[Event]] = {}
        self._following = False
        self.followed = 0
        """``alarm.*`` events applied from the bus."""
        self.forwarded = 0
        self.unanswered = 0

    # -- running ---------------------------------------------------------------------------------

    async def run(self) -> None:
        """Subscribe (before the first await), rebuild from the store, then follow the leader's
        alarm events and resync from the store now and then, until cancelled."""
        subscription = self.bus.subscribe(f"{EVENTS}.alarm.>", name="alarms.replica")
        async with subscription:
            self._following = True
            try:
                while True:
                    try:
                        await self.rebuild()
                        break
                    except StoreError as error:  # the bus's events wait in the subscription
                        log.warning("alarms: cannot read them from the store (%s); retrying", error)
                        await asyncio.sleep(REBUILD_RETRY_S)
                self.ready.set()
                async with asyncio.TaskGroup() as group:
                    group.create_task(self._follow_alarms(subscription))
                    group.create_task(self._resync())
            finally:
                self._following = False
                self.ready.clear()
                for future in self._pending.values():
                    if not future.done():
                        future.set_exception(NoAnswer("the alarm replica stopped"))

    async def rebuild(self) -> int:
        """Each alarm's newest snapshot among the stored ``alarm.*`` events of the lookback."""
        now = self.clock.now_ns()
        start = now - round(self.policy.lookback_s * NS_PER_S)
        restored = await self._read_back(start, now + 1)
        if restored:
            log.info("alarms (replica): %d alarms read from the store", len(self.book))
        return len(self.book)

    async def _read_back(self, start: int, end: int) -> int:
        stored = await asyncio.to_thread(read_events, self.store, "alarm", start, end)
        return sum(self.book.restore(event) for event in stored)

    async def _follow_alarms(self, subscription: Any) -> None:
        async for message in subscription:
            event = message.payload
            if isinstance(event, Event):
                self.apply(event)

    def apply(self, event: Event) -> None:
        """Take an ``alarm.*`` event from the bus; hand an answer to the request waiting for it."""
        if event.kind in TRANSITION_KINDS:
            self.followed += self.book.restore(event)
        elif event.kind != REFUSED:
            return  # alarm.request: for the leader
        parent = event.context.parent_id
        waiting = self._pending.get(parent) if parent is not None else None
        if waiting is not None and not waiting.done():
            waiting.set_result(event)

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.resync_s)
            now = self.clock.now_ns()
            back = round((self.resync_s + RESYNC_OVERLAP_S) * NS_PER_S)
            try:
                if fresh := await self._read_back(now - back, now + 1):
                    log.info("alarms (replica): %d newer alarm states found in the store", fresh)
            except StoreError as error:
                log.warning("alarms (replica): resync from the store failed (%s)", error)

    async def tick(self) -> None:
        """Nothing: deadlines are the leader's, and come as its events."""

    # -- actions, forwarded ----------------------------------------------------------------------

    async def acknowledge(
        self,
        alarm_id: str,
        user: str | None,
        verdict: Verdict | str | None = None,
        comment: str | None = None,
        *,
        request: Event | None = None,
    ) -> Alarm:
        parsed = _verdict(verdict)  # refused here, as the leader would
        answer = await self._forward(
            "acknowledge",
            alarm_id,
            user,
            verdict=parsed.value if parsed is not None else None,
            comment=comment,
        )
        return Alarm.restore(answer.data)

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
        answer = await self._forward(
            "shelve", alarm_id, user, duration_s=float(duration_s), reason=reason
        )
        alarm = Alarm.restore(answer.data)
        granted = (alarm.shelved_until or 0) - (alarm.shelved_at or 0)
        return Shelved(alarm, capped=granted < round(duration_s * NS_PER_S))

    async def unshelve(
        self, alarm_id: str, user: str | None, *, request: Event | None = None
    ) -> Alarm:
        answer = await self._forward("unshelve", alarm_id, user)
        return Alarm.restore(answer.data)

    async def _forward(self, action: str, alarm_id: str, user: str | None, **data: Any) -> Event:
        """Publish the request, wait for the leader's answer; raise what a refusal says."""
        if not self._following:
            raise NoAnswer("the alarm replica is not running: no answer could be received")
        payload = {
            "action": action,
            "alarm_id": alarm_id,
            "verdict": None,
            "comment": None,
            "duration_s": None,
            "reason": None,
            **data,
        }
        request = Event(
            REQUEST,
            alarm_id.split("@")[0],  # the alarm's source: the history finds it by source
            payload,
            Context(user=user),
            timestamp=self.clock.now_ns(),
        )
        answer: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self._pending[request.id] = answer  # before publishing: the answer may come first
        self.forwarded += 1
        try:
            async with asyncio.timeout(self.answer_timeout_s):
                await self._emit(request, confirm=True)
                event = await answer
        except TimeoutError:
            self.unanswered += 1
            raise NoAnswer(
                f"the alarm service (worker 0, werk worker --partition 0/N) did not answer the "
                f"{action} of {alarm_id!r} within {self.answer_timeout_s:g} s: it may be down or "
                "restarting. The outcome is unknown: GET /alarms/history shows whether it was "
                "applied"
            ) from None
        finally:
            self._pending.pop(request.id, None)
        if event.kind == REFUSED:
            raise _refusal(event)
        return event

    def stats(self) -> dict[str, Any]:
        return {
            "replica": True,
            "alarms": len(self.book),
            "followed": self.followed,
            "forwarded": self.forwarded,
            "unanswered": self.unanswered,
        }


def _refusal(event: Event) -> Exception:
    """The error the leader's API raised, from its ``alarm.refused`` answer."""
    data = event.data
    message = str(data.get("message") or "refused by the alarm service")
    status = data.get("status")
    if status == 404:
        return UnknownAlarm(message)
    if status == 422:
        return ValidationError(
            message, field=str(data.get("field") or ""), rule=str(data.get("rule") or "")
        )
    return AlarmConflict(message)

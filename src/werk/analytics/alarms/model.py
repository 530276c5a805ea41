"""The alarm lifecycle of ISA-18.2 as a pure state machine: conditions and operators in, events out.

Processors report *conditions* (``<family>.raised`` / ``<family>.cleared``); an alarm is what the
operator sees of a condition. Its states::

    NORMAL ──condition (after on-delay)──► UNACK ──ack──► ACKED
      ▲                                      │              │
      │                       clear (after off-delay)  clear (after off-delay)
      │                                      ▼              │
      └──────────────ack────────────── RTNUNACK             │
      └─────────────────────────────────────────────────────┘
    RTNUNACK ──condition again──► UNACK   (a re-raise before anyone acknowledged)
    any state ──shelve──► SHELVED ──unshelve / expiry──► the state underneath

Shelving hides an alarm from the operator for a while (a nuisance alarm under repair) but the
condition is still tracked underneath, so unshelving shows the true state at once.

Chatter is tamed by time: a condition must persist ``on_delay_s`` before the alarm activates and
stay clear ``off_delay_s`` before it clears. (The value deadband — a limit must be crossed back by
a margin — belongs to the limit processor that raises the condition.)

Every transition produces one :class:`~werk.core.Event` of kind ``alarm.<transition>`` whose data
is a full snapshot of the alarm (:meth:`Alarm.snapshot`): the audit log, the live feed, webhooks
and a restart (:meth:`AlarmBook.restore`) all read the same record. ``context.user`` is who did it
(``None``: the alarm system itself); ``context.parent_id`` the condition event behind it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from enum import IntEnum, StrEnum
from typing import Any

from werk.core import NS_PER_S, Clock, Context, Event, ValidationError, WerkError

RAISED = "raised"
ACKNOWLEDGED = "acknowledged"
CLEARED = "cleared"
SHELVED = "shelved"
UNSHELVED = "unshelved"
TRANSITIONS = (RAISED, ACKNOWLEDGED, CLEARED, SHELVED, UNSHELVED)
"""Every alarm transition is an event ``alarm.<one of these>``."""
TRANSITION_KINDS = frozenset(f"alarm.{t}" for t in TRANSITIONS)
"""The kinds of the events that carry an alarm's snapshot (the state, the audit trail)."""
REQUEST = "alarm.request"
"""An operator's action asked on an API replica, for the alarm leader to apply."""
REFUSED = "alarm.refused"
"""The leader's answer to a request it could not apply (``data``: ``status``, ``message``)."""


class AlarmError(WerkError):
    """An alarm action that cannot be done."""


class UnknownAlarm(AlarmError):
    """No alarm has this id."""


class AlarmConflict(AlarmError):
    """The action does not fit the alarm's state (acknowledging one already acknowledged)."""


class AlarmState(StrEnum):
    NORMAL = "normal"
    UNACK = "unack"
    """Active, not acknowledged."""
    ACKED = "acked"
    """Active, acknowledged."""
    RTNUNACK = "rtnunack"
    """Returned to normal (cleared) before anyone acknowledged it."""
    SHELVED = "shelved"


class Priority(IntEnum):
    low = 1
    medium = 2
    high = 3
    urgent = 4

    @classmethod
    def parse(cls, value: str | int | Priority | None, default: Priority) -> Priority:
        """A priority name (any case) or number; ``None`` or an unknown name gives ``default``
        (a processor's typo must not lose the alarm)."""
        if isinstance(value, Priority):
            return value
        if isinstance(value, int):
            return cls(value) if value in cls._value2member_map_ else default
        if isinstance(value, str):
            return cls.__members__.get(value.strip().lower(), default)
        return default


class Verdict(StrEnum):
    """What the operator says, acknowledging: was it a real problem? (Drives alarm precision.)"""

    REAL = "real"
    FALSE = "false"


def alarm_id(source: str, condition: str) -> str:
    """The alarm of a (source, condition) pair. Signal ids never contain ``@`` (core.signal)."""
    return f"{source}@{condition}"


def _finite(value: Any) -> float | None:
    """JSON has no NaN: a non-finite or missing number travels as ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


@dataclass
class Alarm:
    """One alarm: what the condition last said, what the operator did, what is pending."""

    id: str
    source: str
    condition: str
    family: str
    priority: Priority = Priority.medium
    message: str = ""
    value: float | None = None
    score: float | None = None
    contributors: list[dict[str, Any]] = field(default_factory=list)
    asset: str | None = None
    signal: str | None = None
    condition_active: bool = False
    """The processor's condition, before the delays."""
    active: bool = False
    """The alarm, after the delays."""
    acknowledged: bool = True
    raised_at: int | None = None
    cleared_at: int | None = None
    acked_at: int | None = None
    acked_by: str | None = None
    verdict: str | None = None
    comment: str | None = None
    shelved_until: int | None = None
    shelved_at: int | None = None
    shelved_by: str | None = None
    shelve_reason: str | None = None
    on_due: int | None = None
    """Activates then, unless the condition clears first (on-delay)."""
    off_due: int | None = None
    """Clears then, unless the condition returns first (off-delay)."""
    cause_id: str | None = None
    """The condition event behind the current (or pending) activation."""
    clear_id: str | None = None
    """The condition event that cleared it."""
    condition_event: str | None = None
    """The last condition event applied (a restart skips it and those before)."""
    activations: int = 0
    seq: int = 0
    """Transitions so far: the newest snapshot has the highest (timestamps may tie)."""
    updated_at: int = 0

    @property
    def state(self) -> AlarmState:
        if self.shelved_until is not None:
            return AlarmState.SHELVED
        return self.underlying_state

    @property
    def underlying_state(self) -> AlarmState:
        """The state shelving hides."""
        if self.active:
            return AlarmState.ACKED if self.acknowledged else AlarmState.UNACK
        return AlarmState.NORMAL if self.acknowledged else AlarmState.RTNUNACK

    def snapshot(self) -> dict[str, Any]:
        """Everything about the alarm, JSON-ready: the data of each alarm event."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["alarm_id"] = data.pop("id")
        data["priority"] = self.priority.name
        data["state"] = self.state.value
        data["underlying_state"] = self.underlying_state.value
        return data

    @classmethod
    def restore(cls, data: Mapping[str, Any]) -> Alarm:
        """The alarm a snapshot describes (unknown keys, from a newer werk, are ignored)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["id"] = data["alarm_id"]
        values["priority"] = Priority.parse(data.get("priority"), Priority.medium)
        values["contributors"] = list(data.get("contributors") or [])
        return cls(**values)


@dataclass(frozen=True)
class Delays:
    """Chatter control, seconds: how long a condition must persist (on) or stay clear (off)."""

    on_s: float = 0.0
    off_s: float = 0.0

    def __post_init__(self) -> None:
        for name, value in (("on_delay_s", self.on_s), ("off_delay_s", self.off_s)):
            if not math.isfinite(value) or value < 0:
                raise ValidationError(
                    f"{name} must be a number >= 0, got {value}", field=name, rule="non-negative"
                )


DEFAULT_PRIORITY: Mapping[str, Priority] = {
    "anomaly": Priority.medium,
    "quality": Priority.low,
    "spc": Priority.medium,
    "limit": Priority.high,
}


class AlarmBook:
    """Every alarm, keyed by id; each method applies one cause and returns the events it makes.

    Pure: no I/O, no tasks. Time comes from ``clock`` unless a method is given ``at`` (a restart
    replays stored condition events at their own timestamps). Deadlines (delays, shelving expiry)
    fire when :meth:`due` is called; the manager calls it on a timer and before each cause.
    """

    def __init__(
        self,
        clock: Clock,
        delays: Delays | None = None,
        default_priority: Mapping[str, Priority] | None = None,
    ) -> None:
        self.clock = clock
        self.delays = delays or Delays()
        self.default_priority = dict(DEFAULT_PRIORITY)
        self.default_priority.update(default_priority or {})
        self._alarms: dict[str, Alarm] = {}
        self.filtered = 0
        """Conditions that cleared within the on-delay: chatter the operator never saw."""

    def __len__(self) -> int:
        return len(self._alarms)

    def __iter__(self) -> Iterator[Alarm]:
        return iter(self._alarms.values())

    def find(self, alarm_id: str) -> Alarm | None:
        return self._alarms.get(alarm_id)

    def get(self, alarm_id: str) -> Alarm:
        try:
            return self._alarms[alarm_id]
        except KeyError:
            raise UnknownAlarm(f"no alarm {alarm_id!r}") from None

    # -- conditions ------------------------------------------------------------------------------

    def condition(self, event: Event, *, at: int | None = None) -> list[Event]:
        """Apply a ``<family>.raised`` / ``<family>.cleared`` event; other kinds are ignored."""
        family, _, change = event.kind.partition(".")
        if change not in (RAISED, CLEARED) or not event.source:
            return []
        name = str(event.data.get("condition") or family)
        now = self._now(at)
        out = self.due(now)
        key = alarm_id(event.source, name)
        alarm = self._alarms.get(key)
        if alarm is None:
            if change == CLEARED:
                return out  # the clear of a condition raised before werk knew it: nothing to show
            alarm = self._alarms[key] = Alarm(key, event.source, name, family)
        alarm.condition_event = event.id
        if change == RAISED:
            self._describe(alarm, event)
            out += self._condition_raised(alarm, event.id, now)
        else:
            out += self._condition_cleared(alarm, event.id, now)
        return out

    def _describe(self, alarm: Alarm, event: Event) -> None:
        data = event.data
        default = self.default_priority.get(alarm.family, Priority.medium)
        alarm.priority = Priority.parse(data.get("priority"), default)
        alarm.message = str(data.get("message") or f"{alarm.condition} on {alarm.source}")
        alarm.value = _finite(data.get("value"))
        alarm.score = _finite(data.get("score"))
        contributors = data.get("contributors")
        alarm.contributors = list(contributors) if isinstance(contributors, list) else []
        alarm.asset = data.get("asset") or None
        alarm.signal = data.get("signal") or None

    def _condition_raised(self, alarm: Alarm, cause: str, now: int) -> list[Event]:
        if alarm.condition_active:
            return []  # told twice: transitions only
        alarm.condition_active = True
        if alarm.off_due is not None:  # back within the off-delay: the alarm never cleared
            alarm.off_due = None
            return []
        if alarm.active:
            return []
        alarm.cause_id = cause
        if self.delays.on_s > 0:
            alarm.on_due = now + round(self.delays.on_s * NS_PER_S)
            return []
        return [self._activate(alarm, now)]

    def _condition_cleared(self, alarm: Alarm, cause: str, now: int) -> list[Event]:
        if not alarm.condition_active:
            return []
        alarm.condition_active = False
        alarm.clear_id = cause
        if alarm.on_due is not None:  # cleared within the on-delay: chatter, never shown
            alarm.on_due = None
            self.filtered += 1
            return []
        if not alarm.active:
            return []
        if self.delays.off_s > 0:
            alarm.off_due = now + round(self.delays.off_s * NS_PER_S)
            return []
        return [self._deactivate(alarm, now)]

    def _activate(self, alarm: Alarm, at: int) -> Event:
        alarm.on_due = None
        alarm.active = True
        alarm.acknowledged = False
        alarm.raised_at, alarm.cleared_at = at, None
        alarm.acked_at = alarm.acked_by = alarm.verdict = alarm.comment = None
        alarm.activations += 1
        return self._event(alarm, RAISED, at, None, alarm.cause_id)

    def _deactivate(self, alarm: Alarm, at: int) -> Event:
        alarm.off_due = None
        alarm.active = False
        alarm.cleared_at = at
        return self._event(alarm, CLEARED, at, None, alarm.clear_id)

    # -- operators -------------------------------------------------------------------------------

    def acknowledge(
        self,
        alarm_id: str,
        user: str | None,
        verdict: Verdict | str | None = None,
        comment: str | None = None,
        *,
        at: int | None = None,
    ) -> Event:
        """The operator has seen it (and says whether it was real). Refused when shelved or when
        there is nothing to acknowledge."""
        alarm = self.get(alarm_id)
        if alarm.state is AlarmState.SHELVED:
            raise AlarmConflict(f"alarm {alarm_id!r} is shelved: unshelve it to acknowledge it")
        if alarm.acknowledged:
            if alarm.active:
                raise AlarmConflict(
                    f"alarm {alarm_id!r} is already acknowledged "
                    f"(by {alarm.acked_by or 'the system'})"
                )
            raise AlarmConflict(f"alarm {alarm_id!r} is normal: nothing to acknowledge")
        parsed = _verdict(verdict)
        now = self._now(at)
        alarm.acknowledged = True
        alarm.acked_at, alarm.acked_by = now, user
        alarm.verdict = parsed.value if parsed is not None else None
        alarm.comment = comment or None
        return self._event(alarm, ACKNOWLEDGED, now, user, alarm.cause_id)

    def shelve(
        self,
        alarm_id: str,
        user: str | None,
        until: int,
        reason: str | None = None,
        *,
        at: int | None = None,
    ) -> Event:
        """Hide the alarm until ``until`` (ns). Shelving a shelved alarm sets a new expiry."""
        alarm = self.get(alarm_id)
        now = self._now(at)
        if until <= now:
            raise ValidationError(
                "a shelf must end in the future", field="duration_s", rule="positive"
            )
        alarm.shelved_until, alarm.shelved_at = until, now
        alarm.shelved_by, alarm.shelve_reason = user, reason or None
        return self._event(alarm, SHELVED, now, user, alarm.cause_id)

    def unshelve(self, alarm_id: str, user: str | None, *, at: int | None = None) -> Event:
        """Show the alarm again, in the state it is really in."""
        alarm = self.get(alarm_id)
        if alarm.shelved_until is None:
            raise AlarmConflict(f"alarm {alarm_id!r} is not shelved")
        return self._unshelve(alarm, self._now(at), user, expired=False)

    def _unshelve(self, alarm: Alarm, at: int, user: str | None, *, expired: bool) -> Event:
        alarm.shelved_until = alarm.shelved_at = alarm.shelved_by = alarm.shelve_reason = None
        return self._event(alarm, UNSHELVED, at, user, alarm.cause_id, expired=expired)

    # -- time ------------------------------------------------------------------------------------

    def due(self, now: int | None = None) -> list[Event]:
        """Fire every deadline at or before ``now``, oldest first, each at its own time."""
        now = self._now(now)
        pending: list[tuple[int, int, Alarm]] = []
        for alarm in self._alarms.values():
            for order, deadline in enumerate((alarm.on_due, alarm.off_due, alarm.shelved_until)):
                if deadline is not None and deadline <= now:
                    pending.append((deadline, order, alarm))
        out = []
        for deadline, order, alarm in sorted(pending, key=lambda p: (p[0], p[1], p[2].id)):
            if order == 0:
                out.append(self._activate(alarm, deadline))
            elif order == 1:
                out.append(self._deactivate(alarm, deadline))
            else:
                out.append(self._unshelve(alarm, deadline, None, expired=True))
        return out

    def next_deadline(self) -> int | None:
        """When :meth:`due` next has something to do (``None``: nothing pending)."""
        deadlines = [
            d
            for a in self._alarms.values()
            for d in (a.on_due, a.off_due, a.shelved_until)
            if d is not None
        ]
        return min(deadlines, default=None)

    # -- restart ---------------------------------------------------------------------------------

    def restore(self, event: Event) -> bool:
        """Take the alarm state an ``alarm.<transition>`` event recorded, unless a newer one is
        known. Other events (an ``alarm.request``, an ``alarm.refused``) are not snapshots."""
        data = event.data
        if event.kind not in TRANSITION_KINDS or "alarm_id" not in data:
            return False
        known = self._alarms.get(data["alarm_id"])
        if known is not None and known.seq >= int(data.get("seq", 0)):
            return False
        self._alarms[data["alarm_id"]] = Alarm.restore(data)
        return True

    # -- helpers ---------------------------------------------------------------------------------

    def _now(self, at: int | None) -> int:
        return self.clock.now_ns() if at is None else at

    def _event(
        self,
        alarm: Alarm,
        transition: str,
        at: int,
        user: str | None,
        parent: str | None,
        **extra: Any,
    ) -> Event:
        alarm.seq += 1
        alarm.updated_at = at
        data = alarm.snapshot()
        data["transition"] = transition
        data["annunciated"] = alarm.shelved_until is None
        data.update(extra)
        return Event(
            f"alarm.{transition}",
            alarm.source,
            data,
            Context(parent_id=parent, user=user),
            timestamp=at,
        )


def _verdict(value: Verdict | str | None) -> Verdict | None:
    if value is None or isinstance(value, Verdict):
        return value
    try:
        return Verdict(value.strip().lower())
    except ValueError:
        raise ValidationError(
            f"verdict {value!r} is not one of real, false", field="verdict", rule="one-of"
        ) from None

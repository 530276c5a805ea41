"""Alarms with the ISA-18.2 lifecycle, webhooks, and the figures that say whether they help.

* :mod:`~werk.analytics.alarms.model` — the pure lifecycle (states, delays, shelving, verdicts);
* :mod:`~werk.analytics.alarms.manager` — the bus service around it, rebuilt from the store;
* :mod:`~werk.analytics.alarms.replica` — an API replica's read model, actions forwarded;
* :mod:`~werk.analytics.alarms.webhooks` — notifications, queued, retried, optionally signed;
* :mod:`~werk.analytics.alarms.kpis` — precision, rates against ISA-18.2, floods, bad actors.
"""

from werk.analytics.alarms.kpis import alarm_kpis
from werk.analytics.alarms.manager import AlarmManager, AlarmPolicy, Shelved
from werk.analytics.alarms.model import (
    TRANSITIONS,
    Alarm,
    AlarmBook,
    AlarmConflict,
    AlarmError,
    AlarmState,
    Delays,
    Priority,
    UnknownAlarm,
    Verdict,
    alarm_id,
)
from werk.analytics.alarms.replica import AlarmReplica, NoAnswer
from werk.analytics.alarms.webhooks import Webhook, WebhookNotifier
from werk.core.condition import FAMILIES

__all__ = [
    "FAMILIES",
    "TRANSITIONS",
    "Alarm",
    "AlarmBook",
    "AlarmConflict",
    "AlarmError",
    "AlarmManager",
    "AlarmPolicy",
    "AlarmReplica",
    "AlarmState",
    "Delays",
    "NoAnswer",
    "Priority",
    "Shelved",
    "UnknownAlarm",
    "Verdict",
    "Webhook",
    "WebhookNotifier",
    "alarm_id",
    "alarm_kpis",
]

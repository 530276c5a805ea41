"""Alarm notifications to webhooks: a JSON POST per transition, never in the alarm system's way.

Each webhook has its own bounded queue and sender task, so a dead or slow endpoint delays nobody
else, and the manager only ever puts into a queue (:meth:`WebhookNotifier.notify` does not
await). A send that fails on the network, times out, or answers 5xx or 429 is retried with
exponential backoff; other 4xx answers are not (the request itself is wrong). A full queue drops
the newest notification and counts it.

Failures are logged once per endpoint when they start and once when it recovers, not per retry.
The URL in a log line has no user info and no query string (where tokens tend to live), and a
secret never appears at all.

With a ``secret``, each request carries ``X-Werk-Signature: t=<unix s>,sha256=<hex>``: the
HMAC-SHA256 of ``"<t>." + body`` under the secret. A receiver recomputes it and rejects stale
``t`` values, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from werk.analytics.alarms.model import TRANSITIONS, Priority
from werk.core import Event, ValidationError, iso

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Werk-Signature"


@dataclass(frozen=True)
class Webhook:
    """Where to POST, and which alarm transitions to send there."""

    url: str
    min_priority: Priority = Priority.high
    transitions: tuple[str, ...] = TRANSITIONS
    secret: str | None = field(default=None, repr=False)
    timeout_s: float = 5.0
    retries: int = 3
    backoff_s: float = 0.5

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError(
                f"webhook URL {redact(self.url)!r} must be http(s)://host/...",
                field="url",
                rule="http-url",
            )
        unknown = set(self.transitions) - set(TRANSITIONS)
        if unknown:
            raise ValidationError(
                f"unknown transition(s) {', '.join(sorted(unknown))}: {', '.join(TRANSITIONS)}",
                field="transitions",
                rule="one-of",
            )

    def wants(self, event: Event) -> bool:
        transition = event.kind.removeprefix("alarm.")
        priority = Priority.parse(event.data.get("priority"), Priority.low)
        return transition in self.transitions and priority >= self.min_priority


def redact(url: str) -> str:
    """``scheme://host:port/path``: no user info, no query, no fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def sign(secret: str, body: bytes, timestamp_s: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_s}.".encode() + body, hashlib.sha256)
    return f"t={timestamp_s},sha256={digest.hexdigest()}"


def payload(event: Event) -> bytes:
    """The JSON body of a notification: the event, with its time in ISO 8601 too."""
    body: dict[str, Any] = {**event.to_dict(), "time": iso(event.timestamp)}
    return json.dumps(body, separators=(",", ":")).encode()


@dataclass
class WebhookStats:
    url: str
    sent: int = 0
    failed: int = 0
    """Notifications given up on after every retry."""
    retried: int = 0
    dropped: int = 0
    """Notifications that found the queue full."""
    failing: bool = False


class _Sender:
    def __init__(self, hook: Webhook, queue_size: int) -> None:
        self.hook = hook
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(queue_size)
        self.stats = WebhookStats(redact(hook.url))


class WebhookNotifier:
    """Queues alarm events for each webhook that wants them; :meth:`run` sends them."""

    def __init__(self, webhooks: Iterable[Webhook], *, queue_size: int = 1_000) -> None:
        self._senders = [_Sender(hook, queue_size) for hook in webhooks]

    def __bool__(self) -> bool:
        return bool(self._senders)

    def notify(self, event: Event) -> None:
        """Queue ``event`` for every webhook that wants it; never waits."""
        body: bytes | None = None
        for sender in self._senders:
            if not sender.hook.wants(event):
                continue
            body = body or payload(event)
            try:
                sender.queue.put_nowait(body)
            except asyncio.QueueFull:
                if sender.stats.dropped == 0:
                    log.warning("webhook %s: queue full, notifications dropped", sender.stats.url)
                sender.stats.dropped += 1

    def stats(self) -> list[dict[str, Any]]:
        return [{**vars(s.stats), "queued": s.queue.qsize()} for s in self._senders]

    async def drain(self) -> None:
        """Wait until every queued notification was sent or given up on."""
        await asyncio.gather(*(s.queue.join() for s in self._senders))

    async def run(self) -> None:
        """Send until cancelled."""
        if not self._senders:
            return
        async with (
            httpx.AsyncClient(follow_redirects=False) as client,
            asyncio.TaskGroup() as group,
        ):
            for sender in self._senders:
                group.create_task(self._send_all(client, sender))

    async def _send_all(self, client: httpx.AsyncClient, sender: _Sender) -> None:
        while True:
            body = await sender.queue.get()
            try:
                await self._deliver(client, sender, body)
            finally:
                sender.queue.task_done()

    async def _deliver(self, client: httpx.AsyncClient, sender: _Sender, body: bytes) -> None:
        hook, stats = sender.hook, sender.stats
        problem = ""
        for attempt in range(hook.retries + 1):
            if attempt:
                stats.retried += 1
                await asyncio.sleep(hook.backoff_s * 2 ** (attempt - 1))
            headers = {"Content-Type": "application/json", "User-Agent": "werk-alarms"}
            if hook.secret:
                headers[SIGNATURE_HEADER] = sign(hook.secret, body, int(time.time()))
            try:
                response = await client.post(
                    hook.url, content=body, headers=headers, timeout=hook.timeout_s
                )
            except httpx.HTTPError as error:
                # The class name only: some messages repeat the URL, query string included.
                problem = type(error).__name__
                continue
            if response.status_code < 300:
                stats.sent += 1
                if stats.failing:
                    stats.failing = False
                    log.info("webhook %s answers again", stats.url)
                return
            problem = f"HTTP {response.status_code}"
            if response.status_code < 500 and response.status_code != 429:
                break  # the request is wrong; sending it again will not help
        stats.failed += 1
        if not stats.failing:
            stats.failing = True
            log.warning("webhook %s failing (%s); notifications are being lost", stats.url, problem)

"""The NATS JetStream bus (``nats://host:4222?stream=werk``): the bus between werk processes.

Same protocol as the in-process :class:`~werk.core.bus.MemoryBus`; what differs is where messages
live. Every werk topic is a NATS subject under a prefix (``samples.press1`` ->
``werk.samples.press1``) and one JetStream stream (``werk``, created if missing) stores every
subject under the prefix, so a message outlives its publisher and its subscribers:

- ``subscribe(pattern, name=..., durable=True)`` is a durable pull consumer named after ``name``
  (dots become ``_``). Every process that subscribes with that name shares its messages: a
  consumer group. ``ack()`` acks in JetStream (the recorder does so after commit); a message not
  acked within ``ack_wait`` is delivered again, to this or another member of the group.
  ``nack(error)`` asks for redelivery after a delay that doubles each time (``nak_delay``); once a
  message has been delivered ``max_deliver`` times it goes to the dead-letter subject
  ``<prefix>.dead.<topic>`` with the error in its headers and is terminated on its own subject.
  A message that keeps killing its consumer (never acked nor nacked) is dead-lettered the same way
  when it comes round the ``max_deliver + 1``-th time.
- ``subscribe(pattern, name=...)`` (not durable) is an ephemeral consumer without acks, for the
  live feed and the twin state; the server deletes it ``inactive`` after its process goes away.
- Both deliver what is published after ``subscribe()`` returned, like the in-process bus (the
  consumer starts at that instant; a durable one ``start_margin`` earlier, for clock skew: a
  duplicate is harmless there, a gap is not). A durable consumer that already exists resumes
  where its group left off.
- ``publish(..., confirm=True)`` returns once JetStream has stored the message (its PubAck): it
  survives the publisher, and every durable consumer will see it at least once.
  ``confirm=False`` is a plain NATS publish: the stream stores it too, but nobody waits.

Payloads: sample batches as Arrow IPC, events as JSON, the context in headers (see ``codec``). A
batch larger than the server's ``max_payload`` travels as several messages.

URL query parameters (all optional)::

    stream=werk           the JetStream stream
    prefix=werk           the subject prefix
    max_deliver=5         deliveries before a message goes to the dead letters
    ack_wait=30s          a delivered message not acked by then is delivered again
    nak_delay=1s          first redelivery delay after a nack (doubles each time)
    max_ack_pending=1024  messages in flight per durable group
    max_age=1d            how long the stream keeps messages
    max_bytes=1GiB        stream size limit (-1: none); the oldest go first
    retention=limits      limits | interest
    storage=file          file | memory
    replicas=1            stream replicas (in a cluster)
    fetch=64              messages per pull
    start_margin=2s       a new durable group starts this much before subscribe()
    inactive=30s          an ephemeral consumer outlives its process by this much
    timeout=5s            connect, JetStream API and PubAck timeout
    name=werk             the connection's name (server monitoring)

Credentials in the URL (``nats://user:secret@host``) go to the server and nowhere else: errors
and logs name the URL without them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import re
from collections.abc import AsyncIterator, Iterable
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import nats.errors
import nats.js.errors
import numpy as np
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

from werk.bus import codec
from werk.core import BusClosed, BusError, Context, Message, SampleBatch, parse_duration
from werk.core.clock import NS_PER_S

log = logging.getLogger(__name__)

DEAD = "dead"
ERROR = "Werk-Error"
ORIGINAL_SUBJECT = "Werk-Original-Subject"
DELIVERIES = "Werk-Deliveries"
CONSUMER = "Werk-Consumer"

_NATS_ERRORS = (nats.errors.Error, OSError, asyncio.TimeoutError)
_SIZES = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
}
_TOKEN = re.compile(r"^[^\s.*>]+$")


def safe_url(url: str) -> str:
    """``url`` without user, password or token: for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def consumer_name(name: str) -> str:
    """A JetStream consumer name for a werk subscriber name (no ``.``, ``*``, ``>`` or spaces)."""
    cleaned = re.sub(r"[\s.*>/\\]", "_", name)
    if not cleaned:
        raise BusError("a durable subscriber needs a name")
    return cleaned


class NatsBus:
    """A :class:`~werk.core.bus.Bus` on NATS JetStream. Connects on first use (or ``connect()``)."""

    def __init__(
        self,
        url: str = "nats://127.0.0.1:4222",
        *,
        stream: str = "werk",
        prefix: str = "werk",
        max_deliver: int = 5,
        ack_wait_s: float = 30.0,
        nak_delay_s: float = 1.0,
        max_ack_pending: int = 1024,
        max_age_s: float = 86_400.0,
        max_bytes: int = 2**30,
        retention: str = "limits",
        storage: str = "file",
        replicas: int = 1,
        fetch: int = 64,
        start_margin_s: float = 2.0,
        inactive_s: float = 30.0,
        timeout_s: float = 5.0,
        name: str = "werk",
        poll_s: float = 0.5,
        settle_s: float = 2.0,
    ) -> None:
        if not _TOKEN.match(stream) or not all(_TOKEN.match(t) for t in prefix.split(".")):
            raise BusError(f"bad stream {stream!r} or prefix {prefix!r}: no spaces, '*' or '>'")
        if max_deliver < 1:
            raise BusError(f"max_deliver must be 1 or more, not {max_deliver}")
        if retention not in {"limits", "interest"}:
            # workqueue forbids overlapping consumers, and werk has several per subject.
            raise BusError(f"retention must be 'limits' or 'interest', not {retention!r}")
        if storage not in {"file", "memory"}:
            raise BusError(f"storage must be 'file' or 'memory', not {storage!r}")
        self._url = url
        self.url = safe_url(url)
        self.stream = stream
        self.prefix = prefix
        self.max_deliver = max_deliver
        self.ack_wait_s = ack_wait_s
        self.nak_delay_s = nak_delay_s
        self.max_ack_pending = max_ack_pending
        self.max_age_s = max_age_s
        self.max_bytes = max_bytes
        self.retention = retention
        self.storage = storage
        self.replicas = replicas
        self.fetch = fetch
        self.start_margin_s = start_margin_s
        self.inactive_s = inactive_s
        self.timeout_s = timeout_s
        self.name = name
        self.poll_s = poll_s
        self.settle_s = settle_s
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._connect_lock = asyncio.Lock()
        self._subscriptions: list[NatsSubscription] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = asyncio.Event()
        self._closed = False
        self._connected = True  # for logging the transitions once
        self.published = 0

    # -- construction ------------------------------------------------------------------------------

    @classmethod
    def from_url(cls, url: str) -> NatsBus:
        """``nats://host:4222?stream=werk&max_deliver=5`` (parameters: see the module docstring)."""
        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        servers = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        options: dict[str, Any] = {}
        readers: dict[str, tuple[str, Any]] = {
            "stream": ("stream", str),
            "prefix": ("prefix", str),
            "max_deliver": ("max_deliver", int),
            "ack_wait": ("ack_wait_s", _seconds),
            "nak_delay": ("nak_delay_s", _seconds),
            "max_ack_pending": ("max_ack_pending", int),
            "max_age": ("max_age_s", _seconds),
            "max_bytes": ("max_bytes", _bytes),
            "retention": ("retention", str),
            "storage": ("storage", str),
            "replicas": ("replicas", int),
            "fetch": ("fetch", int),
            "start_margin": ("start_margin_s", _seconds_or_zero),
            "inactive": ("inactive_s", _seconds),
            "timeout": ("timeout_s", _seconds),
            "name": ("name", str),
        }
        for key, raw in query.items():
            if key not in readers:
                known = ", ".join(sorted(readers))
                raise BusError(f"unknown parameter {key!r} in {safe_url(url)}; known: {known}")
            attribute, read = readers[key]
            try:
                options[attribute] = read(raw)
            except ValueError as error:
                raise BusError(f"bad {key}={raw!r} in {safe_url(url)}: {error}") from None
        return cls(servers, **options)

    # -- connection --------------------------------------------------------------------------------

    async def connect(self) -> NatsBus:
        """Connect and make sure the stream exists (publish and subscribe do it when needed)."""
        await self._jetstream()
        return self

    async def __aenter__(self) -> NatsBus:
        return await self.connect()

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _jetstream(self) -> JetStreamContext:
        if self._closed:
            raise BusClosed("the NATS bus is closed")
        if self._js is not None:
            return self._js
        async with self._connect_lock:
            if self._closed:  # closed while this waited for the lock
                raise BusClosed("the NATS bus is closed")
            if self._js is not None:
                return self._js
            nc = Client()
            try:
                # nats-py retries a first connect as often as a reconnect (forever, here):
                # bound it, so a wrong URL is an error now rather than a hang.
                async with asyncio.timeout(self.timeout_s):
                    await nc.connect(
                        self._url,
                        name=self.name,
                        connect_timeout=max(1, math.ceil(self.timeout_s)),
                        allow_reconnect=True,
                        max_reconnect_attempts=-1,
                        reconnect_time_wait=1,
                        error_cb=self._on_error,
                        disconnected_cb=self._on_disconnected,
                        reconnected_cb=self._on_reconnected,
                    )
            except (*_NATS_ERRORS, ValueError) as error:
                cause = nc.last_error or error
                with contextlib.suppress(*_NATS_ERRORS):
                    await nc.close()
                raise BusError(f"cannot reach NATS at {self.url}: {_describe(cause)}") from cause
            js = nc.jetstream(timeout=self.timeout_s)
            try:
                await self._ensure_stream(js)
            except BaseException:
                await nc.close()
                raise
            self._nc, self._js = nc, js
            log.info("bus: NATS JetStream at %s, stream %s", self.url, self.stream)
            return js

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        wanted = f"{self.prefix}.>"
        try:
            info = await js.stream_info(self.stream)
        except nats.js.errors.NotFoundError:
            info = None
        except _NATS_ERRORS as error:
            raise BusError(f"JetStream at {self.url} did not answer: {_describe(error)}") from error
        if info is None:
            config = StreamConfig(
                name=self.stream,
                subjects=[wanted],
                retention=RetentionPolicy(self.retention),
                storage=StorageType(self.storage),
                max_age=self.max_age_s,
                max_bytes=self.max_bytes,
                discard=DiscardPolicy.OLD,
                num_replicas=self.replicas,
                duplicate_window=min(120.0, self.max_age_s),
            )
            try:
                await js.add_stream(config)
                log.info("bus: created stream %s over %s", self.stream, wanted)
                return
            except nats.js.errors.BadRequestError:
                info = await js.stream_info(self.stream)  # another process created it first
            except nats.js.errors.ServiceUnavailableError as error:
                raise BusError(
                    f"NATS at {self.url} has no JetStream: start the server with -js"
                ) from error
            except _NATS_ERRORS as error:
                raise BusError(
                    f"cannot create stream {self.stream} at {self.url}: {_describe(error)}"
                ) from error
        subjects = info.config.subjects or []
        if wanted not in subjects and ">" not in subjects:
            raise BusError(
                f"stream {self.stream} at {self.url} stores {subjects}, not {wanted}: "
                "choose another stream= or prefix="
            )

    async def _on_error(self, error: Exception) -> None:
        # While connecting or reconnecting every failed try reports here: the transitions are
        # logged once by the callbacks below, the tries only at debug level.
        level = logging.WARNING if self._js is not None and self._connected else logging.DEBUG
        log.log(level, "bus: NATS at %s: %s", self.url, _describe(error))

    async def _on_disconnected(self) -> None:
        if self._connected and not self._closed:  # once per outage, not once per retry
            self._connected = False
            log.warning("bus: lost NATS at %s; reconnecting", self.url)

    async def _on_reconnected(self) -> None:
        self._connected = True
        log.info("bus: reconnected to NATS at %s", self.url)

    # -- the bus protocol --------------------------------------------------------------------------

    def subject(self, topic: str) -> str:
        if not topic or not all(_TOKEN.match(t) for t in topic.split(".")):
            raise BusError(f"bad topic {topic!r}: dotted tokens without spaces, '*' or '>'")
        return f"{self.prefix}.{topic}"

    def topic(self, subject: str) -> str:
        return subject[len(self.prefix) + 1 :]

    def filter_subject(self, pattern: str) -> str:
        tokens = pattern.split(".")
        if not pattern or any(
            not t or (t != "*" and t != ">" and not _TOKEN.match(t)) for t in tokens
        ):
            raise BusError(f"bad pattern {pattern!r}: dotted tokens, '*' or a final '>'")
        if ">" in tokens[:-1]:
            raise BusError(f"bad pattern {pattern!r}: '>' only as the last token")
        return f"{self.prefix}.{pattern}"

    async def publish(
        self, topic: str, payload: Any, context: Context | None = None, *, confirm: bool = False
    ) -> None:
        if self._closed:
            raise BusClosed("publish on a closed bus")
        subject = self.subject(topic)
        js = await self._jetstream()
        assert self._nc is not None
        ctx = context or Context()
        headers = codec.context_headers(ctx)
        for kind, data in _encoded(payload, self._nc.max_payload):
            message_headers = {codec.TYPE: kind, **headers}
            if kind == codec.EVENT:  # JetStream drops a retried publish of the same event
                message_headers["Nats-Msg-Id"] = ctx.id
            try:
                if confirm:
                    await js.publish(subject, data, headers=message_headers, stream=self.stream)
                else:
                    await self._nc.publish(subject, data, headers=message_headers)
            except nats.errors.NoRespondersError as error:
                raise BusError(f"no JetStream stream stores {subject} at {self.url}") from error
            except nats.js.errors.APIError as error:
                raise BusError(
                    f"JetStream at {self.url} refused {subject}: {_describe(error)}"
                ) from error
            except _NATS_ERRORS as error:
                raise BusError(
                    f"publish {subject} to NATS at {self.url} failed: {_describe(error)}"
                ) from error
            self.published += 1

    def subscribe(self, pattern: str, *, name: str, durable: bool = False) -> NatsSubscription:
        if self._closed:
            raise BusClosed("subscribe on a closed bus")
        subscription = NatsSubscription(self, pattern, name, durable)
        self._subscriptions.append(subscription)
        return subscription

    def stats(self) -> list[dict[str, Any]]:
        """Per subscriber: messages delivered, acked, nacked, dead-lettered, in flight."""
        return [s.stats() for s in self._subscriptions]

    async def close(self) -> None:
        """Stop the subscriptions, wait for what they handed out to be settled, then drain.

        Subscribers get what their last pull fetched; messages still in the stream stay there for
        the next member of a durable group. Acks sent after close() began still go out: the
        connection drains only once every handed-out message is acked or nacked, or after
        ``ack_wait`` (JetStream would redeliver it by then anyway).
        """
        if self._closed:
            return
        self._closing.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ack_wait_s
        progress, last_change = None, loop.time()
        while any(s.busy for s in self._subscriptions) or self._tasks:
            now = loop.time()
            mark = tuple(s.progress for s in self._subscriptions)
            if mark != progress:
                progress, last_change = mark, now
            # A subscriber that stopped reading (or a consumer stuck on a message) holds the rest:
            # JetStream redelivers those, so stop waiting once nothing has moved for a while.
            if now > deadline or (now - last_change > self.settle_s and not self._tasks):
                log.warning("bus: closing with unsettled messages; JetStream will redeliver them")
                break
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=0.05)
            else:
                await asyncio.sleep(0.01)
        for subscription in self._subscriptions:
            await subscription._release()
        self._closed = True
        for subscription in list(self._subscriptions):
            await subscription._unbind()
        async with self._connect_lock:  # a first connect still going on finishes, then is closed
            nc, self._nc, self._js = self._nc, None, None
        if nc is not None:
            with contextlib.suppress(*_NATS_ERRORS):
                await nc.drain()
            with contextlib.suppress(*_NATS_ERRORS):
                await nc.close()

    # -- internals ---------------------------------------------------------------------------------

    def _spawn(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _forget(self, subscription: NatsSubscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    async def _dead_letter(self, msg: Msg, reason: str, consumer: str) -> None:
        """Copy ``msg`` to ``<prefix>.dead.<topic>`` with ``reason``; then terminate it."""
        js = await self._jetstream()
        deliveries = msg.metadata.num_delivered
        headers = dict(msg.headers or {})
        headers.pop("Nats-Msg-Id", None)
        headers[ERROR] = _header_value(reason)
        headers[ORIGINAL_SUBJECT] = msg.subject
        headers[DELIVERIES] = str(deliveries)
        headers[CONSUMER] = consumer
        dead = f"{self.prefix}.{DEAD}.{self.topic(msg.subject)}"
        await js.publish(dead, msg.data, headers=headers, stream=self.stream)
        await msg.term()
        log.error(
            "bus: dead letter: %s delivered %d times to %s (%s); copied to %s",
            msg.subject,
            deliveries,
            consumer,
            reason,
            dead,
        )


class NatsSubscription:
    """One consumer: durable (a group, explicit acks) or ephemeral (no acks)."""

    def __init__(self, bus: NatsBus, pattern: str, name: str, durable: bool) -> None:
        self.bus = bus
        self.pattern = pattern
        self.name = name
        self.durable = durable
        self.filter = bus.filter_subject(pattern)
        self.consumer = consumer_name(name) if durable else ""
        margin = bus.start_margin_s if durable else 0.0
        # Deliver what is published from now on, as the in-process bus does.
        self.start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=margin)
        self.delivered = 0
        self.acked = 0
        self.nacked = 0
        self.dead_lettered = 0
        self.in_flight = 0
        self._fetching = False
        self._unyielded: list[Msg] = []
        self._last_sequence = 0
        self._pull: JetStreamContext.PullSubscription | None = None

    @property
    def busy(self) -> bool:
        """A durable consumer pulling, or holding messages not yet handed out, acked or nacked."""
        return self.durable and (self._fetching or bool(self._unyielded) or self.in_flight > 0)

    @property
    def progress(self) -> tuple[int, int, int]:
        return (self.delivered, self.acked + self.nacked, len(self._unyielded))

    async def __aenter__(self) -> NatsSubscription:
        await self._bind()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._unbind()
        if not self.busy:
            self.bus._forget(self)

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._messages()

    def stats(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "pattern": self.pattern,
            "durable": self.durable,
            "consumer": self.consumer,
            "delivered": self.delivered,
            "acked": self.acked,
            "nacked": self.nacked,
            "dead_lettered": self.dead_lettered,
            "in_flight": self.in_flight,
        }

    # -- consumer ----------------------------------------------------------------------------------

    async def _bind(self) -> None:
        js = await self.bus._jetstream()
        try:
            if self.durable:
                await self._ensure_durable(js)
            else:
                await self._create_ephemeral(js, self.start, None)
            self._pull = await js.pull_subscribe_bind(
                consumer=self.consumer, stream=self.bus.stream
            )
        except nats.js.errors.APIError as error:
            raise BusError(
                f"cannot subscribe {self.name!r} to {self.filter} at {self.bus.url}: "
                f"{_describe(error)}"
            ) from error
        except _NATS_ERRORS as error:
            raise BusError(
                f"cannot subscribe {self.name!r} at {self.bus.url}: {_describe(error)}"
            ) from error

    async def _ensure_durable(self, js: JetStreamContext) -> None:
        stream = self.bus.stream
        for attempt in range(2):
            try:
                info = await js.consumer_info(stream, self.consumer)
            except nats.js.errors.NotFoundError:
                info = None
            if info is not None:
                if info.config.filter_subject != self.filter:
                    raise BusError(
                        f"durable subscriber {self.name!r} (consumer {self.consumer} of stream "
                        f"{stream}) reads {info.config.filter_subject}, not {self.filter}: "
                        "give it another name, or delete the consumer"
                    )
                return
            config = ConsumerConfig(
                name=self.consumer,
                durable_name=self.consumer,
                filter_subject=self.filter,
                deliver_policy=DeliverPolicy.BY_START_TIME,
                opt_start_time=self.start,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=self.bus.ack_wait_s,
                # werk counts deliveries itself, so a poison message reaches the dead letters
                # instead of being dropped silently by the server.
                max_deliver=-1,
                max_ack_pending=self.bus.max_ack_pending,
            )
            try:
                await js.add_consumer(stream, config)
                return
            except nats.js.errors.BadRequestError:
                if attempt:  # not a race with a peer of the group: a real refusal
                    raise

    async def _create_ephemeral(
        self, js: JetStreamContext, start: dt.datetime | None, sequence: int | None
    ) -> None:
        assert self.bus._nc is not None
        self.consumer = f"{consumer_name(self.name)}_{self.bus._nc._nuid.next().decode()}"
        config = ConsumerConfig(
            name=self.consumer,
            filter_subject=self.filter,
            deliver_policy=(
                DeliverPolicy.BY_START_SEQUENCE if sequence else DeliverPolicy.BY_START_TIME
            ),
            opt_start_time=None if sequence else start,
            opt_start_seq=sequence,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=self.bus.inactive_s,
            mem_storage=True,
        )
        await js.add_consumer(self.bus.stream, config)

    async def _unbind(self) -> None:
        pull, self._pull = self._pull, None
        if pull is None:
            return
        with contextlib.suppress(*_NATS_ERRORS, ValueError):
            await pull.unsubscribe()
        if not self.durable and self.bus._js is not None:
            with contextlib.suppress(*_NATS_ERRORS):
                await self.bus._js.delete_consumer(self.bus.stream, self.consumer)

    # -- messages ----------------------------------------------------------------------------------

    async def _messages(self) -> AsyncIterator[Message]:
        if self._pull is None:
            await self._bind()
        while True:
            while self._unyielded:
                message = await self._message(self._unyielded.pop(0))
                if message is not None:
                    yield message
            if self.bus._closing.is_set():
                return
            self._fetching = True
            try:
                self._unyielded = await self._pull_batch()
            finally:
                self._fetching = False

    async def _release(self) -> None:
        """On close: hand back what was pulled but never handed out, for redelivery now."""
        unyielded, self._unyielded = self._unyielded, []
        if self.durable:
            for raw in unyielded:
                with contextlib.suppress(*_NATS_ERRORS):
                    await raw.nak()

    async def _pull_batch(self) -> list[Msg]:
        pull = self._pull
        if pull is None:
            raise BusClosed("the subscription has ended")
        fetch = asyncio.ensure_future(pull.fetch(self.bus.fetch, timeout=self.bus.poll_s))
        closing = asyncio.ensure_future(self.bus._closing.wait())
        try:
            await asyncio.wait({fetch, closing}, return_when=asyncio.FIRST_COMPLETED)
            if not fetch.done():
                if not self.durable:  # nothing to lose: stop at once
                    fetch.cancel()
                    return []
                # A durable pull in flight may still hand us messages: take them, so they are
                # acked now rather than redelivered after ack_wait.
                await asyncio.wait({fetch})
            return fetch.result()
        except asyncio.CancelledError:
            fetch.cancel()
            raise
        except (TimeoutError, nats.errors.TimeoutError):
            return []
        except nats.js.errors.APIError as error:
            await self._recover(error)
            return []
        except _NATS_ERRORS as error:
            if not self.bus._closing.is_set():
                log.debug("bus: pull for %r failed (%s); retrying", self.name, _describe(error))
                await asyncio.sleep(self.bus.poll_s)
            return []
        finally:
            closing.cancel()

    async def _recover(self, error: Exception) -> None:
        """The consumer is gone (an ephemeral one expired while we were cut off): recreate it."""
        log.warning("bus: consumer %s of %r failed: %s", self.consumer, self.name, _describe(error))
        await asyncio.sleep(self.bus.poll_s)
        if self.durable or self.bus._closing.is_set():
            return
        with contextlib.suppress(*_NATS_ERRORS, BusError):
            await self._unbind()
            js = await self.bus._jetstream()
            await self._create_ephemeral(js, self.start, self._last_sequence + 1)
            self._pull = await js.pull_subscribe_bind(
                consumer=self.consumer, stream=self.bus.stream
            )

    async def _message(self, raw: Msg) -> Message | None:
        metadata = raw.metadata
        self._last_sequence = metadata.sequence.stream
        headers = raw.headers or {}
        if self.durable and metadata.num_delivered > self.bus.max_deliver:
            self.dead_lettered += 1
            reason = (
                f"not acknowledged after {metadata.num_delivered - 1} deliveries "
                "(its consumer crashed or timed out on it)"
            )
            await self._settle(raw, reason, final=True)
            return None
        try:
            payload = codec.decode(headers.get(codec.TYPE, codec.BYTES), raw.data)
        except (BusError, ValueError, KeyError, TypeError) as error:
            if self.durable:
                self.dead_lettered += 1
                await self._settle(raw, f"cannot decode: {_describe(error)}", final=True)
            else:
                log.warning("bus: %s: cannot decode %s: %s", self.name, raw.subject, error)
            return None
        self.delivered += 1
        receipt = None
        if self.durable:
            self.in_flight += 1
            receipt = _Receipt(self, raw)
        return Message(
            self.bus.topic(raw.subject),
            payload,
            codec.context_from(headers),
            receipt,  # type: ignore[arg-type]  # core.bus types it as its own _Receipt
        )

    def _settled(self, raw: Msg, error: BaseException | None) -> None:
        self.in_flight -= 1
        if error is None:
            self.acked += 1
            self.bus._spawn(self._ack(raw))
        else:
            self.nacked += 1
            self.bus._spawn(self._nack(raw, error))

    async def _ack(self, raw: Msg) -> None:
        try:
            await raw.ack()
        except _NATS_ERRORS as error:
            log.warning(
                "bus: ack of %s by %r lost (%s): it will be delivered again",
                raw.subject,
                self.name,
                _describe(error),
            )

    async def _nack(self, raw: Msg, error: BaseException) -> None:
        deliveries = raw.metadata.num_delivered
        if deliveries >= self.bus.max_deliver:
            self.dead_lettered += 1
            await self._settle(raw, _describe(error), final=True)
            return
        delay = min(self.bus.nak_delay_s * 2 ** (deliveries - 1), self.bus.ack_wait_s)
        try:
            await raw.nak(delay=delay)
        except _NATS_ERRORS as failure:
            log.warning("bus: nak of %s lost (%s)", raw.subject, _describe(failure))

    async def _settle(self, raw: Msg, reason: str, *, final: bool) -> None:
        try:
            await self.bus._dead_letter(raw, reason, self.consumer)
        except (*_NATS_ERRORS, BusError) as error:
            # Not stored as a dead letter: leave it to be redelivered and tried again.
            log.warning("bus: dead letter for %s failed: %s", raw.subject, _describe(error))
            with contextlib.suppress(*_NATS_ERRORS):
                await raw.nak(delay=self.bus.nak_delay_s)


class _Receipt:
    """What ``Message.ack()`` / ``nack()`` call: settles the JetStream message in the background."""

    __slots__ = ("_raw", "_subscription")

    def __init__(self, subscription: NatsSubscription, raw: Msg) -> None:
        self._subscription = subscription
        self._raw = raw

    def ack(self) -> None:
        self._subscription._settled(self._raw, None)

    def fail(self, error: BaseException) -> None:
        self._subscription._settled(self._raw, error)


# -- helpers ---------------------------------------------------------------------------------------


def _encoded(payload: Any, max_payload: int) -> Iterable[tuple[str, bytes]]:
    """The payload as one message, or a batch split into as many as the server's limit needs."""
    kind, data = codec.encode(payload)
    if len(data) <= max_payload - 1024 or not isinstance(payload, SampleBatch) or len(payload) < 2:
        if len(data) > max_payload:
            raise BusError(f"a {kind} of {len(data)} bytes exceeds the server's {max_payload}")
        yield kind, data
        return
    parts = math.ceil(len(data) / (max_payload * 0.9))
    step = math.ceil(len(payload) / parts)
    for start in range(0, len(payload), step):
        rows = np.arange(start, min(start + step, len(payload)))
        yield from _encoded(payload.take(rows), max_payload)


def _describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return re.sub(r"//[^@/\s]+@", "//", text)  # never a credential from a URL in a message


def _header_value(text: str) -> str:
    return re.sub(r"[\r\n]+", " ", text)[:1024]


def _seconds(text: str) -> float:
    return parse_duration(text) / NS_PER_S


def _seconds_or_zero(text: str) -> float:
    return 0.0 if text.strip() in {"0", "0s"} else _seconds(text)


def _bytes(text: str) -> int:
    raw = text.strip().lower()
    if raw == "-1":
        return -1
    digits = raw.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = raw[len(digits) :]
    if unit not in _SIZES or not digits:
        raise ValueError("a size such as 512MB, 1GiB or -1 (no limit)")
    return int(float(digits) * _SIZES[unit])

"""The bus: where connectors, the recorder, analytics and the API meet.

Topics are dotted (``samples.press3``, ``events.alarm.raised``); subscriptions take NATS-style
patterns (``*`` one token, ``>`` the rest). Every subscriber has a bounded queue. A publisher awaits
room in every matching queue, so a slow subscriber slows publishers down (backpressure) and is
reported in the log and in ``stats()`` — the bus never drops a message silently.

Durable subscribers (the recorder) ``ack()`` a message once it is safely stored. A publisher that
needs that guarantee (the HTTP ingest, which answers 2xx only for data that survives a crash)
publishes with ``confirm=True`` and resumes when every durable subscriber has acked.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from werk.core.context import Context
from werk.core.errors import BusClosed, BusError
from werk.core.registry import Registry

log = logging.getLogger(__name__)

SAMPLES = "samples"
EVENTS = "events"


@dataclass(slots=True, eq=False)
class Message:
    topic: str
    payload: Any
    context: Context
    _receipt: _Receipt | None = field(default=None, repr=False)

    def ack(self) -> None:
        """Say the message is safely handled (durable subscribers: stored)."""
        if self._receipt is not None:
            self._receipt.ack()
            self._receipt = None

    def nack(self, error: BaseException) -> None:
        """Say the message could not be handled; a confirming publisher sees ``error``."""
        if self._receipt is not None:
            self._receipt.fail(error)
            self._receipt = None


class Subscription(Protocol):
    def __aiter__(self) -> AsyncIterator[Message]: ...

    async def __aenter__(self) -> Subscription: ...

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class Bus(Protocol):
    async def publish(
        self, topic: str, payload: Any, context: Context | None = None, *, confirm: bool = False
    ) -> None: ...

    def subscribe(self, pattern: str, *, name: str, durable: bool = False) -> Subscription: ...

    async def close(self) -> None: ...


def topic_matches(pattern: str, topic: str) -> bool:
    """NATS-style matching: ``*`` matches one token, a final ``>`` one or more."""
    p_tokens = pattern.split(".")
    t_tokens = topic.split(".")
    for i, p in enumerate(p_tokens):
        if p == ">":
            return len(t_tokens) > i
        if i >= len(t_tokens) or (p != "*" and p != t_tokens[i]):
            return False
    return len(p_tokens) == len(t_tokens)


class _Receipt:
    """Counts the acks a confirming publisher waits for."""

    def __init__(self, expected: int) -> None:
        self._left = expected
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if expected == 0:
            self.done.set_result(None)

    def ack(self) -> None:
        self._left -= 1
        if self._left == 0 and not self.done.done():
            self.done.set_result(None)

    def fail(self, error: BaseException) -> None:
        if not self.done.done():
            self.done.set_exception(error)


_CLOSED = object()


class MemorySubscription:
    def __init__(self, bus: MemoryBus, pattern: str, name: str, durable: bool, maxsize: int):
        self.bus = bus
        self.pattern = pattern
        self.name = name
        self.durable = durable
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize)
        self.delivered = 0
        self.stalls = 0
        self.stalled_seconds = 0.0
        self._reported_slow = False

    async def __aenter__(self) -> MemorySubscription:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.bus._unsubscribe(self)

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[Message]:
        while True:
            item = await self.queue.get()
            if item is _CLOSED:
                return
            self.delivered += 1
            yield item

    async def _put(self, message: Message, slow_after: float) -> None:
        try:
            self.queue.put_nowait(message)
            return
        except asyncio.QueueFull:
            pass
        self.stalls += 1
        started = time.monotonic()
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation and,
        # here, time out a put that went through (the message would be queued twice).
        try:
            async with asyncio.timeout(slow_after):
                await self.queue.put(message)
        except TimeoutError:
            if not self._reported_slow:
                self._reported_slow = True
                log.warning(
                    "subscriber %r (%s) is slow: its queue of %d is full; publishers wait for it",
                    self.name,
                    self.pattern,
                    self.queue.maxsize,
                )
            await self.queue.put(message)
        waited = time.monotonic() - started
        self.stalled_seconds += waited
        if self._reported_slow and self.queue.qsize() < self.queue.maxsize // 2:
            self._reported_slow = False
            log.info("subscriber %r caught up", self.name)


class MemoryBus:
    """The in-process bus of the embedded runtime (scheme ``memory://``)."""

    def __init__(self, queue_size: int = 1024, slow_after_s: float = 1.0) -> None:
        self.queue_size = queue_size
        self.slow_after_s = slow_after_s
        self._subscriptions: list[MemorySubscription] = []
        self._closed = False

    @classmethod
    def from_url(cls, url: str) -> MemoryBus:
        """``memory://`` or ``memory://?queue_size=4096``."""
        query = parse_qs(urlsplit(url).query)
        try:
            return cls(queue_size=int(query.get("queue_size", ["1024"])[0]))
        except ValueError:
            raise BusError(f"bad queue_size in {url!r}: a whole number") from None

    async def publish(
        self, topic: str, payload: Any, context: Context | None = None, *, confirm: bool = False
    ) -> None:
        if self._closed:
            raise BusClosed("publish on a closed bus")
        targets = [s for s in self._subscriptions if topic_matches(s.pattern, topic)]
        receipt = None
        if confirm:
            durable = sum(1 for s in targets if s.durable)
            if durable == 0:
                raise BusError(f"nobody stores {topic}: no durable subscriber to confirm it")
            receipt = _Receipt(durable)
        ctx = context or Context()
        for sub in targets:
            message = Message(topic, payload, ctx, receipt if sub.durable else None)
            await sub._put(message, self.slow_after_s)
        if receipt is not None:
            await receipt.done

    def subscribe(
        self, pattern: str, *, name: str, durable: bool = False, queue_size: int | None = None
    ) -> MemorySubscription:
        if self._closed:
            raise BusClosed("subscribe on a closed bus")
        sub = MemorySubscription(self, pattern, name, durable, queue_size or self.queue_size)
        self._subscriptions.append(sub)
        return sub

    def _unsubscribe(self, sub: MemorySubscription) -> None:
        if sub in self._subscriptions:
            self._subscriptions.remove(sub)

    def stats(self) -> list[dict[str, Any]]:
        """Per subscriber: queue depth, messages delivered, how often and how long it stalled."""
        return [
            {
                "name": s.name,
                "pattern": s.pattern,
                "durable": s.durable,
                "queued": s.queue.qsize(),
                "capacity": s.queue.maxsize,
                "delivered": s.delivered,
                "stalls": s.stalls,
                "stalled_seconds": round(s.stalled_seconds, 3),
            }
            for s in self._subscriptions
        ]

    async def close(self) -> None:
        """End every subscription after it has drained what was already queued."""
        if self._closed:
            return
        self._closed = True
        for sub in list(self._subscriptions):
            await sub.queue.put(_CLOSED)


buses: Registry[Bus] = Registry("bus", entry_point_group="werk.buses")
buses.register("memory", "werk.core.bus:MemoryBus.from_url")
buses.register("nats", "werk.bus.nats:NatsBus.from_url")  # JetStream, werk[nats]

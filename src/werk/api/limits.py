"""Limits that keep one client from hurting the others: request body size and request rate.

Both are plain ASGI middleware, so they act before any body is parsed or any route runs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from werk.api.errors import error_response


class _BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """413 for bodies over ``max_bytes``: by Content-Length up front, and counted while streaming.

    Counting matters because a chunked body has no Content-Length and a client may lie in it.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> JSONResponse:
        return error_response(
            413,
            "request too large",
            f"the request body exceeds the limit of {self.max_bytes} bytes (api.max_request_bytes)",
            limit=self.max_bytes,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0  # the server rejects a malformed length itself
                if declared > self.max_bytes:
                    await self._too_large()(scope, receive, send)
                    return
        received = 0
        exceeded = False
        answered = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal answered
            # A route may catch the error and answer something else (FastAPI turns body errors
            # into 400); the client must still learn the real reason.
            if exceeded:
                if not answered:
                    answered = True
                    await self._too_large()(scope, receive, send)
                return
            answered = message["type"] == "http.response.start" or answered
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _BodyTooLarge:
            if not answered:
                answered = True
                await self._too_large()(scope, receive, send)


class TokenBucket:
    """``per_minute`` requests per minute per key, with bursts up to ``per_minute``."""

    MAX_KEYS = 10_000

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens per second
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)

    def take(self, key: str) -> float:
        """Spend one token of ``key``; return 0 if allowed, else seconds until one is available."""
        now = self.clock()
        tokens, when = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - when) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > self.MAX_KEYS:
                self._forget_full(now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        # A bucket that has refilled is the same as no bucket: dropping it bounds memory
        # when many clients come and go.
        full = [
            k for k, (t, w) in self._buckets.items() if t + (now - w) * self.rate >= self.capacity
        ]
        for key in full:
            del self._buckets[key]


class RateLimit:
    """429 with Retry-After once a client (its token id, else its address) exceeds its budget."""

    def __init__(
        self,
        app: ASGIApp,
        per_minute: int,
        client_key: Callable[[Scope], str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.per_minute = per_minute
        self.client_key = client_key
        self.bucket = TokenBucket(per_minute, clock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        wait = self.bucket.take(self.client_key(scope))
        if not wait:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "rate limit"})
            return
        retry_after = max(1, math.ceil(wait))
        response = error_response(
            429,
            "too many requests",
            f"more than {self.per_minute} requests per minute (api.rate_limit_per_minute); "
            f"retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )
        await response(scope, receive, send)

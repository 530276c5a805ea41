"""Helpers for the tests that need the real NATS server (127.0.0.1:4222, ``nats-server -js``)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest

from tests.conftest import require_service
from werk.core import Message

NATS_URL = os.environ.get("WERK_TEST_NATS", "nats://127.0.0.1:4222")


async def nats_test_url(**params: str) -> AsyncIterator[str]:
    """A ``nats://`` URL with a stream and subject prefix of its own (deleted afterwards).

    Streams may not share subjects, so every test gets its own prefix as well as its own stream.
    """
    require_service("nats", NATS_URL)
    import nats

    name = f"werktest_{uuid.uuid4().hex[:12]}"
    query = "&".join(f"{k}={v}" for k, v in {"stream": name, "prefix": name, **params}.items())
    try:
        yield f"{NATS_URL}?{query}"
    finally:
        nc = await nats.connect(NATS_URL)
        try:
            await nc.jetstream().delete_stream(name)
        except nats.js.errors.NotFoundError:
            pass
        finally:
            await nc.close()


WAIT_S = 5.0


async def receive(
    iterator: AsyncIterator[Message], count: int, wait_s: float = WAIT_S
) -> list[Message]:
    """The next ``count`` messages, or a timeout."""
    messages: list[Message] = []
    async with asyncio.timeout(wait_s):
        while len(messages) < count:
            messages.append(await anext(iterator))
    return messages


async def nothing_more(iterator: AsyncIterator[Message], wait_s: float = 0.5) -> None:
    """Fail if another message arrives within ``wait_s``."""
    try:
        async with asyncio.timeout(wait_s):
            extra = await anext(iterator)
    except TimeoutError:
        return
    pytest.fail(f"unexpected message on {extra.topic}")

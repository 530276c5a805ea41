"""``/api/v1/live``: a WebSocket that pushes samples and events as they arrive.

Client -> server: ``{"subscribe": ["sig1", ...] | "*", "events": true}`` (resend to change; a key
left out keeps its value) and, when anonymous reads are off and no ``?token=`` was given, a first
message carrying ``{"token": "..."}``. Server -> client: ``subscribed`` (with a ``snapshot`` of the
latest values), ``samples``, ``event``, ``lagged`` and ``error`` messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from werk.api.auth import authorize, runtime_of
from werk.api.encode import latest_rows
from werk.api.live import Interest, LiveClient, LiveHub
from werk.api.tokens import Role
from werk.core import AuthError, PermissionDenied, ValidationError
from werk.runtime import Runtime

router = APIRouter()

AUTH_TIMEOUT_S = 10.0
MAX_SIGNALS = 10_000
CLOSE_UNAUTHORIZED = 4401  # 4000 + the HTTP status, as in the HTTP API
CLOSE_FORBIDDEN = 4403


@router.websocket("/live")
async def live(websocket: WebSocket) -> None:
    runtime = runtime_of(websocket)
    hub: LiveHub = websocket.app.state.live
    options: dict[str, Any] = websocket.app.state.live_options
    await websocket.accept()
    first = await _authenticate(websocket, runtime)
    if first is None:
        return
    client = LiveClient(websocket.send_json, **options)
    hub.clients.add(client)
    sender = asyncio.create_task(client.run(), name="api.live.client")
    try:
        message: dict[str, Any] | None = first
        while True:
            if message:
                _apply(client, runtime, message)
            await client.room_for_control()
            if sender.done():  # the connection broke while sending
                break
            message = await _receive(websocket, client)
    except WebSocketDisconnect:
        pass
    finally:
        hub.clients.discard(client)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender


async def _authenticate(websocket: WebSocket, runtime: Runtime) -> dict[str, Any] | None:
    """The first message to act on ({} if none yet), or None when the connection was refused."""
    token = websocket.query_params.get("token")
    first: dict[str, Any] = {}
    try:
        if token is None and not runtime.settings.api.allows_anonymous_read:
            try:
                raw = await asyncio.wait_for(_receive_raw(websocket), AUTH_TIMEOUT_S)
            except TimeoutError:
                raise AuthError('no token: send {"token": ...} first, or use ?token=') from None
            first = _parse(raw) or {}
            token = first.pop("token", None)
            if not isinstance(token, str):
                raise AuthError('the first message must carry a token: {"token": "werk_..."}')
        authorize(runtime, token, Role.viewer)
    except (AuthError, ValidationError) as error:
        forbidden = isinstance(error, PermissionDenied)
        await websocket.send_json(
            {
                "type": "error",
                "error": "forbidden" if forbidden else "unauthorized",
                "detail": str(error),
            }
        )
        await websocket.close(CLOSE_FORBIDDEN if forbidden else CLOSE_UNAUTHORIZED)
        return None
    except WebSocketDisconnect:
        return None
    return first


async def _receive_raw(websocket: WebSocket) -> str:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    text = message.get("text")
    if text is None:
        text = (message.get("bytes") or b"").decode("utf-8", errors="replace")
    return str(text)


async def _receive(websocket: WebSocket, client: LiveClient) -> dict[str, Any] | None:
    raw = await _receive_raw(websocket)
    try:
        return _parse(raw)
    except ValidationError as error:
        client.post({"type": "error", "error": "validation failed", "detail": str(error)})
        return None


def _parse(raw: str) -> dict[str, Any] | None:
    try:
        message = json.loads(raw)
    except ValueError:
        raise ValidationError("messages are JSON objects", field="message", rule="json") from None
    if not isinstance(message, dict):
        raise ValidationError("messages are JSON objects", field="message", rule="object")
    return message


def _apply(client: LiveClient, runtime: Runtime, message: dict[str, Any]) -> None:
    """Change what the client gets; acknowledge with the new interest and a snapshot."""
    message = {k: v for k, v in message.items() if k != "token"}  # already authenticated
    if not message:
        return
    try:
        interest = _interest(client.interest, message)
    except ValidationError as error:
        client.post(
            {
                "type": "error",
                "error": "validation failed",
                "detail": str(error),
                "field": error.field,
            }
        )
        return
    client.interest = interest
    wanted = interest.signals
    snapshot = runtime.state.get(None if wanted is None else sorted(wanted))
    known = set(runtime.catalog) | set(runtime.state.get())
    unknown = [] if wanted is None else sorted(wanted - known)
    client.post(
        {
            "type": "subscribed",
            **interest.to_dict(),
            "unknown": unknown,
            "snapshot": latest_rows(snapshot),
        }
    )


def _interest(current: Interest, message: dict[str, Any]) -> Interest:
    signals = current.signals
    events = current.events
    if "subscribe" in message:
        raw = message["subscribe"]
        if raw == "*":
            signals = None
        elif isinstance(raw, list) and all(isinstance(s, str) for s in raw):
            if "*" in raw:
                signals = None
            elif len(raw) > MAX_SIGNALS:
                raise ValidationError(
                    f'at most {MAX_SIGNALS} signals; use "*" for all',
                    field="subscribe",
                    rule="max-signals",
                )
            else:
                signals = frozenset(raw)
        else:
            raise ValidationError(
                'subscribe is a list of signal ids or "*"', field="subscribe", rule="type"
            )
    if "events" in message:
        if not isinstance(message["events"], bool):
            raise ValidationError("events is true or false", field="events", rule="type")
        events = message["events"]
    if "subscribe" not in message and "events" not in message:
        raise ValidationError(
            'send {"subscribe": [...] | "*", "events": true|false}', field="message", rule="keys"
        )
    return Interest(signals, events)

"""One JSON error shape for every failure: ``{"error": <what>, "detail": <why>, ...}``.

werk errors map to status codes here; anything else becomes a 500 that names an id and nothing
more, while the traceback goes to the server log under that id. Stack traces never reach clients.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from werk.core import (
    AuthError,
    BusError,
    ConfigError,
    PermissionDenied,
    StoreError,
    StoreUnavailable,
    ValidationError,
    WerkError,
)

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5

# Most specific first: the first class an error is an instance of decides.
_STATUS: list[tuple[type[WerkError], int, str]] = [
    (ValidationError, 422, "validation failed"),
    (PermissionDenied, 403, "forbidden"),
    (AuthError, 401, "unauthorized"),
    (StoreUnavailable, 503, "store unavailable"),
    (StoreError, 503, "store error"),
    (BusError, 503, "bus unavailable"),
    (ConfigError, 400, "bad request"),
]


def error_response(
    status: int,
    error: str,
    detail: Any = None,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"error": error, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, headers=headers)


def werk_error_response(exc: WerkError) -> JSONResponse:
    match = next(((s, e) for cls, s, e in _STATUS if isinstance(exc, cls)), None)
    if match is None:
        return internal_error_response(exc)
    status, error = match
    extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if isinstance(exc, ValidationError):
        extra = {"field": exc.field, "rule": exc.rule}
    if isinstance(exc, AuthError):
        role = getattr(exc, "required_role", None)
        if role is not None:
            extra["required_role"] = role
        if status == 401:
            headers["WWW-Authenticate"] = "Bearer"
    if status == 503:
        headers["Retry-After"] = str(RETRY_AFTER_S)
    return error_response(status, error, str(exc), headers=headers or None, **extra)


def internal_error_response(exc: BaseException, scope: Scope | None = None) -> JSONResponse:
    error_id = uuid.uuid4().hex
    where = f"{scope.get('method', 'WS')} {scope.get('path')}" if scope else ""
    # The path, never the query string: a WebSocket token may travel there.
    log.error("internal error %s %s", error_id, where, exc_info=exc)
    return JSONResponse({"error": "internal error", "id": error_id}, status_code=500)


async def _on_werk_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WerkError)
    if isinstance(exc, StoreError | BusError):
        log.warning("%s %s: %s", request.method, request.url.path, exc)
    return werk_error_response(exc)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    phrase = _PHRASES.get(exc.status_code, "error")
    headers = dict(exc.headers) if exc.headers else None
    return error_response(exc.status_code, phrase, exc.detail, headers=headers)


async def _on_request_invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": ".".join(str(p) for p in e.get("loc", ())[1:]) or str(e.get("loc", "")),
            "rule": e.get("type", ""),
            "message": e.get("msg", ""),
        }
        for e in exc.errors()
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    first = errors[0] if errors else {"field": "", "rule": ""}
    return error_response(
        422,
        "validation failed",
        detail,
        field=first["field"],
        rule=first["rule"],
        errors=errors,
    )


_PHRASES = {
    400: "bad request",
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    406: "not acceptable",
    409: "conflict",
    413: "request too large",
    415: "unsupported media type",
    422: "validation failed",
    429: "too many requests",
}


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(WerkError, _on_werk_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_request_invalid)


class CatchAll:
    """Outermost middleware: an unexpected exception becomes ``{"error": "internal error", "id"}``.

    Starlette's own server-error handler re-raises after answering, which logs every failure
    twice and breaks test clients; this one answers, logs once, and is done.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] in ("http.response.start", "websocket.accept", "websocket.close"):
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            response = internal_error_response(exc, scope)
            if started:
                return  # the answer is already on its way; the log has the traceback
            if scope["type"] == "http":
                await response(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1011, "reason": "internal error"})

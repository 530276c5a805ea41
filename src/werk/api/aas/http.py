"""The HTTP edge of the AAS API: requests, responses, paging and the spec's error shape.

The AAS routes are a plain ASGI app (no per-request validation models or dependency injection):
its hot reads answer from cached bytes, and a framework's per-request work would cost more than
the answer itself. Errors use the ``Result`` shape of AAS Part 2::

    {"messages": [{"messageType": "Error", "code": "404", "text": "...", "timestamp": "..."}]}
"""

from __future__ import annotations

import bisect
import functools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qsl

from starlette.types import Receive, Scope, Send

from werk.twin.repository import b64url_decode, b64url_encode, dumps

JSON = "application/json"

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
    500: "internal error",
}


class AasError(Exception):
    """Answer with ``status`` and a Result whose message says ``text``."""

    def __init__(self, status: int, text: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.headers = headers or {}

    def response(self) -> Response:
        return error_response(self.status, self.text, self.headers)


def bad_request(text: str) -> AasError:
    return AasError(400, text)


def not_found(text: str) -> AasError:
    return AasError(404, text)


def method_not_allowed(request: Request, *allowed: str) -> AasError:
    return AasError(
        405,
        f"{request.method} is not allowed here; use {', '.join(allowed)}",
        headers={"Allow": ", ".join(allowed)},
    )


def timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def error_response(
    status: int, text: str, headers: dict[str, str] | None = None, **message: str
) -> Response:
    body = {
        "messages": [
            {
                "code": str(status),
                "messageType": "Exception" if status == 500 else "Error",
                "text": text,
                "timestamp": timestamp(),
                **message,
            }
        ]
    }
    return Response(status, dumps(body), headers=headers)


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: dict[str, str] | None = None

    async def __call__(self, send: Send) -> None:
        raw_headers = [(b"content-length", str(len(self.body)).encode())]
        if self.body or self.status not in (204, 304):
            raw_headers.append((b"content-type", self.content_type.encode()))
        for name, value in (self.headers or {}).items():
            raw_headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
        await send({"type": "http.response.start", "status": self.status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": self.body})


def ok(body: bytes, status: int = 200) -> Response:
    return Response(status, body)


def no_content() -> Response:
    return Response(204)


@dataclass(slots=True)
class Request:
    """What a handler needs of one request, parsed once."""

    scope: Scope
    receive: Receive
    method: str
    segments: list[str]
    query: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_scope(cls, scope: Scope, receive: Receive) -> Request:
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        query: dict[str, list[str]] = {}
        raw_query = scope.get("query_string", b"")
        if raw_query:
            for name, value in parse_qsl(raw_query.decode("latin-1"), keep_blank_values=True):
                query.setdefault(name, []).append(value)
        segments = [s for s in path.split("/") if s]
        return cls(scope, receive, scope["method"], segments, query)

    def header(self, name: bytes) -> str | None:
        for key, value in self.scope.get("headers", ()):
            if key == name:
                return str(value.decode("latin-1"))
        return None

    @property
    def base_url(self) -> str:
        """Where this API is reached, as the client called it (for registry endpoints)."""
        host = self.header(b"host") or "127.0.0.1"
        return f"{self.scope.get('scheme', 'http')}://{host}{self.scope.get('root_path', '')}"

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def params(self, name: str) -> list[str]:
        return self.query.get(name, [])

    async def body(self) -> bytes:
        chunks = []
        more = True
        while more:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise AasError(400, "the client went away before the body was read")
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        return b"".join(chunks)

    async def json(self) -> Any:
        raw = await self.body()
        if not raw.strip():
            raise bad_request("the request needs a JSON body")
        try:
            return json.loads(raw)
        except ValueError as error:
            raise bad_request(f"the body is not JSON: {error}") from None

    async def json_object(self) -> dict[str, Any]:
        data = await self.json()
        if not isinstance(data, dict):
            raise bad_request("the body must be a JSON object")
        return data


# -- query parameters ----------------------------------------------------------------------------


def identifier(segment: str, what: str = "identifier") -> str:
    """A path segment holding a base64url-encoded id (padding optional)."""
    try:
        return _decoded(segment)
    except ValueError:
        raise bad_request(f"the {what} {segment!r} is not base64url-encoded UTF-8") from None


@functools.lru_cache(maxsize=4096)
def _decoded(segment: str) -> str:
    return b64url_decode(segment)  # the same few ids come again and again


def limit_of(request: Request) -> int | None:
    raw = request.param("limit")
    if raw is None:
        return None
    try:
        limit = int(raw)
    except ValueError:
        raise bad_request(f"limit must be a positive integer, not {raw!r}") from None
    if limit < 1:
        raise bad_request(f"limit must be 1 or more, not {limit}")
    return limit


def level_of(request: Request) -> bool:
    """``True`` for level=deep (the default), ``False`` for level=core."""
    raw = request.param("level")
    if raw is None or raw == "deep":
        return True
    if raw == "core":
        return False
    raise bad_request(f"level must be deep or core, not {raw!r}")


def extent_of(request: Request) -> bool:
    """``True`` for extent=withBlobValue; the default is withoutBlobValue."""
    raw = request.param("extent")
    if raw is None or raw == "withoutBlobValue":
        return False
    if raw == "withBlobValue":
        return True
    raise bad_request(f"extent must be withBlobValue or withoutBlobValue, not {raw!r}")


def flag_of(request: Request, name: str, default: bool) -> bool:
    raw = request.param(name)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise bad_request(f"{name} must be true or false, not {raw!r}")


def cursor_of(request: Request) -> str | None:
    raw = request.param("cursor")
    if raw is None or raw == "":
        return None
    try:
        return b64url_decode(raw)
    except ValueError:
        raise bad_request(f"cursor {raw!r} was not made by this server") from None


def make_cursor(position: str) -> str:
    return b64url_encode(position)


def paged(items: list[bytes], cursor: str | None) -> Response:
    """``{"paging_metadata": {"cursor": ...}, "result": [...]}`` from items already serialised."""
    metadata = b'{"cursor":' + dumps(cursor) + b"}" if cursor is not None else b"{}"
    return ok(b'{"paging_metadata":' + metadata + b',"result":[' + b",".join(items) + b"]}")


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=_HasId)


def page_by_id(items: list[T], request: Request) -> tuple[list[T], str | None]:
    """One page of ``items`` (ordered by id) and the cursor of the next: the next page's first id.

    Keyed by id rather than position, a cursor stays valid when items are added or removed.
    """
    limit = limit_of(request)
    after = cursor_of(request)
    start = 0
    if after is not None:
        start = bisect.bisect_left([item.id for item in items], after)
    end = len(items) if limit is None else min(len(items), start + limit)
    cursor = make_cursor(items[end].id) if end < len(items) else None
    return items[start:end], cursor


def page_by_position(
    count: int, request: Request, limit: int | None = None
) -> tuple[range, str | None]:
    """The positions of one page over ``count`` items, and the cursor of the next page."""
    limit = limit_of(request) if limit is None else limit
    raw = cursor_of(request)
    start = 0
    if raw is not None:
        try:
            start = int(raw)
        except ValueError:
            raise bad_request("cursor was not made by this server") from None
        if start < 0:
            raise bad_request("cursor was not made by this server")
    end = count if limit is None else min(count, start + limit)
    cursor = make_cursor(str(end)) if end < count else None
    return range(start, end), cursor

"""Who is calling, and may they: bearer tokens checked against the token store, roles compared.

Writes always need a token with a high enough role; reads need a viewer token unless the settings
allow anonymous reads (by default only when the API is bound to loopback). Tokens are never logged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from werk.api.tokens import Role, TokenInfo
from werk.core import AuthError, PermissionDenied
from werk.runtime import Runtime

Principal = TokenInfo | None
"""The caller: a token's info, or ``None`` for an anonymous reader."""

bearer = HTTPBearer(
    auto_error=False,
    description="An API token (werk_<id>_<secret>) from `werk token create --role ...`.",
)


class TokenRequired(AuthError):
    def __init__(self, message: str, required: Role) -> None:
        super().__init__(message)
        self.required_role = required.name


class RoleTooLow(PermissionDenied):
    def __init__(self, message: str, required: Role) -> None:
        super().__init__(message)
        self.required_role = required.name


def runtime_of(connection: HTTPConnection) -> Runtime:
    runtime: Runtime = connection.app.state.runtime
    return runtime


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, if there is one."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authorize(runtime: Runtime, token: str | None, required: Role) -> Principal:
    """Check ``token`` against ``required``; ``None`` back means an anonymous reader is allowed.

    A token that is given must be valid even where anonymous reads are allowed: a client with a
    stale token should learn so, not silently get less than it expects.
    """
    if token is None:
        if required <= Role.viewer and runtime.settings.api.allows_anonymous_read:
            return None
        raise TokenRequired(
            f"this needs a token with role {required.name} or higher "
            "(header Authorization: Bearer <token>)",
            required,
        )
    info = runtime.tokens.verify(token)
    if info is None:
        raise TokenRequired("the token is unknown or revoked", required)
    if info.role < required:
        raise RoleTooLow(
            f"token {info.name!r} has role {info.role.name}; this needs {required.name} or higher",
            required,
        )
    return info


def require(role: Role) -> Callable[..., Awaitable[Principal]]:
    """A FastAPI dependency that admits callers with at least ``role``."""

    async def check(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Security(bearer),
    ) -> Principal:
        token = credentials.credentials if credentials is not None else None
        return authorize(runtime_of(request), token, role)

    return check


read_access = require(Role.viewer)
operator_access = require(Role.operator)
engineer_access = require(Role.engineer)

"""What every AAS handler works with: the request, the runtime, the twin and the views."""

from __future__ import annotations

from dataclasses import dataclass

from werk.api.aas.http import Request
from werk.api.aas.views import Views
from werk.api.auth import Principal, authorize, bearer_token
from werk.api.tokens import Role
from werk.runtime import Runtime
from werk.twin.repository import TwinRepository


@dataclass(slots=True)
class Context:
    request: Request
    runtime: Runtime
    twin: TwinRepository
    views: Views

    def authorize(self, role: Role) -> Principal:
        """The werk API's rule: reads anonymous where allowed, writes need the role's token."""
        token = bearer_token(self.request.header(b"authorization"))
        return authorize(self.runtime, token, role)

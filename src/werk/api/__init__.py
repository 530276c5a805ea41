"""The werk HTTP API: v1 routes, the WebSocket live feed, tokens and roles."""

from werk.api.tokens import Role, TokenInfo, TokenStore

__all__ = ["Role", "TokenInfo", "TokenStore", "create_api"]


def __getattr__(name: str) -> object:
    # create_api pulls in FastAPI and the routes; the CLI's token commands need only tokens.
    if name == "create_api":
        from werk.api.app import create_api

        return create_api
    raise AttributeError(name)

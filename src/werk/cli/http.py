"""Talking to a running werk from the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from werk.cli.output import fail
from werk.core import ConfigError, StoreError, WerkError


def raise_for_answer(response: httpx.Response) -> None:
    """Turn a 4xx into ConfigError and a 5xx into StoreError, with werk's error detail."""
    if response.status_code >= 400:
        try:
            detail = response.json()
        except ValueError:
            detail = response.text[:500]
        if response.status_code >= 500:
            raise StoreError(f"werk answered {response.status_code}: {detail}")
        raise ConfigError(f"werk answered {response.status_code}: {detail}")


def in_path(value: str) -> str:
    """``value`` escaped as httpx would escape it inside a URL path (ids may hold ``/`` and ``@``,
    which stay as they are; spaces and the like do not)."""
    return httpx.URL(f"/{value}").raw_path.decode()[1:]


def api_url(api: str | None, config: Path | None) -> str:
    """The werk to talk to: ``--api``, else the configured API address."""
    if api:
        return api.rstrip("/")
    from werk.settings import load_settings

    if config is None and Path("werk.toml").is_file():
        config = Path("werk.toml")
    try:
        return load_settings(config).api.url
    except WerkError as error:
        raise fail(str(error)) from None


def call_api(
    method: str,
    base: str,
    path: str,
    token: str | None,
    *,
    params: dict[str, Any] | None = None,
    body: dict[str, Any] | None = None,
    timeout_s: float = 60.0,
) -> Any:
    """One request to ``/api/v1`` + ``path``; parameters that are None are left out. A refusal
    or an unreachable werk ends the command with the reason (``fail``)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    query = {k: v for k, v in (params or {}).items() if v is not None}
    try:
        response = httpx.request(
            method,
            f"{base}/api/v1{path}",
            params=query,
            json=body,
            headers=headers,
            timeout=timeout_s,
        )
    except httpx.TransportError as error:
        raise fail(f"cannot reach werk at {base}: {type(error).__name__}") from None
    try:
        raise_for_answer(response)
    except WerkError as error:
        raise fail(str(error)) from None
    return response.json()

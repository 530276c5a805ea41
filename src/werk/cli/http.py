"""Talking to a running werk from the CLI."""

from __future__ import annotations

import httpx

from werk.core import ConfigError, StoreError


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

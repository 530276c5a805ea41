"""Shared test fixtures: real services, found on loopback.

A test that needs a service it cannot reach skips with a reason that says how to start it, except
under ``CI=true``, where a missing service is a failure.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

POSTGRES_URL = os.environ.get("WERK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")

HOW_TO_START = {
    "postgres": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "nats": "nats-server -a 127.0.0.1 -p 4222 -js",
    "mqtt": "mosquitto -d",
}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_service(name: str, url: str) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 0
    if reachable(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}; start it with: {HOW_TO_START[name]}"
    if in_ci():
        pytest.fail(f"CI=true and {message}")
    pytest.skip(message)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL with a fresh schema of its own (dropped afterwards)."""
    require_service("postgres", POSTGRES_URL)
    import psycopg

    schema = f"werk_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}schema={schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')

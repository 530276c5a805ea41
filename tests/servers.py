"""Start a real werk process for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def werk_process(args: list[str], cwd: Path, port: int, timeout: float = 30) -> Iterator[str]:
    """Run ``python -m werk ARGS`` until its /health answers; yield its base URL; stop it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "werk", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise AssertionError(f"werk exited early: {process.stderr.read().decode()[-3000:]}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("werk did not come up")
            time.sleep(0.1)
        yield url
    finally:
        process.kill()
        process.wait(10)
        for pipe in (process.stdout, process.stderr):
            pipe.close()  # type: ignore[union-attr]

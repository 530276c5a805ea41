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
    # Output goes to files, not pipes: a pipe nobody reads fills up and blocks a chatty process.
    log = open(cwd / f"werk-{port}.log", "w+b")  # noqa: SIM115 - closed in the finally below
    process = subprocess.Popen(
        [sys.executable, "-m", "werk", *args],
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise AssertionError(f"werk exited early: {log.read().decode()[-3000:]}")
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                log.seek(0)
                raise AssertionError(f"werk did not come up: {log.read().decode()[-3000:]}")
            time.sleep(0.1)
        yield url
    finally:
        process.kill()
        process.wait(10)
        log.close()

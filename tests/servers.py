"""Start a real werk process for end-to-end tests."""

from __future__ import annotations

import os
import signal
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
    """Run ``python -m werk ARGS`` until its /health answers; yield its base URL; stop it
    (SIGKILL). Its output goes to ``werk-<port>.1.log`` in ``cwd``."""
    with WerkProcess(args, cwd, port) as process:
        process.start().wait_ready(timeout)
        yield process.url


class WerkProcess:
    """A ``python -m werk ARGS`` process that a test may kill (SIGKILL) and start again.

    Unlike :func:`werk_process`, it takes extra environment variables and does not stop on its
    own: use it as a context manager (``with WerkProcess(...) as p``) or call :meth:`stop`.
    """

    def __init__(
        self,
        args: list[str],
        cwd: Path,
        port: int,
        *,
        env: dict[str, str] | None = None,
        name: str | None = None,
    ) -> None:
        self.args, self.cwd, self.port = args, cwd, port
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.name = name or f"werk-{port}"
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> WerkProcess:
        """Start it (a log file per start: ``<name>.<n>.log``); return without waiting."""
        self.starts += 1
        self.log_path = self.cwd / f"{self.name}.{self.starts}.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "werk", *self.args],
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        return self

    def wait_ready(self, timeout: float = 30) -> None:
        """Wait until its /health answers 200; fail with the end of its log when it does not."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited early: {self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} did not come up: {self.log_tail()}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, nothing is flushed, acked or closed."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def freeze(self) -> None:
        """SIGSTOP: it stops reading and acking, as a hung process does (until killed)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGSTOP)

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM (a clean shutdown), then SIGKILL if it does not end within ``timeout``."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_bytes().decode(errors="replace")[-chars:]

    def __enter__(self) -> WerkProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

"""An acknowledged sample survives SIGKILL: the HTTP 2xx means committed, not merely received."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

from werk.api.tokens import Role, TokenStore
from werk.store.duckdb import DuckDBStore


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"werk exited early: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("werk did not come up")


def test_sigkill_after_acknowledgement_loses_nothing(tmp_path: Path) -> None:
    port = free_port()
    database = tmp_path / "werk.duckdb"
    tokens_file = tmp_path / "tokens.json"
    (tmp_path / "werk.toml").write_text(
        f'[store]\nurl = "duckdb:///{database}"\n'
        f'[api]\nport = {port}\ntokens_file = "{tokens_file}"\n'
        "[recorder]\nmax_delay_ms = 50\n"
        '[[signals]]\nid = "line.speed"\nunit = "m/min"\n'
    )
    _, token = TokenStore(tokens_file).create(Role.operator, "test")
    process = subprocess.Popen(
        [sys.executable, "-m", "werk", "serve", "--config", str(tmp_path / "werk.toml")],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    acknowledged = 0
    try:
        wait_until_up(url, process)
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
            for round_ in range(20):
                start = 1_700_000_000_000_000_000 + round_ * 1_000_000_000
                timestamps = (start + np.arange(500) * 1_000_000).tolist()
                response = client.post(
                    f"{url}/api/v1/samples",
                    json={"signal": "line.speed", "timestamps": timestamps, "values": [1.5] * 500},
                )
                assert response.status_code == 200, response.text
                acknowledged += 500
    finally:
        process.send_signal(signal.SIGKILL)  # no shutdown hook runs: no flush, no close
        process.wait(10)
        process.stderr.close()  # type: ignore[union-attr]
    store = DuckDBStore.from_url(f"duckdb:///{database}")
    try:
        assert store.count("line.speed") == acknowledged == 10_000
    finally:
        store.close()

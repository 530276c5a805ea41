"""`werk demo` serves history and latest values within seconds of starting."""

import time
from pathlib import Path

import httpx

from tests.servers import free_port, werk_process


def test_demo_serves_history_and_latest_within_10_seconds(tmp_path: Path) -> None:
    port = free_port()
    started = time.monotonic()
    with werk_process(["demo", "--port", str(port)], tmp_path, port) as url:
        deadline = started + 10
        while True:
            latest = httpx.get(f"{url}/api/v1/latest").json()["samples"]
            history = httpx.get(
                f"{url}/api/v1/history", params={"signal": "press1.temperature", "start": "1m"}
            ).json()["samples"]
            if latest and history:
                break
            assert time.monotonic() < deadline, "no data within 10 s of starting"
            time.sleep(0.2)
    assert {s["signal"] for s in latest} >= {"press1.temperature", "oven1.pressure"}
    assert all(s["quality"] == "good" for s in history)
    assert [s["ns"] for s in history] == sorted(s["ns"] for s in history)
    assert (tmp_path / "var" / "demo.duckdb").is_file()

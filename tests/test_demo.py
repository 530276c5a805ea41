"""`werk demo` serves history and latest values within seconds of starting."""

import base64
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
        shells = httpx.get(f"{url}/api/v3.0/shells").json()["result"]
        submodel = base64.urlsafe_b64encode(b"urn:werk:demo:sm:press1:OperationalData")
        live = httpx.get(f"{url}/api/v3.0/submodels/{submodel.decode().rstrip('=')}/$value")
    assert {s["signal"] for s in latest} >= {"press1.temperature", "oven1.pressure"}
    assert all(s["quality"] == "good" for s in history)
    assert [s["ns"] for s in history] == sorted(s["ns"] for s in history)
    assert (tmp_path / "var" / "demo.duckdb").is_file()
    assert {s["idShort"] for s in shells} >= {"press1", "press2", "oven1"}
    assert live.status_code == 200 and 20 < live.json()["temperature"] < 70  # the live value

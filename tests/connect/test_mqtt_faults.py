"""Fault tests for plain MQTT, with the counts printed (``pytest -s`` shows them).

(a) kill -9 of the werk process during a QoS 1 stream of 100k messages, then a restart: every
    message is in the store, each once.
(b) a 15 s network cut between werk and the broker while the stream goes on: nothing lost.

Both run a Mosquitto of their own (the system's binary, on a free port) configured to queue
without limit: how much a broker keeps for an absent client is the broker's setting (Mosquitto's
``max_queued_messages`` defaults to 1000), and these tests are about what werk does.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import numpy as np
import pytest

from tests.conftest import in_ci
from tests.connect.proxy import CuttableProxy
from tests.servers import free_port, werk_process
from tests.test_app import settings_for
from werk.app import open_runtime
from werk.core import Quality

MOSQUITTO_CONF = """
listener {port} 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 0
max_inflight_messages 1000
"""

# A device publishing a stream: n QoS 1 messages {"v": i, "ts": start + i µs} to one topic, at
# most `rate` a second (0: as fast as the broker takes them). Prints how many the broker acked.
PUBLISHER = r"""
import sys, time
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
port, topic = int(sys.argv[1]), sys.argv[2]
n, rate, start = int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
acked = 0
def on_publish(client, userdata, mid, reason, properties):
    global acked
    acked += 1
c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"publisher-{time.time_ns()}")
c.on_publish = on_publish
c.max_inflight_messages_set(1000)
c.connect("127.0.0.1", port)
c.loop_start()
began = time.monotonic()
for i in range(n):
    c.publish(topic, b'{"v": %d, "ts": %d}' % (i, start + i * 1000), qos=1)
    if rate and i % 100 == 99:
        ahead = (i + 1) / rate - (time.monotonic() - began)
        if ahead > 0:
            time.sleep(ahead)
    while i - acked > 5000:  # the client's own queue: keep it bounded
        time.sleep(0.001)
while acked < n and time.monotonic() - began < 300:
    time.sleep(0.01)
print(f"published {n} acked {acked} in {time.monotonic() - began:.1f} s", flush=True)
c.disconnect()
c.loop_stop()
"""


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[int]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        message = "the mosquitto binary is not installed (apt-get install mosquitto)"
        if in_ci():
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(MOSQUITTO_CONF.format(port=port))
    broker = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                import socket

                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert broker.poll() is None, "mosquitto exited"
                assert time.monotonic() < deadline, "mosquitto did not start"
                time.sleep(0.05)
        yield port
    finally:
        broker.kill()
        broker.wait(10)


def start_publisher(
    port: int, topic: str, n: int, rate: float, start_ns: int
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", PUBLISHER, str(port), topic, str(n), str(rate), str(start_ns)],
        stdout=subprocess.PIPE,
        text=True,
    )


def count_rows(database: Path) -> tuple[int, int, int]:
    """Rows with a value, distinct (signal, timestamp) among them, and value-less marks."""
    with duckdb.connect(str(database), read_only=True) as conn:
        rows, distinct, marks = conn.execute(
            "SELECT count(*) FILTER (WHERE quality = 0),"
            " count(DISTINCT (signal_id, ts)) FILTER (WHERE quality = 0),"
            " count(*) FILTER (WHERE quality <> 0) FROM samples"
        ).fetchone()  # type: ignore[misc]
    return int(rows), int(distinct), int(marks)


def connector_stats(client: httpx.Client, url: str) -> dict[str, object]:
    (stats,) = client.get(f"{url}/api/v1/connectors").json()["connectors"]
    return stats  # type: ignore[no-any-return]


def test_kill_9_during_a_qos1_stream_loses_nothing_and_stores_each_message_once(
    tmp_path: Path, mosquitto: int
) -> None:
    n = 100_000
    port = free_port()
    database = tmp_path / "werk.duckdb"
    (tmp_path / "werk.toml").write_text(
        f'spool_directory = "{tmp_path / "spool"}"\n'
        f'[store]\nurl = "duckdb:///{database}"\n'
        f'[api]\nport = {port}\ntokens_file = "{tmp_path / "tokens.json"}"\n'
        "[[connectors]]\n"
        f'url = "mqtt://127.0.0.1:{mosquitto}"\n'
        'name = "stream"\n'
        "[connectors.options]\n"
        'client_id = "werk-kill-test"\n'
        "[[connectors.options.routes]]\n"
        'topic = "kill/+"\nsignal = "kill.{1}"\nvalue = "$.v"\ntimestamp = "$.ts"\n'
        "any_signal = true\n"
    )
    config = ["serve", "--config", str(tmp_path / "werk.toml")]
    began = time.monotonic()
    publisher = None
    try:
        with werk_process(config, tmp_path, port, timeout=60) as url, httpx.Client() as http:
            deadline = time.monotonic() + 60
            while connector_stats(http, url)["state"] != "connected":
                assert time.monotonic() < deadline
                time.sleep(0.05)
            publisher = start_publisher(mosquitto, "kill/a", n, 0, time.time_ns())
            while (first := connector_stats(http, url))["samples"] < n // 4:  # type: ignore[operator]
                assert time.monotonic() < deadline, f"slow: {first}"
                time.sleep(0.02)
            first = connector_stats(http, url)
        # werk_process ends in SIGKILL: no flush, no acknowledgement, no clean disconnect
        killed_at = time.monotonic()
        with werk_process(config, tmp_path, port, timeout=60) as url, httpx.Client() as http:
            deadline = time.monotonic() + 180
            last, steady_since = None, time.monotonic()
            while True:
                now = connector_stats(http, url)
                if now != last:
                    last, steady_since = now, time.monotonic()
                if publisher.poll() is not None and time.monotonic() - steady_since > 1.5:
                    break  # publisher done and nothing moved for 1.5 s
                assert time.monotonic() < deadline, f"stream not consumed: {now}"
                time.sleep(0.1)
            second = now
        out, _ = publisher.communicate(timeout=30)
    finally:
        if publisher is not None and publisher.poll() is None:
            publisher.kill()
    elapsed = time.monotonic() - began
    rows, distinct, marks = count_rows(database)
    redelivered = int(first["messages"]) + int(second["messages"]) - n  # type: ignore[call-overload]
    print(
        f"\nkill -9 test: {out.strip()}; first run received {first['messages']} messages, "
        f"committed {first['samples']}, then SIGKILL at {killed_at - began:.1f} s; "
        f"second run received {second['messages']} (of which {redelivered} delivered twice: "
        f"unacknowledged at the kill); store: {rows} rows, {distinct} distinct "
        f"(signal, timestamp), {marks} quality marks; {elapsed:.1f} s in all"
    )
    assert f"published {n} acked {n}" in out
    assert redelivered >= 0
    assert rows == distinct == n


async def test_15_s_network_cut_loses_nothing(tmp_path: Path, mosquitto: int) -> None:
    n, rate, cut_s = 40_000, 2000.0, 15.0
    async with CuttableProxy("127.0.0.1", mosquitto) as proxy:
        settings = settings_for(
            tmp_path,
            spool_directory=str(tmp_path / "spool"),
            connectors=[
                {
                    "url": proxy.url,
                    "name": "cut",
                    "options": {
                        "client_id": "werk-cut-test",
                        "routes": [
                            {
                                "topic": "cut/+",
                                "signal": "cut.{1}",
                                "value": "$.v",
                                "timestamp": "$.ts",
                                "any_signal": True,
                            }
                        ],
                    },
                }
            ],
        )
        async with open_runtime(settings) as runtime:
            assert runtime.connectors is not None
            stats = runtime.connectors.running[0][0].stats

            async def until(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
                deadline = time.monotonic() + timeout
                while not condition():
                    assert time.monotonic() < deadline, f"{what}: {stats.as_dict()}"
                    await asyncio.sleep(0.05)

            await until(lambda: stats.state == "connected", 20, "connect")
            began = time.monotonic()
            publisher = start_publisher(mosquitto, "cut/a", n, rate, time.time_ns())
            try:
                await until(lambda: stats.samples >= n // 5, 60, "first part")
                before = stats.samples
                await proxy.cut()
                cut_at = time.monotonic()
                await until(lambda: stats.state == "disconnected", 10, "notice the cut")
                await asyncio.sleep(cut_s - (time.monotonic() - cut_at))
                await proxy.restore()
                restored_at = time.monotonic()
                await until(lambda: stats.state == "connected", 60, "reconnect")
                reconnected_after = time.monotonic() - restored_at
                await until(lambda: publisher.poll() is not None, 120, "publisher")

                def stored_values() -> int:  # with a value: the cut's BAD mark has none
                    batch = runtime.store.read("cut.a", 0, 2**62, limit=10 * n)
                    return int((batch.quality == Quality.GOOD).sum())

                # (not stats.samples: redelivered messages count there, and are stored once)
                await until(lambda: stored_values() >= n, 60, "all stored")
                out, _ = publisher.communicate(timeout=10)
            finally:
                if publisher.poll() is None:
                    publisher.kill()
            stored = runtime.store.read("cut.a", 0, 2**62, limit=10 * n)
            good = stored.values[stored.quality == Quality.GOOD]
            print(
                f"\nnetwork cut test: {out.strip()}; {before} samples stored before the cut; "
                f"link cut for {cut_s:.0f} s, "
                f"reconnected {reconnected_after:.1f} s after it returned; stored {len(good)} "
                f"values of {n} ({len(np.unique(good))} distinct), "
                f"{int((stored.quality == Quality.BAD).sum())} BAD mark(s) for the cut; "
                f"{stats.messages} messages received ({stats.messages - n} twice: in flight at the "
                f"cut); reconnects {stats.reconnects}; {time.monotonic() - began:.1f} s in all"
            )
            assert f"published {n} acked {n}" in out
            assert sorted(good.tolist()) == list(range(n))
            assert stats.reconnects == 1

"""MQTT ingest end to end — broker -> connector -> bus -> store — beside a raw paho client.

    .venv/bin/python benchmarks/ingest_mqtt.py --protocol json --messages 200000
    .venv/bin/python benchmarks/ingest_mqtt.py --protocol sparkplug --messages 100000 --metrics 4

One run, two consumers of the same stream, one after the other on the same broker, alternating
``--rounds`` times (the median of each is the figure; a shared machine's load moves):

1. the ceiling: a raw paho-mqtt client in its own process that subscribes and counts (the
   cheapest a Python MQTT consumer can be: no parsing, no storage);
2. werk: ``open_runtime`` with one connector (``mqtt://`` with a JSON route, or ``spb://`` with
   ``bind_all``) recording into DuckDB in a temporary directory; a message counts once its samples
   are committed to the store (the connector's ``samples`` counter moves only after that).

The stream (``--messages`` QoS 0 messages) is published by a separate process as fast as the
broker takes it — ``mosquitto_pub -l`` for JSON (C, a line a message); for Sparkplug, MQTT
packets encoded beforehand and written straight to a socket (an NBIRTH, then NDATA with
``--metrics`` metrics by alias and sequence numbers). Each consumer's rate is the stream's data
messages / (last one handled − first one received), so both see the same publisher; the clock
starts with the first data message (not werk's own STATE, nor the NBIRTH, after which the
publisher pauses). werk's first data message is noticed once its batch is decoded: the consumer
was idle, so that batch is small and the delay a few ms.

The broker is a Mosquitto of its own on a free port (configured not to drop what a slow consumer
has not taken yet) unless ``--broker mqtt://host:port`` names one. The figures go to
docs/benchmarks.md and docs/connectivity/mqtt.md with the command that produced them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

RAW_SUBSCRIBER = r"""
import json, sys, time
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
port, topic, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
count, streamed, first, last = 0, 0, 0.0, 0.0
def on_message(client, userdata, message):
    global count, streamed, first, last
    count += 1
    if count >= n:
        client.disconnect()
    if message.topic.endswith("/NBIRTH/edge1"):
        return  # the Sparkplug stream's birth: the clock starts with its data
    last = time.time()
    if not streamed:
        first = last
    streamed += 1
def on_connect(client, userdata, flags, reason, properties):
    client.subscribe(topic, 0)
def on_subscribe(client, userdata, mid, reasons, properties):
    print("ready", flush=True)
c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"raw-{time.time_ns()}")
c.on_message, c.on_connect, c.on_subscribe = on_message, on_connect, on_subscribe
c.connect("127.0.0.1", port)
c.loop_forever()
print(json.dumps({"received": count, "streamed": streamed, "first": first, "last": last}),
      flush=True)
"""

SPARKPLUG_PUBLISHER = r"""
import socket, sys, time
from werk.connect.mqtt import packets
from werk.connect.sparkplug.codec import DataType, Metric, Payload, encode_payload
port, n, metrics = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
base_ms = time.time_ns() // 1_000_000 - n  # one message a millisecond, ending now
names = [f"m{k}" for k in range(metrics)]
birth = encode_payload(Payload(
    metrics=(Metric("bdSeq", 0, DataType.INT64),)
    + tuple(Metric(name, 0.0, DataType.DOUBLE, alias=k + 1) for k, name in enumerate(names)),
    timestamp_ms=base_ms - 1, seq=0))
topic = "spBv1.0/bench/NDATA/edge1"
stream = b"".join(
    packets.publish(topic, encode_payload(Payload(
        metrics=tuple(Metric(None, float(i + k), DataType.DOUBLE, alias=k + 1)
                      for k in range(metrics)),
        timestamp_ms=base_ms + i, seq=(i + 1) % 256)))
    for i in range(n)
)
# Packets encoded beforehand and written to the socket in large chunks: the publisher costs
# next to nothing, so the broker delivers as fast as the subscriber takes (a paho publisher
# topped out near 20k messages/s, below what the subscribers here can take).
sock = socket.create_connection(("127.0.0.1", port))
sock.sendall(packets.connect(f"edge-{time.time_ns()}", clean=True, keepalive_s=60))
assert sock.recv(4)[:1] == b"\x20", "no CONNACK"
sock.sendall(packets.publish("spBv1.0/bench/NBIRTH/edge1", birth))
time.sleep(0.5)  # the birth first, then the stream
view = memoryview(stream)
for start in range(0, len(stream), 1 << 16):
    sock.sendall(view[start:start + (1 << 16)])
sock.sendall(packets.DISCONNECT_PACKET)
time.sleep(0.5)
sock.close()
"""

MOSQUITTO_CONF = """
listener {port} 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 0
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def broker(url: str | None, workdir: Path) -> Iterator[int]:
    if url is not None:
        yield int(url.rsplit(":", 1)[1])
        return
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        sys.exit("no mosquitto binary: install it or pass --broker mqtt://host:port")
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(MOSQUITTO_CONF.format(port=port))
    process = subprocess.Popen([binary, "-c", str(conf)], stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        process.kill()
        process.wait(10)


def machine() -> str:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import paho.mqtt

    try:
        import orjson

        json_lib = f"orjson {orjson.__version__}"
    except ImportError:
        json_lib = "json (stdlib; orjson not installed)"
    return (
        f"machine: {os.cpu_count()} CPUs, {model}, {platform.system()} {platform.release()}; "
        f"python {platform.python_version()}, paho-mqtt {paho.mqtt.__version__}, {json_lib}"
    )


# -- the stream -----------------------------------------------------------------------------------


class Stream:
    def __init__(self, protocol: str, messages: int, metrics: int, workdir: Path) -> None:
        self.protocol = protocol
        self.messages = messages
        self.metrics = metrics
        self.workdir = workdir
        if protocol == "json":
            self.topic_filter = "bench/#"
            self.values = messages
            lines = workdir / "stream.txt"
            start = time.time_ns() - messages * 1000
            with lines.open("w") as f:
                for i in range(messages):  # 4 presses, as a line of a plant would
                    f.write(f'{{"v": {i}.5, "ts": {start + i * 1000}, "press": {i % 4}}}\n')
            self.lines = lines
        else:
            self.topic_filter = "spBv1.0/bench/#"
            self.values = messages * metrics

    def publish(self, port: int) -> subprocess.Popen[bytes]:
        if self.protocol == "json":
            mosquitto_pub = shutil.which("mosquitto_pub")
            if mosquitto_pub is None:
                sys.exit("the JSON stream needs mosquitto_pub (apt-get install mosquitto-clients)")
            return subprocess.Popen(
                [mosquitto_pub, "-h", "127.0.0.1", "-p", str(port), "-t", "bench/line1/press",
                 "-q", "0", "-l"],
                stdin=self.lines.open("rb"),
            )  # fmt: skip
        return subprocess.Popen(
            [sys.executable, "-c", SPARKPLUG_PUBLISHER, str(port), str(self.messages),
             str(self.metrics)]
        )  # fmt: skip

    @property
    def expected(self) -> int:
        """Messages the raw client counts (the Sparkplug stream starts with its NBIRTH)."""
        return self.messages + (self.protocol == "sparkplug")


def run_raw(stream: Stream, port: int) -> dict[str, float]:
    subscriber = subprocess.Popen(
        [
            sys.executable,
            "-c",
            RAW_SUBSCRIBER,
            str(port),
            stream.topic_filter,
            str(stream.expected),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert subscriber.stdout is not None
    assert subscriber.stdout.readline().strip() == "ready"
    publisher = stream.publish(port)
    try:
        result = json.loads(subscriber.stdout.readline())
        subscriber.wait(60)
    finally:
        publisher.wait(120)
    seconds = result["last"] - result["first"]
    return {
        "messages": result["received"],
        "seconds": seconds,
        "rate": result["streamed"] / seconds,
    }


async def run_werk(stream: Stream, port: int, workdir: Path) -> dict[str, float]:
    from werk.app import open_runtime, settle_heap
    from werk.settings import Settings

    if stream.protocol == "json":
        connector = {
            "url": f"mqtt://127.0.0.1:{port}",
            "name": "bench",
            "options": {
                "qos": 0,
                "persistent": False,
                "routes": [
                    {"topic": "bench/+/+", "signal": "{1}.{2}", "value": "$.v",
                     "timestamp": "$.ts", "any_signal": True}
                ],
            },
        }  # fmt: skip
    else:
        connector = {
            "url": f"spb://127.0.0.1:{port}",
            "name": "bench",
            "options": {"qos": 0, "groups": ["bench"], "bind_all": True, "host_id": "bench"},
        }
    settings = Settings.model_validate(
        {
            "store": {"url": f"duckdb:///{workdir}/werk.duckdb"},
            "api": {"tokens_file": str(workdir / "tokens.json")},
            "twin": {"directory": str(workdir / "twin")},
            "spool_directory": str(workdir / "spool"),
            "connectors": [connector],
        }
    )
    async with open_runtime(settings) as runtime:
        settle_heap()  # as `werk serve` does once started
        assert runtime.connectors is not None
        stats = runtime.connectors.running[0][0].stats
        deadline = time.monotonic() + 30
        while stats.state != "connected":
            assert time.monotonic() < deadline, f"werk did not connect: {stats.as_dict()}"
            await asyncio.sleep(0.01)
        await asyncio.sleep(1.0)  # subscriptions made (Sparkplug subscribes after its STATE)
        # The clock starts with the stream's first data message, as the raw client's does: not
        # with werk's own STATE (which arrives at once) nor the Sparkplug stream's NBIRTH (after
        # which the publisher pauses half a second).
        base = stats.messages
        publisher = stream.publish(port)
        if stream.protocol == "sparkplug":
            deadline = time.monotonic() + 60
            while stats.messages == base:  # the NBIRTH
                assert time.monotonic() < deadline, f"no NBIRTH reached werk: {stats.as_dict()}"
                await asyncio.sleep(0.005)
            base = stats.messages
        births = stats.samples
        first = 0.0
        deadline = time.monotonic() + 600
        while stats.samples < births + stream.values:
            if not first and stats.messages > base:
                first = time.time()
            if publisher.poll() is not None and time.monotonic() > deadline:
                break
            await asyncio.sleep(0.01)
        last = time.time()
        await asyncio.to_thread(publisher.wait, 60)
        figures = stats.as_dict()
    seconds = last - first
    return {
        "messages": figures["messages"],  # Sparkplug: with the NBIRTH and werk's own STATE
        "samples": figures["samples"],
        "seconds": seconds,
        "rate": stream.messages / seconds,
        "values_rate": stream.values / seconds,
        "rejected": figures["rejected"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--protocol", choices=["json", "sparkplug"], default="json")
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--metrics", type=int, default=4, help="Sparkplug metrics per message")
    parser.add_argument("--broker", help="mqtt://host:port of a broker to use (default: own)")
    parser.add_argument("--rounds", type=int, default=3, help="raw, werk, raw, werk ...")
    args = parser.parse_args()
    if args.protocol == "sparkplug":
        try:
            import werk.connect.sparkplug.codec
        except ImportError as error:
            raise NotImplementedError(
                f"werk.connect.sparkplug is not available: {error}"
            ) from error

    print(machine())
    print(f"stream: {args.messages} QoS 0 messages, {args.protocol}"
          + (f", {args.metrics} metrics each" if args.protocol == "sparkplug" else ""))  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, broker(args.broker, Path(tmp)) as port:
        workdir = Path(tmp)
        stream = Stream(args.protocol, args.messages, args.metrics, workdir)
        raws, werks = [], []
        for round_ in range(1, args.rounds + 1):
            raw = run_raw(stream, port)
            raws.append(raw)
            print(
                f"round {round_}: raw paho client (receive and count): {raw['rate']:>9,.0f} "
                f"messages/s ({raw['messages']:,} in {raw['seconds']:.2f} s)"
            )
            with tempfile.TemporaryDirectory(dir=workdir) as store_dir:
                werk = asyncio.run(run_werk(stream, port, Path(store_dir)))
            werks.append(werk)
            extra = (
                f", {werk['values_rate']:,.0f} values/s" if stream.values > stream.messages else ""
            )
            print(
                f"round {round_}: werk MQTT -> bus -> DuckDB (committed): {werk['rate']:>9,.0f} "
                f"messages/s{extra} ({werk['messages']:,} messages, {werk['samples']:,} samples "
                f"in {werk['seconds']:.2f} s; rejected {werk['rejected'] or 'none'})"
            )
        raw_rate = statistics.median(r["rate"] for r in raws)
        werk_rate = statistics.median(w["rate"] for w in werks)
        values = statistics.median(w["values_rate"] for w in werks)
        print(
            f"median of {args.rounds}: raw paho {raw_rate:,.0f} messages/s; werk {werk_rate:,.0f} "
            f"messages/s"
            + (f" = {values:,.0f} values/s" if stream.values > stream.messages else "")
            + f"; werk / raw paho = {werk_rate / raw_rate:.2f}"
        )


if __name__ == "__main__":
    main()

"""Scale-out throughput: values/s end to end, producer -> ingest -> NATS -> workers -> PostgreSQL.

    .venv/bin/python benchmarks/scale.py [--batches 200] [--values 10000] [--workers 1,2,3]
        [--concurrency 4] [--detectors] [--nats nats://127.0.0.1:4222]
        [--postgres postgresql://postgres@127.0.0.1:5432/test]

In one run, one after the other, with real ``werk`` processes:

- embedded: one ``werk serve`` on the in-process bus (every role), into DuckDB and into PostgreSQL;
  an HTTP 200 means committed;
- scaled out: one ``werk ingest`` and 1, 2, 3 ``werk worker`` processes on NATS JetStream and
  PostgreSQL; an HTTP 200 means stored in JetStream, and the clock stops when PostgreSQL holds
  every value.

The producer posts Arrow IPC batches (``--values`` per batch: 100 signals of 10 assets) to
``/api/v1/samples``, ``--concurrency`` requests in flight; the bodies are built before the clock
starts. Samples pass the data-quality screen; the detectors are off unless ``--detectors`` (then
robust-z on every signal, split over the workers by asset). Per worker: the batches its recorder
acked (from its /api/v1/health), as values/s over the run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa

ARROW = "application/vnd.apache.arrow.stream"
ASSETS = [f"press{i}" for i in range(10)]
SIGNALS = [f"{a}.s{j}" for a in ASSETS for j in range(10)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Werk:
    """One ``python -m werk`` process, logging to a file, ready once /health answers."""

    def __init__(self, args: list[str], cwd: Path, name: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = cwd / f"{name}.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "werk", *args],
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "WERK_API__PORT": str(self.port), "PYTHONUNBUFFERED": "1"},
            )

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.log.name} exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"{self.log.name} did not come up: {self.log.read_text()[-2000:]}")

    def recorder_acked(self) -> int:
        health = httpx.get(f"{self.url}/api/v1/health", timeout=5).json()
        return sum(s["acked"] for s in health["bus"] or [] if s["name"] == "recorder.samples")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def bodies(batches: int, values: int) -> list[bytes]:
    """Arrow IPC bodies: all 100 signals in every batch, a second apart, ending a minute ago."""
    per_signal = max(1, values // len(SIGNALS))
    end = (time.time_ns() // 10**9 - 60) * 10**9
    start = end - batches * per_signal * 10**9
    rng = np.random.default_rng(0)
    out = []
    for k in range(batches):
        ts = start + (k * per_signal + np.arange(per_signal, dtype=np.int64)) * 10**9
        table = pa.table(
            {
                "signal": pa.array(np.repeat(SIGNALS, per_signal)).dictionary_encode(),
                "timestamp": pa.array(np.tile(ts, len(SIGNALS)), pa.timestamp("ns", tz="UTC")),
                "value": rng.normal(50, 1, per_signal * len(SIGNALS)),
            }
        )
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        out.append(bytes(sink.getvalue()))
    return out


async def produce(url: str, token: str, payloads: list[bytes], concurrency: int) -> int:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in payloads:
        queue.put_nowait(body)
    accepted = 0
    headers = {"Content-Type": ARROW, "Authorization": f"Bearer {token}"}

    async def post(client: httpx.AsyncClient) -> None:
        nonlocal accepted
        while not queue.empty():
            body = queue.get_nowait()
            response = await client.post(f"{url}/api/v1/samples", content=body, headers=headers)
            if response.status_code != 200:
                raise SystemExit(f"ingest answered {response.status_code}: {response.text[:500]}")
            accepted += response.json()["accepted"]

    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(*(post(client) for _ in range(concurrency)))
    return accepted


def pg_count(postgres: str, schema: str) -> int:
    import psycopg

    with psycopg.connect(postgres, autocommit=True) as conn:
        row = conn.execute(f'SELECT count(*) FROM "{schema}".samples').fetchone()
    return int(row[0]) if row else 0


def run_case(
    name: str, args: argparse.Namespace, payloads: list[bytes], workers: int | None, store: str
) -> dict[str, Any]:
    """workers None: the embedded single process; else 1 ingest + ``workers`` workers."""
    import psycopg

    from werk.api.tokens import Role, TokenStore

    work = Path(tempfile.mkdtemp(prefix="werk-scale-"))
    schema = stream = f"werkbench_{uuid.uuid4().hex[:10]}"
    if store == "postgres":
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        sep = "&" if "?" in args.postgres else "?"
        store_url = f"{args.postgres}{sep}schema={schema}"
    else:
        store_url = f"duckdb:///{work / 'werk.duckdb'}"
    bus_url = "memory://" if workers is None else f"{args.nats}?stream={stream}&prefix={stream}"
    detector = "robust-z" if args.detectors else "off"
    (work / "werk.toml").write_text(
        f'[store]\nurl = "{store_url}"\n[bus]\nurl = "{bus_url}"\n'
        f'[api]\ntokens_file = "{work / "tokens.json"}"\n'
        f'[twin]\ndirectory = "{work / "twin"}"\n'
        f'[analytics]\ndetector = "{detector}"\n'
        + "".join(f'[[signals]]\nid = "{s}"\nasset = "{s.split(".")[0]}"\n' for s in SIGNALS)
    )
    _, token = TokenStore(work / "tokens.json").create(Role.operator, "bench")
    config = ["--config", str(work / "werk.toml")]
    if workers is None:
        processes = [Werk(["serve", "--role", "all", *config], work, "werk")]
        front, recorders = processes[0], []
    else:
        recorders = [
            Werk(["worker", "--partition", f"{i}/{workers}", *config], work, f"worker{i}")
            for i in range(workers)
        ]
        front = Werk(["ingest", *config], work, "ingest")
        processes = [front, *recorders]
    total = 0
    try:
        for p in processes:
            p.wait_ready()
        started = time.perf_counter()
        total = asyncio.run(produce(front.url, token, payloads, args.concurrency))
        acked_s = time.perf_counter() - started
        if store == "postgres":
            while pg_count(args.postgres, schema) < total:
                if time.perf_counter() - started > 600:
                    raise SystemExit(f"{name}: the store did not catch up")
                time.sleep(0.05)
        elapsed = time.perf_counter() - started
        per_worker = [r.recorder_acked() * (total // len(payloads)) / elapsed for r in recorders]
    finally:
        for p in processes:
            p.stop()
        if store == "postgres":
            with psycopg.connect(args.postgres, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        if workers is not None:
            asyncio.run(delete_stream(args.nats, stream))
        shutil.rmtree(work, ignore_errors=True)
    return {
        "case": name,
        "values_s": total / elapsed,
        "acked_s": total / acked_s,
        "per_worker": per_worker,
        "seconds": elapsed,
        "values": total,
    }


async def delete_stream(url: str, stream: str) -> None:
    import nats

    nc = await nats.connect(url)
    try:
        await nc.jetstream().delete_stream(stream)
    finally:
        await nc.close()


async def server_versions(nats_url: str, postgres: str) -> str:
    import nats
    import psycopg

    nc = await nats.connect(nats_url)
    version = str(nc.connected_server_version).strip("<>")
    await nc.close()
    with psycopg.connect(postgres) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return f"{version}, PostgreSQL {row[0] if row else '?'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--values", type=int, default=10_000, help="values per batch")
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    parser.add_argument("--detectors", action="store_true", help="robust-z on every signal")
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    print(f"command: {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f}, Python {platform.python_version()}, "
        + asyncio.run(server_versions(args.nats, args.postgres))
    )
    payloads = bodies(args.batches, args.values)
    print(
        f"{args.batches} batches of {args.values} values ({len(payloads[0]) / 1e3:.0f} kB Arrow), "
        f"{args.concurrency} in flight, detectors {'on' if args.detectors else 'off'}"
    )
    cases: list[tuple[str, int | None, str]] = [
        ("embedded: memory bus + DuckDB", None, "duckdb"),
        ("embedded: memory bus + PostgreSQL", None, "postgres"),
    ]
    cases += [
        (f"scaled: 1 ingest + {n} worker{'s' * (n > 1)}, NATS + PostgreSQL", n, "postgres")
        for n in (int(w) for w in args.workers.split(","))
    ]
    print(f"\n| {'case':<52} | values/s stored | values/s acked | per worker (values/s) |")
    print(f"|{'-' * 54}|-----------------|----------------|------------------------|")
    for name, workers, store in cases:
        r = run_case(name, args, payloads, workers, store)
        per = ", ".join(f"{v / 1e3:.0f}k" for v in r["per_worker"]) or "—"
        print(
            f"| {name:<52} | {r['values_s'] / 1e3:>13.0f}k | {r['acked_s'] / 1e3:>12.0f}k | "
            f"{per:<22} |",
            flush=True,
        )


if __name__ == "__main__":
    main()

"""Scaled out for real: 2 ingest + 3 workers + 2 API processes on NATS JetStream and PostgreSQL.

Two producers post a stream of Arrow batches to the two ingest processes (an HTTP 200 means
JetStream stored the batch). Mid-stream one worker is frozen (SIGSTOP: it keeps the batches
it pulled without acking them), killed with SIGKILL and started again. At the
end every acknowledged sample is in PostgreSQL exactly once, and the WebSocket live feed of an API
replica kept receiving values after the kill.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
import numpy as np
import pyarrow as pa
import pytest

from tests.bus import nats_test_url
from tests.servers import WerkProcess, free_port
from werk.api.tokens import Role, TokenStore
from werk.core import NS_PER_S

ARROW = "application/vnd.apache.arrow.stream"
ASSETS = [f"m{i}" for i in range(6)]
SIGNALS = [f"{asset}.s{j}" for asset in ASSETS for j in range(2)]
PER_SIGNAL = 50  # samples of each signal in one batch
BATCHES = 100  # per producer
ACK_WAIT_S = 3  # a killed worker's batches go to the others after this


@pytest.fixture
async def nats_url() -> AsyncIterator[str]:
    async for made in nats_test_url(ack_wait=f"{ACK_WAIT_S}s"):
        yield made


def arrow_batch(signals: list[str], start_ns: int) -> bytes:
    """``PER_SIGNAL`` samples of each signal, 1 ms apart from ``start_ns``."""
    ts = start_ns + np.arange(PER_SIGNAL, dtype=np.int64) * 1_000_000
    table = pa.table(
        {
            "signal": np.repeat(signals, PER_SIGNAL),
            "timestamp": pa.array(np.tile(ts, len(signals)), pa.timestamp("ns", tz="UTC")),
            "value": np.random.default_rng(start_ns % 2**32).normal(
                50, 1, PER_SIGNAL * len(signals)
            ),
        }
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


def stored(postgres_url: str) -> tuple[int, int]:
    """(rows, (signal, ts) pairs stored more than once) in the test's PostgreSQL schema."""
    import psycopg

    parts = urlsplit(postgres_url)
    schema = parse_qs(parts.query)["schema"][0]
    with psycopg.connect(urlunsplit(parts._replace(query=""))) as conn:
        rows = conn.execute(f'SELECT count(*) FROM "{schema}".samples').fetchone()
        twice = conn.execute(
            f'SELECT count(*) FROM (SELECT 1 FROM "{schema}".samples'
            " GROUP BY signal_id, ts HAVING count(*) > 1) AS d"
        ).fetchone()
    assert rows is not None and twice is not None
    return int(rows[0]), int(twice[0])


async def test_kill_9_a_worker_mid_stream_stores_every_acknowledged_batch_once(
    tmp_path: Path, postgres_url: str, nats_url: str
) -> None:
    from websockets.asyncio.client import connect

    tokens_file = tmp_path / "tokens.json"
    config = tmp_path / "werk.toml"
    config.write_text(
        f'[store]\nurl = "{postgres_url}"\n'
        f'[bus]\nurl = "{nats_url}"\n'
        f'[api]\ntokens_file = "{tokens_file}"\n'
        f'[twin]\ndirectory = "{tmp_path / "twin"}"\n'
        + "".join(f'[[signals]]\nid = "{s}"\nasset = "{s.split(".")[0]}"\n' for s in SIGNALS)
    )
    _, operator = TokenStore(tokens_file).create(Role.operator, "producer")
    _, viewer = TokenStore(tokens_file).create(Role.viewer, "live")
    cfg = ["--config", str(config)]

    def proc(args: list[str], name: str, env: bool = False) -> WerkProcess:
        port = free_port()
        extra = {"WERK_API__PORT": str(port)} if env else None
        port_args = [] if env else ["--port", str(port)]
        return WerkProcess([*args, *cfg, *port_args], tmp_path, port, env=extra, name=name)

    ingests = [proc(["ingest"], f"ingest{i}") for i in range(2)]
    workers = [proc(["worker", "--partition", f"{i}/3"], f"worker{i}") for i in range(3)]
    apis = [proc(["serve", "--role", "api"], f"api{i}", env=True) for i in range(2)]
    everything = [*ingests, *workers, *apis]
    with contextlib.ExitStack() as stack:
        for p in everything:
            stack.enter_context(p)
            p.start()
        for p in everything:
            await asyncio.to_thread(p.wait_ready, 60)

        live_rows: list[tuple[float, int]] = []  # (when, rows) per samples message

        async def follow_live() -> None:
            url = apis[0].url.replace("http", "ws") + f"/api/v1/live?token={viewer}"
            async with connect(url) as ws:
                await ws.send(json.dumps({"subscribe": "*"}))
                async for raw in ws:
                    message = json.loads(raw)
                    if message["type"] == "samples":
                        live_rows.append((time.monotonic(), len(message["samples"])))

        acknowledged = 0
        posted = [0, 0]
        base = (time.time_ns() // NS_PER_S - 120) * NS_PER_S  # two minutes ago, whole second

        async def produce(p: int, client: httpx.AsyncClient) -> None:
            nonlocal acknowledged
            signals = SIGNALS[p * 6 : p * 6 + 6]  # a source sticks to one ingest process
            for k in range(BATCHES):
                body = arrow_batch(signals, base + k * PER_SIGNAL * 1_000_000)
                response = await client.post(
                    f"{ingests[p].url}/api/v1/samples",
                    content=body,
                    headers={"Content-Type": ARROW, "Authorization": f"Bearer {operator}"},
                )
                assert response.status_code == 200, response.text
                acknowledged += response.json()["accepted"]
                posted[p] += 1
                await asyncio.sleep(0.05)

        killed_at = restarted_at = 0.0
        held = 0

        async def chaos() -> None:
            nonlocal killed_at, restarted_at, held
            while sum(posted) < BATCHES // 2:  # a quarter of the stream
                await asyncio.sleep(0.02)
            # Frozen first, so the kill finds batches it pulled and never acked (an idle worker
            # may hold none at the instant of a kill); JetStream must give them to the others.
            workers[1].freeze()
            await asyncio.sleep(0.5)
            held = await recorder_unacked(nats_url)
            workers[1].kill()
            killed_at = time.monotonic()
            await asyncio.sleep(0.5)
            workers[1].start()  # back while the stream goes on
            await asyncio.to_thread(workers[1].wait_ready, 60)
            restarted_at = time.monotonic()

        live = asyncio.create_task(follow_live())
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=30) as client:
            await asyncio.gather(produce(0, client), produce(1, client), chaos())
        produced_s = time.monotonic() - started

        # the killed worker's unacked batches come back after ack_wait; wait for the store
        deadline = time.monotonic() + ACK_WAIT_S + 30
        rows, twice = await asyncio.to_thread(stored, postgres_url)
        while rows < acknowledged and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            rows, twice = await asyncio.to_thread(stored, postgres_url)
        await asyncio.sleep(1.0)  # anything beyond the acknowledged would show up now
        rows, twice = await asyncio.to_thread(stored, postgres_url)
        live.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await live

        after_kill = sum(n for when, n in live_rows if when > killed_at)
        print(
            f"\n{sum(posted)} batches, {acknowledged} samples acknowledged in {produced_s:.1f} s;"
            f" {rows} rows stored, {twice} (signal, ts) stored twice;"
            f" live feed: {sum(n for _, n in live_rows)} values,"
            f" {after_kill} after the kill (worker1 killed at"
            f" {killed_at - started:.1f} s, back at {restarted_at - started:.1f} s);"
            f" {held} batches delivered to the recorders and unacked at the kill"
        )
        assert acknowledged == BATCHES * 2 * 6 * PER_SIGNAL
        assert twice == 0
        assert rows == acknowledged, "\n".join(w.log_tail(1500) for w in workers)
        assert after_kill > 0
        assert held > 0, "the killed worker held no batch: the kill tested nothing"
        assert workers[1].starts == 2 and restarted_at < started + produced_s


async def recorder_unacked(nats_url: str) -> int:
    """Batches the recorder group was given and has not acked (the frozen worker's, mostly)."""
    import nats

    parts = urlsplit(nats_url)
    stream = parse_qs(parts.query)["stream"][0]
    nc = await nats.connect(urlunsplit(parts._replace(query="")))
    try:
        info = await nc.jetstream().consumer_info(stream, "recorder_samples")
        return int(info.num_ack_pending or 0)
    finally:
        await nc.close()

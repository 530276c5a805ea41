"""OPC UA ingest through ONE connection, end to end: value changes per second into the store.

An asyncua server in its own process changes N variables as fast as it can (every change with a
source timestamp). Side by side, one after the other against the same server and stream:

- ceiling: a bare asyncua client subscription (same publishing interval and queue size) that only
  counts notifications — what one Python OPC UA connection can take at all;
- werk: ``open_runtime`` with a plant file binding the N variables, the OPC UA connector, the bus
  and a DuckDB store; counted are the samples committed to the store.

    .venv/bin/python benchmarks/ingest_opcua.py [--variables 100] [--seconds 10]

Prints both rates, each with what the server made in the same window and the client process's
CPU time per change (all threads: what one core could take is about 1e6 / that), the ratio and
the machine.
A client that took (nearly) all the server made measured the server, not itself; one that fell
behind measured itself (asyncua's server then drops the oldest queued values, silently: it sets
no overflow bit). Target: >= 10k value changes/s per connection.

``--copying-server`` keeps asyncua's per-write deep copy in the server (see :func:`serve`): with
a subscriber that source makes only ~7-9k changes/s on 2 cores, and both clients take all of it.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import socket
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PUBLISHING_MS = 20
QUEUE_SIZE = 1000


def serve(port: int, variables: int, ready: Any, stop: Any, changes: Any, copying: bool) -> None:
    """The server process: N doubles under Line1, all changing in a tight loop.

    Unless ``copying``, the server skips asyncua's defensive deep copy of each written value for
    each monitored item (``MonitoredItemValues.set_current_datavalue``). With a subscriber that
    copy took about 80 % of the server's time (py-spy), so the server, not the clients, set the
    pace. The loop never touches a value after writing it, so the copy guards nothing here, and
    what goes on the wire is the same. (A benchmark-only patch of the server; werk's client
    path patches nothing.)
    """
    import logging

    from asyncua import Server, ua

    logging.disable(logging.WARNING)
    if not copying:
        from asyncua.server import monitored_item_service

        def keep(self: Any, value: Any) -> None:
            self.old_dvalue, self.current_dvalue = self.current_dvalue, value

        values = monitored_item_service.MonitoredItemValues
        values.set_current_datavalue = keep  # type: ignore[method-assign]

    async def main() -> None:
        server = Server()
        await server.init()
        server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/bench")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        namespace = await server.register_namespace("urn:werk:bench")
        line = await server.nodes.objects.add_object(namespace, "Line1")
        nodes = [
            (await line.add_variable(ua.NodeId(f"V{i}", namespace), f"V{i}", 0.0)).nodeid
            for i in range(variables)
        ]
        async with server:
            ready.set()
            count = 0
            while not stop.is_set():
                now = datetime.now(UTC)
                for node in nodes:
                    count += 1
                    value = ua.DataValue(
                        ua.Variant(float(count), ua.VariantType.Double), SourceTimestamp=now
                    )
                    await server.write_attribute_value(node, value)
                changes.value = count
                await asyncio.sleep(0)  # one round of changes, then let the server publish
            changes.value = count

    asyncio.run(main())


class Window:
    """One measuring window: a client's count, the server's changes and the client process's CPU
    time (all its threads), over the same time."""

    def __init__(self, changes: Any) -> None:
        self.changes = changes
        self.begin = time.perf_counter()
        self.cpu = time.process_time()
        self.made = int(changes.value)

    def rates(self, counted: int) -> tuple[float, float, float]:
        """(counted per second, changes the server made per second, client CPU µs per counted
        change) since the window opened."""
        elapsed = time.perf_counter() - self.begin
        cpu_us = (time.process_time() - self.cpu) * 1e6 / max(counted, 1)
        return counted / elapsed, (int(self.changes.value) - self.made) / elapsed, cpu_us


async def ceiling(
    url: str, variables: int, seconds: float, changes: Any
) -> tuple[float, float, float]:
    from asyncua import Client, ua

    async with Client(url) as client:
        subscription = await client.create_subscription(
            PUBLISHING_MS, None, queue_maxsize=1_000_000
        )
        nodes = [client.get_node(f"ns=2;s=V{i}") for i in range(variables)]
        await subscription.subscribe_data_change(
            nodes, queuesize=QUEUE_SIZE, sampling_interval=ua.Double(0)
        )
        counted = 0

        async def count() -> None:
            nonlocal counted
            async for _ in subscription:
                counted += 1

        task = asyncio.create_task(count())
        await asyncio.sleep(1.0)  # warm up
        start, window = counted, Window(changes)
        await asyncio.sleep(seconds)
        rates = window.rates(counted - start)
        task.cancel()
        return rates


async def werk(
    url: str, variables: int, seconds: float, changes: Any, directory: Path
) -> tuple[tuple[float, float, float], dict[str, Any]]:
    from werk.app import open_runtime, settle_heap
    from werk.settings import Settings

    plant = directory / "plant.toml"
    lines = [
        '[plant]\nid = "bench"\nname = "bench"\n',
        '[assets.site]\nlevel = "site"\nname = "Site"\n',
        '[assets.area]\nlevel = "area"\nparent = "site"\nname = "Area"\n',
        '[assets.line1]\nlevel = "line"\nparent = "area"\nname = "Line 1"\n',
    ]
    for i in range(variables):
        lines.append(f'[assets.line1.signals.v{i}]\nsource = {{ opcua = "ns=2;s=V{i}" }}\n')
    plant.write_text("\n".join(lines), encoding="utf-8")
    settings = Settings.model_validate(
        {
            "store": {"url": f"duckdb:///{directory}/bench.duckdb"},
            "api": {"tokens_file": str(directory / "tokens.json")},
            "twin": {"directory": str(directory / "twin")},
            "plant": str(plant),
            "spool_directory": str(directory / "spool"),
            "connectors": [
                {
                    "url": url,
                    "name": "bench",
                    "options": {
                        "publishing_interval_ms": PUBLISHING_MS,
                        "queue_size": QUEUE_SIZE,
                        "batch_ms": 50,
                    },
                }
            ],
        }
    )
    async with open_runtime(settings) as runtime:
        settle_heap()  # as `werk serve` does once started
        assert runtime.connectors is not None
        await asyncio.sleep(1.5)  # connect, subscribe, warm up
        start = await asyncio.to_thread(runtime.store.count)
        window = Window(changes)
        await asyncio.sleep(seconds)
        end = await asyncio.to_thread(runtime.store.count)
        rates = window.rates(end - start)
        (stats,) = runtime.connectors.stats()
    return rates, stats


def _pace(taken: float, made: float) -> str:
    """Who set the pace of a client: it took (nearly) all the server made, or it fell behind."""
    return "took all: the server's pace" if taken >= 0.97 * made else "fell behind: its own pace"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variables", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--copying-server",
        action="store_true",
        help="keep asyncua's per-write deep copy in the server (the slower source of old)",
    )
    args = parser.parse_args()

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    url = f"opc.tcp://127.0.0.1:{port}/bench"
    context = multiprocessing.get_context("spawn")
    ready, stop, changes = context.Event(), context.Event(), context.Value("q", 0)
    server = context.Process(
        target=serve, args=(port, args.variables, ready, stop, changes, args.copying_server)
    )
    server.start()
    try:
        if not ready.wait(60):
            raise SystemExit("the OPC UA server did not start")
        bare, bare_made, bare_cpu = asyncio.run(ceiling(url, args.variables, args.seconds, changes))
        with tempfile.TemporaryDirectory() as directory:
            (ours, ours_made, ours_cpu), stats = asyncio.run(
                werk(url, args.variables, args.seconds, changes, Path(directory))
            )
    finally:
        stop.set()
        server.join(30)
        if server.is_alive():
            server.kill()

    print(
        f"machine: {platform.machine()} {os.cpu_count()} CPUs, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )
    source = "asyncua as is (copying)" if args.copying_server else "no per-write copy"
    print(
        f"server: {args.variables} variables changing, publishing {PUBLISHING_MS} ms, "
        f"queue {QUEUE_SIZE}, {source}"
    )
    print(
        f"bare asyncua subscription (ceiling): {bare:,.0f} value changes/s "
        f"(server made {bare_made:,.0f}/s meanwhile; {_pace(bare, bare_made)}; "
        f"{bare_cpu:.1f} µs CPU each)"
    )
    print(
        f"werk opc.tcp -> bus -> DuckDB:       {ours:,.0f} value changes/s stored "
        f"(server made {ours_made:,.0f}/s meanwhile; {_pace(ours, ours_made)}; "
        f"{ours_cpu:.1f} µs CPU each)"
    )
    print(f"ratio werk / ceiling: {ours / bare:.2f}")
    rejected = stats["rejected"] or "none"
    print(
        f"connector: {stats['messages']:,} notifications, gaps {stats['gaps']}, "
        f"rejected {rejected}, server queue overflows {stats['server_queue_overflows']}"
    )


if __name__ == "__main__":
    main()

"""The composition root: read settings, open URLs, wire everything, start and stop.

Nothing else in werk opens a URL or reads settings; parts get plain values through constructors.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from werk import __version__
from werk.core import NS_PER_S, Clock, ConfigError, SignalCatalog, WallClock, buses
from werk.runtime import Runtime
from werk.settings import Settings
from werk.store.base import open_store
from werk.store.recorder import Recorder
from werk.twin.state import MIN_STALE_S, LiveState, watch_freshness

if TYPE_CHECKING:
    from werk.twin.plant import Plant
    from werk.twin.repository import TwinRepository

log = logging.getLogger(__name__)

RETENTION_EVERY_S = 3600.0


@contextlib.asynccontextmanager
async def open_runtime(settings: Settings, *, clock: Clock | None = None) -> AsyncIterator[Runtime]:
    """Start bus, store, recorder, live state (and the demo feed when asked); stop them in order.

    On exit, producers stop first, then the bus drains and the recorder commits what it received
    before the store closes: nothing acknowledged is lost on a clean shutdown.
    """
    from werk.api.tokens import TokenStore

    clock = clock or WallClock()
    catalog = SignalCatalog(settings.catalog().values())
    plant = None
    plant_file = settings.plant
    if plant_file is None and settings.demo:
        from werk.sim.demo import DEMO_PLANT

        plant_file = str(DEMO_PLANT)
    if plant_file:
        from werk.twin.plant import load_plant

        plant = await asyncio.to_thread(load_plant, plant_file)
        for signal in plant.catalog().values():
            catalog.add(signal)

    store = await asyncio.to_thread(open_store, settings.store.url)
    bus = buses.open(settings.bus.url)
    state = LiveState(
        await asyncio.to_thread(store.latest),
        expected_intervals={
            s.id: s.expected_interval_s for s in catalog.values() if s.expected_interval_s
        },
        min_stale_s=MIN_STALE_S,
    )
    recorder = Recorder(
        bus,
        store,
        max_rows=settings.recorder.max_rows,
        max_delay_s=settings.recorder.max_delay_ms / 1000,
    )
    runtime = Runtime(
        settings=settings,
        catalog=catalog,
        bus=bus,
        store=store,
        state=state,
        tokens=TokenStore(Path(settings.api.tokens_file)),
        clock=clock,
        twin=await asyncio.to_thread(open_twin, settings, plant),
        plant=plant,
    )
    recorder_task = asyncio.create_task(recorder.run(), name="recorder")
    consumers = [asyncio.create_task(state.follow(bus), name="twin.state")]
    producers: list[asyncio.Task[None]] = []
    try:  # from here on, a failure (a bad connector or model setting) still stops what started
        runtime.asset_of = {s.id: s.asset for s in catalog.values() if s.asset}
        producers.append(
            asyncio.create_task(
                watch_freshness(state, clock, runtime.emit, assets=runtime.asset_of),
                name="twin.freshness",
            )
        )
        if settings.store.retention_days:
            producers.append(asyncio.create_task(_retention(runtime), name="retention"))
        if settings.connectors:
            from werk.connect.runner import ConnectorSet, ingest_publisher

            runtime.connectors = ConnectorSet.build(
                settings.connectors,
                plant,
                ingest_publisher(runtime.ingest),
                Path(settings.spool_directory),
            )
            producers.append(asyncio.create_task(runtime.connectors.run(), name="connectors"))
            producers.append(
                asyncio.create_task(
                    runtime.connectors.follow_commands(bus, runtime.emit), name="connect.commands"
                )
            )
            if not settings.demo and any(
                c.url.lower().startswith("sim:") for c in settings.connectors
            ):
                from werk.sim.virtual import follow_faults  # the demo follows its own plant's

                producers.append(asyncio.create_task(follow_faults(bus), name="sim.faults"))
        if settings.analytics.enabled:
            producers.append(_start_analytics(runtime))
        if settings.alarms.enabled:
            producers.append(_start_alarms(runtime))
        if settings.maintenance.enabled:
            from werk.maintenance.serving import service_from_settings

            service = await asyncio.to_thread(service_from_settings, settings.maintenance, runtime)
            producers.append(asyncio.create_task(service.run(), name="maintenance"))
        if settings.demo:  # the virtual plant over OPC UA (+ Sparkplug), read by werk's connectors
            from werk.sim.virtual import run_virtual_demo

            producers.append(asyncio.create_task(run_virtual_demo(runtime), name="demo"))
        await asyncio.sleep(0)  # let subscribers subscribe before anyone publishes
        yield runtime
    finally:
        await _stop(producers)
        await bus.close()
        await recorder_task
        await asyncio.gather(*consumers, return_exceptions=True)
        await asyncio.to_thread(store.close)
        log.info("stopped; %d samples recorded this run", recorder.samples_written)


def _start_analytics(runtime: Runtime) -> asyncio.Task[None]:
    """The data-quality screen on ingest and the detectors on the bus (werk.analytics)."""
    from werk.analytics.quality import QualityScreen
    from werk.analytics.service import AnalyticsService
    from werk.analytics.watchlist import (
        Defaults,
        build_watchlist,
        machine_detectors,
        quality_rules,
        watched_signals,
    )

    config = runtime.settings.analytics
    defaults = Defaults(
        config.detector,
        config.multivariate,
        config.hold_s,
        config.spike_k,
        config.flatline_intervals,
    )
    signals = watched_signals(runtime.catalog.values(), runtime.plant)
    runtime.quality = QualityScreen(
        quality_rules(signals, defaults), clock_skew_s=config.clock_skew_s
    )
    watchlist = build_watchlist(signals, defaults, machine_detectors(runtime.plant, defaults))
    runtime.analytics = AnalyticsService(watchlist, runtime.emit)
    return asyncio.create_task(runtime.analytics.run(runtime.bus), name="analytics")


def _start_alarms(runtime: Runtime) -> asyncio.Task[None]:
    from werk.analytics.alarms.manager import AlarmManager, AlarmPolicy
    from werk.analytics.alarms.model import Priority
    from werk.analytics.alarms.webhooks import Webhook

    config = runtime.settings.alarms
    policy = AlarmPolicy(
        on_delay_s=config.on_delay_s,
        off_delay_s=config.off_delay_s,
        max_shelve_s=config.max_shelve_h * 3600,
        operators=config.operators,
        webhooks=tuple(
            Webhook(
                hook.url,
                Priority.parse(hook.min_priority, Priority.high),
                secret=hook.secret,
                timeout_s=hook.timeout_s,
                retries=hook.retries,
            )
            for hook in config.webhooks
        ),
    )
    runtime.alarms = AlarmManager(runtime.bus, runtime.store, runtime.clock, runtime.emit, policy)
    return asyncio.create_task(runtime.alarms.run(), name="alarms")


async def _stop(tasks: list[asyncio.Task[None]], grace_s: float = 5.0) -> None:
    """Cancel ``tasks`` and wait for them; cancel again any that let a cancellation slip (a
    library that swallows one must not hang the shutdown)."""
    pending = {t for t in tasks if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=grace_s)
        for task in pending:
            log.warning("task %s did not stop when cancelled; cancelling again", task.get_name())
    await asyncio.gather(*tasks, return_exceptions=True)


def open_twin(settings: Settings, plant: Plant | None) -> TwinRepository:
    """The twin repository; the plant's shells and submodels are brought in when the plant file
    changed since the last start (edits made through the AAS API to other objects are kept)."""
    from werk.twin.repository import TwinRepository

    twin = TwinRepository(Path(settings.twin.directory))
    if plant is not None:
        from werk.twin.aas import build_environment

        base_url = settings.api.url

        def plant_objects() -> Iterator[object]:
            # Built only when the fingerprint says the plant changed: a 1,000-asset plant takes
            # seconds to build and encode, an unchanged restart none.
            yield from build_environment(plant, base_url=base_url).objects

        version = f"{__version__}\n{base_url}\n{plant.source_text}".encode()
        report = twin.sync_plant(plant_objects(), fingerprint=hashlib.sha256(version).hexdigest())
        if report.changed:
            log.info(
                "twin: plant %s brought in: %d added, %d replaced, %d removed",
                plant.id,
                len(report.added),
                len(report.replaced),
                len(report.removed),
            )
    return twin


async def _retention(runtime: Runtime) -> None:
    days = runtime.settings.store.retention_days
    assert days is not None
    while True:
        cutoff = runtime.clock.now_ns() - int(days * 86_400 * NS_PER_S)
        dropped = await runtime.query(runtime.store.drop_before, cutoff)
        if dropped:
            log.info("retention: dropped %d samples older than %g days", dropped, days)
        await asyncio.sleep(RETENTION_EVERY_S)


async def serve(settings: Settings, *, ready: asyncio.Event | None = None) -> None:
    """Run the API (and dashboard) over a runtime until interrupted."""
    import uvicorn

    from werk.api.app import create_api

    listener = _bind(settings.api.host, settings.api.port)  # fail before anything starts
    async with open_runtime(settings) as runtime:
        api = create_api(runtime)
        config = uvicorn.Config(
            api,
            host=settings.api.host,
            port=settings.api.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
        server = uvicorn.Server(config)
        if ready is not None:
            asyncio.get_running_loop().call_soon(_signal_when_started, server, ready)
        await server.serve(sockets=[listener])


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
    # without it every keep-alive response waits ~40 ms for a delayed ACK (Nagle).
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {error.strerror}; is another werk running? "
            "choose another port (api.port, WERK_API__PORT or --port)"
        ) from error
    listener.listen(2048)
    listener.set_inheritable(True)
    return listener


def _signal_when_started(server: object, ready: asyncio.Event) -> None:
    async def wait() -> None:
        while not getattr(server, "started", False):
            await asyncio.sleep(0.05)
        ready.set()

    asyncio.get_running_loop().create_task(wait())

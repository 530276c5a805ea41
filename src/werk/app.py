"""The composition root: read settings, open URLs, wire everything, start and stop.

Nothing else in werk opens a URL or reads settings; parts get plain values through constructors.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
import socket
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from werk import __version__
from werk.core import NS_PER_S, Clock, ConfigError, SignalCatalog, WallClock, buses
from werk.runtime import ANALYTICS, API, INGEST, RECORD, ROLES, Partition, Runtime
from werk.settings import Settings
from werk.store.base import open_store
from werk.store.recorder import Recorder
from werk.twin.state import MIN_STALE_S, LiveState, watch_freshness

if TYPE_CHECKING:
    from werk.analytics.alarms.manager import AlarmPolicy
    from werk.analytics.quality import QualityScreen
    from werk.analytics.watchlist import Defaults
    from werk.twin.plant import Plant
    from werk.twin.repository import TwinRepository

log = logging.getLogger(__name__)

RETENTION_EVERY_S = 3600.0


@contextlib.asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    roles: Iterable[str] = ROLES,
    partition: Partition | None = None,
) -> AsyncIterator[Runtime]:
    """Start what ``roles`` ask for over one bus and store; stop it in order.

    Every role (the default) is the embedded single process. Scaled out over ``nats://`` and
    PostgreSQL (docs/scale-out.md): ``{INGEST}`` runs connectors and the data-quality screen;
    ``WORKER`` (``{RECORD, ANALYTICS}``) runs the recorder as a durable consumer group, the twin
    state, freshness and the detectors of ``partition``'s assets (partition 0 also the alarms,
    retention and maintenance); ``{API}`` follows the bus for the twin state and the live feed.

    On exit, producers stop first, then the bus drains and the recorder commits what it received
    before the store closes: nothing acknowledged is lost on a clean shutdown.
    """
    from werk.api.tokens import TokenStore

    roles = frozenset(roles)
    if unknown := roles - ROLES:
        raise ConfigError(f"unknown role(s) {', '.join(sorted(unknown))}; roles: {_names(ROLES)}")
    partition = partition or Partition()
    if roles != ROLES and settings.bus.url.lower().startswith("memory:"):
        raise ConfigError(
            f"the roles {_names(roles)} share their work with other processes over the bus, and "
            f'{settings.bus.url} does not leave this process; set [bus] url = "nats://..."'
        )
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

    asset_of = {s.id: s.asset for s in catalog.values() if s.asset}
    store = await asyncio.to_thread(open_store, settings.store.url)
    bus = buses.open(settings.bus.url)
    state = LiveState(
        await asyncio.to_thread(store.latest),
        expected_intervals={
            s.id: s.expected_interval_s
            for s in catalog.values()
            if s.expected_interval_s
            # a worker watches the freshness of its own partition only: one stale event each
            and (API in roles or partition.owns(asset_of.get(s.id) or s.id))
        },
        min_stale_s=MIN_STALE_S,
    )
    recorder = None
    if RECORD in roles:
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
        asset_of=asset_of,
        roles=roles,
        partition=partition,
    )
    recorder_task = asyncio.create_task(recorder.run(), name="recorder") if recorder else None
    consumers = []
    if roles & {RECORD, ANALYTICS, API}:  # an ingest process does not read the bus's samples
        consumers.append(asyncio.create_task(state.follow(bus), name="twin.state"))
    producers: list[asyncio.Task[None]] = []
    singleton = ANALYTICS in roles and partition.leader  # once in the cluster
    try:  # from here on, a failure (a bad connector or model setting) still stops what started
        if ANALYTICS in roles:
            producers.append(
                asyncio.create_task(
                    watch_freshness(state, clock, runtime.emit, assets=runtime.asset_of),
                    name="twin.freshness",
                )
            )
        if settings.store.retention_days and (RECORD in roles and partition.leader):
            producers.append(asyncio.create_task(_retention(runtime), name="retention"))
        if settings.analytics.enabled and roles & {INGEST, API}:
            # every process that takes samples in screens them (API replicas forward writes)
            runtime.quality = _quality_screen(runtime)
        if INGEST in roles:
            producers += _start_ingest(runtime)
        if settings.analytics.enabled and ANALYTICS in roles:
            producers.append(_start_analytics(runtime))
        if settings.alarms.enabled and singleton:
            producers.append(_start_alarms(runtime))
        elif settings.alarms.enabled and API in roles and ANALYTICS not in roles:
            # an API replica: a copy of worker 0's alarms, actions forwarded to it
            producers.append(_start_alarm_replica(runtime))
        if settings.maintenance.enabled and singleton:
            from werk.maintenance.serving import service_from_settings

            service = await asyncio.to_thread(service_from_settings, settings.maintenance, runtime)
            producers.append(asyncio.create_task(service.run(), name="maintenance"))
        if API in roles:
            producers += _start_planner(runtime)
        if settings.demo and INGEST in roles:  # the virtual plant over OPC UA (+ Sparkplug)
            from werk.sim.virtual import run_virtual_demo

            producers.append(asyncio.create_task(run_virtual_demo(runtime), name="demo"))
        if roles != ROLES:
            log.info("roles: %s; analytics partition %s", _names(roles), partition)
        await asyncio.sleep(0)  # let subscribers subscribe before anyone publishes
        yield runtime
    finally:
        await _stop(producers)
        await bus.close()
        if recorder_task is not None:
            await recorder_task
        await asyncio.gather(*consumers, return_exceptions=True)
        await asyncio.to_thread(store.close)
        if recorder is not None:
            log.info("stopped; %d samples recorded this run", recorder.samples_written)
        else:
            log.info("stopped")


def _names(roles: Iterable[str]) -> str:
    return ", ".join(sorted(roles))


def _start_ingest(runtime: Runtime) -> list[asyncio.Task[None]]:
    """The connectors and the commands they carry out."""
    settings = runtime.settings
    tasks = []
    if settings.connectors:
        from werk.connect.runner import ConnectorSet, ingest_publisher

        runtime.connectors = ConnectorSet.build(
            settings.connectors,
            runtime.plant,
            ingest_publisher(runtime.ingest),
            Path(settings.spool_directory),
        )
        tasks.append(asyncio.create_task(runtime.connectors.run(), name="connectors"))
        tasks.append(
            asyncio.create_task(
                runtime.connectors.follow_commands(runtime.bus, runtime.emit),
                name="connect.commands",
            )
        )
        if not settings.demo and any(c.url.lower().startswith("sim:") for c in settings.connectors):
            from werk.sim.virtual import follow_faults  # the demo follows its own plant's

            tasks.append(asyncio.create_task(follow_faults(runtime.bus), name="sim.faults"))
    return tasks


def _defaults(runtime: Runtime) -> Defaults:
    from werk.analytics.watchlist import Defaults

    config = runtime.settings.analytics
    return Defaults(
        config.detector,
        config.multivariate,
        config.hold_s,
        config.spike_k,
        config.flatline_intervals,
    )


def _quality_screen(runtime: Runtime) -> QualityScreen:
    """The data-quality screen every ingested batch passes (werk.analytics.quality)."""
    from werk.analytics.quality import QualityScreen
    from werk.analytics.watchlist import quality_rules, watched_signals

    signals = watched_signals(runtime.catalog.values(), runtime.plant)
    return QualityScreen(
        quality_rules(signals, _defaults(runtime)),
        clock_skew_s=runtime.settings.analytics.clock_skew_s,
    )


def _start_analytics(runtime: Runtime) -> asyncio.Task[None]:
    """The detectors on the bus (werk.analytics), for the assets of this process's partition."""
    from werk.analytics.service import AnalyticsService
    from werk.analytics.watchlist import build_watchlist, machine_detectors, watched_signals

    defaults = _defaults(runtime)
    signals = [
        w
        for w in watched_signals(runtime.catalog.values(), runtime.plant)
        if runtime.owns(w.signal.id)
    ]
    machines = [
        m for m in machine_detectors(runtime.plant, defaults) if runtime.partition.owns(m[0])
    ]
    watchlist = build_watchlist(signals, defaults, machines)
    runtime.analytics = AnalyticsService(watchlist, runtime.emit)
    return asyncio.create_task(runtime.analytics.run(runtime.bus), name="analytics")


def _alarm_policy(runtime: Runtime) -> AlarmPolicy:
    from werk.analytics.alarms.manager import AlarmPolicy
    from werk.analytics.alarms.model import Priority
    from werk.analytics.alarms.webhooks import Webhook

    config = runtime.settings.alarms
    return AlarmPolicy(
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


def _start_alarms(runtime: Runtime) -> asyncio.Task[None]:
    from werk.analytics.alarms.manager import AlarmManager

    policy = _alarm_policy(runtime)
    runtime.alarms = AlarmManager(runtime.bus, runtime.store, runtime.clock, runtime.emit, policy)
    return asyncio.create_task(runtime.alarms.run(), name="alarms")


def _start_alarm_replica(runtime: Runtime) -> asyncio.Task[None]:
    """An API replica's alarms (werk.analytics.alarms.replica): read from the store, kept current
    from the bus; acknowledge and shelve are forwarded to worker 0's alarm manager."""
    from werk.analytics.alarms.replica import AlarmReplica

    replica = AlarmReplica(
        runtime.bus, runtime.store, runtime.clock, runtime.emit, _alarm_policy(runtime)
    )
    runtime.alarms = replica
    return asyncio.create_task(replica.run(), name="alarms.replica")


def _start_planner(runtime: Runtime) -> list[asyncio.Task[None]]:
    """The planner on the bus (werk.plan.service), listening from the start so that no
    breakdown or maintenance suggestion before the first plan is missed; none without the
    plan package's dependencies."""
    try:
        from werk.plan.service import open_planner
    except ImportError as error:  # pragma: no cover - werk.plan needs nothing beyond werk
        log.info("planner not started: %s", error)
        return []
    service = runtime.planner = open_planner(runtime)  # subscribed now, before anyone publishes

    async def run() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await service.stop()

    return [asyncio.create_task(run(), name="plan")]


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


async def serve(
    settings: Settings,
    *,
    ready: asyncio.Event | None = None,
    roles: Iterable[str] = ROLES,
    partition: Partition | None = None,
) -> None:
    """Run the API (and dashboard) over a runtime of ``roles`` until interrupted.

    Every role serves HTTP (health, status, and writes forwarded to the bus); the live feed
    follows the bus only where ``API`` is among the roles, so an ingest process or a worker does
    not decode every batch once more for WebSocket clients it does not have.
    """
    import uvicorn

    from werk.api.app import create_api

    listener = _bind(settings.api.host, settings.api.port)  # fail before anything starts
    async with open_runtime(settings, roles=roles, partition=partition) as runtime:
        api = create_api(runtime, live_feed=API in runtime.roles)
        settle_heap()
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


def settle_heap() -> None:
    """Collect once, then move what start-up made out of the garbage collector's way.

    Modules, the plant, the twin and the caches live as long as the process. Left in the
    collector's generations, every full collection walks all of them again: about 125 ms each,
    with the event loop stopped, 1.3-1.6 s of every 8 s while an OPC UA connection streamed (py-spy;
    benchmarks/ingest_opcua.py), about a quarter of the CPU per value change. Frozen, they are
    never examined (nor collected: which they would not be anyway). Called by :func:`serve`, for
    the life of a process; a program that opens many runtimes one after another should not.
    """
    gc.collect()
    gc.freeze()


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

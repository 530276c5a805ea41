import asyncio

import numpy as np
import pytest
from basyx.aas import model as aas

from werk.core import NS_PER_S, Context, Event, MemoryBus, SampleBatch, SimulatedClock
from werk.maintenance import AssetBinding, MaintenanceService, as_machine_down, simulate
from werk.maintenance.aas import maintenance_submodel_id, read_state
from werk.maintenance.cmapss import SENSOR_NAMES, SETTING_NAMES
from werk.twin.repository import Kind, TwinRepository

T0 = 1_800_000_000 * NS_PER_S
ASSET = "engine7"


def _binding() -> AssetBinding:
    return AssetBinding(
        ASSET,
        sensors={name: f"{ASSET}.{name}" for name in SENSOR_NAMES},
        settings={name: f"{ASSET}.{name}" for name in SETTING_NAMES},
        cycle_s=1.0,
    )


async def _until(condition, steps: int = 10_000) -> None:
    for _ in range(steps):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the service did not catch up")


@pytest.fixture
def plant(tmp_path):
    repository = TwinRepository(tmp_path / "twin")
    shell = aas.AssetAdministrationShell(
        asset_information=aas.AssetInformation(
            asset_kind=aas.AssetKind.INSTANCE, global_asset_id="urn:example:engine7"
        ),
        id_=f"urn:werk:plant:aas:{ASSET}",
        id_short=ASSET,
    )
    repository.put(shell)
    return repository


async def test_live_rul_events_work_order_twin_and_outcome(trained, plant):
    bus = MemoryBus()
    clock = SimulatedClock(T0)
    published: list[Event] = []

    async def emit(event: Event) -> None:
        published.append(event)
        await bus.publish(f"events.{event.kind}", event, event.context)

    service = MaintenanceService(
        bus, emit, clock, trained, [_binding()], threshold=40.0, twin=plant, plant_id="plant"
    )
    service.start(tick=False)
    run = simulate(1, seed=99, min_life=150, max_life=150)
    seen = 140  # the engine has 10 cycles left
    signals = [f"{ASSET}.{n}" for n in (*SETTING_NAMES, *SENSOR_NAMES)]
    last_context = Context()
    for row in range(seen):
        values = np.r_[run.settings[row], run.sensors[row]]
        timestamp = T0 + row * NS_PER_S + NS_PER_S // 2
        batch = SampleBatch.from_columns(signals, [timestamp] * len(signals), values)
        last_context = Context()
        await bus.publish(f"samples.{ASSET}", batch, last_context)
    # a signal of another asset is ignored
    await bus.publish("samples.other", SampleBatch.of("press1.temperature", [T0], [20.0]))
    await _until(lambda: len(service.runs[ASSET].rows) == seen - 1)
    clock.advance(seen)  # the last cycle has ended

    events = await service.predict_all()
    kinds = [e.kind for e in events]
    assert kinds == ["maintenance.rul", "maintenance.work_order.suggested"]
    rul = events[0]
    assert rul.source == ASSET
    assert rul.context.parent_id == last_context.id  # traceable to the samples behind it
    data = rul.data
    assert data["cycle"] == seen
    assert 0.0 <= data["health_index"] <= 0.5
    assert data["rul_lower"] <= data["rul"] <= data["rul_upper"]
    assert data["rul"] < 40  # 10 cycles really left
    assert data["model_version"] == trained.version

    order = events[1]
    assert order.data["machine"] == ASSET
    assert clock.now_ns() <= order.data["since"] < order.data["until"]
    assert order.data["until"] - order.data["since"] == 4 * 3600 * NS_PER_S
    down = as_machine_down(order, user="planner")
    assert down.kind == "machine.down"
    assert down.data["since"] == order.data["since"]
    assert down.context.parent_id == order.id

    # the Maintenance submodel is in the twin and the shell references it
    submodel_id = maintenance_submodel_id("plant", ASSET)
    state = read_state(plant.require(Kind.SUBMODEL, submodel_id).data)
    assert float(state["RemainingUsefulLife"]) == pytest.approx(data["rul"], abs=1e-3)
    assert float(state["HealthIndex"]) == pytest.approx(data["health_index"], abs=1e-4)
    shell = plant.require(Kind.SHELL, f"urn:werk:plant:aas:{ASSET}").data
    assert [k["value"] for r in shell["submodels"] for k in r["keys"]] == [submodel_id]

    # nothing new, nothing said; one more cycle: a new estimate but no second suggestion
    assert await service.predict_all() == []
    values = np.r_[run.settings[seen], run.sensors[seen]]
    ts = T0 + seen * NS_PER_S + NS_PER_S // 2
    await bus.publish(f"samples.{ASSET}", SampleBatch.from_columns(signals, [ts] * 24, values))
    await _until(lambda: service.runs[ASSET].counts.any())
    clock.advance(1)
    assert [e.kind for e in await service.predict_all()] == ["maintenance.rul"]
    second = published[-1].data
    state = read_state(plant.require(Kind.SUBMODEL, submodel_id).data)
    assert float(state["RemainingUsefulLife"]) == pytest.approx(second["rul"], abs=1e-3)

    # the engine fails 9 cycles later: the last prediction is judged, the run starts again
    clock.advance(9)
    await bus.publish(
        "events.maintenance.failure",
        Event("maintenance.failure", source=ASSET, timestamp=clock.now_ns()),
    )
    await _until(lambda: published[-1].kind == "maintenance.outcome")
    outcome = published[-1].data
    assert outcome["kind"] == "failure"
    assert outcome["actual_rul"] == pytest.approx(9.0)
    assert outcome["error"] == pytest.approx(second["rul"] - 9.0, abs=1e-3)
    assert outcome["verdict"] in {"late", "early", "on-time"}
    assert outcome["record"]["failures_judged"] == 1
    assert service.runs[ASSET].rows == []
    await service.stop()
    await bus.close()


def test_a_binding_must_cover_the_model_sensors(trained):
    from werk.maintenance import MaintenanceError

    partial = AssetBinding(ASSET, sensors={"s1": "x"}, cycle_s=1.0)
    with pytest.raises(MaintenanceError, match="s2"):
        MaintenanceService(MemoryBus(), _noop, SimulatedClock(), trained, [partial])


async def _noop(event: Event) -> None:
    return None


def _feed(service: MaintenanceService, run, rows: range, *, shift: float = 0.0) -> None:
    """Rows of ``run`` as samples, one cycle (1 s) each, straight into the service."""
    signals = [f"{ASSET}.{n}" for n in (*SETTING_NAMES, *SENSOR_NAMES)]
    for row in rows:
        values = np.r_[run.settings[row], run.sensors[row] * (1.0 + shift)]
        stamps = [T0 + row * NS_PER_S] * len(signals)
        service.ingest(SampleBatch.from_columns(signals, stamps, values))


async def test_the_timed_loop_predicts_every_interval_of_the_clock(trained):
    clock = SimulatedClock(T0)
    published: list[Event] = []

    async def emit(event: Event) -> None:
        published.append(event)

    service = MaintenanceService(MemoryBus(), emit, clock, trained, [_binding()], every_s=5.0)
    run = simulate(1, seed=98, min_life=150, max_life=150)
    _feed(service, run, range(60))  # cycles 0..59 (one second each), before the loop starts
    clock.advance(60)
    service.start()  # with the timed loop
    await _until(lambda: len(published) == 1)
    first = published[0]
    assert first.kind == "maintenance.rul" and first.data["cycle"] == 60
    assert first.timestamp == T0 + 65 * NS_PER_S  # the first tick: one interval after start
    ticks_before = clock.now_ns()
    await _until(lambda: clock.now_ns() >= ticks_before + 50 * NS_PER_S)
    assert len(published) == 1  # no new cycle, nothing said, however often the loop ran
    # a new cycle arrives (samples stamped now): the next tick closes it and predicts again
    now_s = (clock.now_ns() - T0) // NS_PER_S
    signals = [f"{ASSET}.{n}" for n in (*SETTING_NAMES, *SENSOR_NAMES)]
    values = np.r_[run.settings[60], run.sensors[60]]
    service.ingest(SampleBatch.from_columns(signals, [clock.now_ns()] * len(signals), values))
    await _until(lambda: len(published) == 2)
    second = published[1]
    assert second.data["cycle"] == 61
    assert (second.timestamp - T0) // NS_PER_S > now_s
    assert (second.timestamp - first.timestamp) % (5 * NS_PER_S) == 0  # on the loop's beat
    await service.stop()


async def test_drift_is_published_when_the_drifted_set_changes(trained):
    published: list[Event] = []

    async def emit(event: Event) -> None:
        published.append(event)

    clock = SimulatedClock(T0)
    service = MaintenanceService(
        MemoryBus(), emit, clock, trained, [_binding()], drift_rows=40, threshold=0.0
    )
    run = simulate(1, seed=97, min_life=150, max_life=150)
    _feed(service, run, range(30))
    clock.advance(30)
    assert [e.kind for e in await service.predict_all()] == ["maintenance.rul"]  # < 40 rows
    _feed(service, run, range(30, 60), shift=0.05)  # every sensor reads 5 % high: drift
    clock.advance(30)
    events = await service.predict_all()
    assert [e.kind for e in events] == ["maintenance.rul", "maintenance.drift"]
    drift = events[1]
    assert drift.source == trained.version or drift.source == "maintenance"
    assert drift.data["rows"] == 40
    assert drift.data["drifted"] and drift.data["worst_psi"] > 0.25
    assert {"feature", "psi"} <= set(drift.data["top"][0])
    assert service.drifted == drift.data["drifted"]
    clock.advance(5)
    assert await service.predict_all() == []  # the same rows, the same set: nothing new to say


def test_service_from_settings_binds_signals_by_name_by_default(trained, tmp_path):
    from types import SimpleNamespace

    from werk.core import ConfigError
    from werk.maintenance import ModelRegistry
    from werk.maintenance.serving import service_from_settings
    from werk.settings import MaintenanceSettings

    ModelRegistry(tmp_path / "rul").save(trained)
    runtime = SimpleNamespace(
        bus=MemoryBus(), emit=_noop, clock=SimulatedClock(T0), twin=None, plant=None
    )
    section = MaintenanceSettings(
        enabled=True,
        model_dir=str(tmp_path / "rul"),
        work_order_threshold_cycles=12,
        assets=[{"asset": "engine7", "sensors": {"s2": "engine7.total_temperature"}}],
    )
    service = service_from_settings(section, runtime)
    run = service.runs["engine7"]
    assert run.binding.sensors["s2"] == "engine7.total_temperature"
    assert run.binding.sensors["s3"] == "engine7.s3"  # not named: <asset>.<sensor>
    assert run.binding.settings["setting1"] == "engine7.setting1"
    assert service.threshold == 12 and service.plant_id == "werk"
    assert service.model.version == "rul/v1"

    wrong = MaintenanceSettings(
        model_dir=section.model_dir, assets=[{"asset": "e", "sensors": {"s99": "x"}}]
    )
    with pytest.raises(ConfigError, match="s99"):
        service_from_settings(wrong, runtime)
    with pytest.raises(ConfigError, match="model_dir"):
        service_from_settings(section.model_copy(update={"model_dir": str(tmp_path)}), runtime)
    with pytest.raises(ConfigError, match="assets"):
        service_from_settings(section.model_copy(update={"assets": []}), runtime)


def test_the_settings_example_in_the_docs_is_valid():
    import re
    import tomllib
    from pathlib import Path

    from werk.settings import Settings

    text = (Path(__file__).parents[2] / "docs" / "maintenance.md").read_text()
    [block] = [b for b in re.findall(r"```toml\n(.*?)```", text, re.S) if "[maintenance]" in b]
    settings = Settings(**tomllib.loads(block))
    assert settings.maintenance.enabled
    [asset] = settings.maintenance.assets
    assert (asset.asset, asset.cycle_s) == ("engine7", 3600)

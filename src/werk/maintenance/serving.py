"""Serving: live health index and remaining useful life per asset, on the bus and in the twin.

The service listens to ``samples.>`` for the signals bound to each asset, averages them over one
model *cycle* (``cycle_s`` seconds: a flight for an engine, an hour or a shift for a press), and
keeps the asset's run: the cycles since it was new or last maintained. Every ``every_s`` seconds
it predicts for each asset with new cycles and publishes:

``maintenance.rul``                   ``source``: the asset. ``data``: ``health_index`` (0..1),
                                      ``rul``, ``rul_lower``, ``rul_upper`` (cycles; the interval
                                      holds ``coverage`` of outcomes), ``rul_s`` and
                                      ``failure_expected_ns`` / ``failure_earliest_ns``,
                                      ``cycle`` (cycles seen in this run), ``model_version``.
``maintenance.work_order.suggested``  when ``rul_lower`` falls below ``threshold`` cycles, once per
                                      run: ``machine`` (the asset), ``since`` and ``until`` (ns),
                                      ``expected_duration``, ``reason``. These are the fields of
                                      the planner's ``machine.down``: accepting the suggestion is
                                      re-publishing it as that (:func:`as_machine_down`), and the
                                      scheduler then plans around the window.
``maintenance.outcome``               after ``maintenance.failure`` or ``maintenance.performed``
                                      for an asset: the last prediction judged (see
                                      :mod:`werk.maintenance.monitoring`); the run starts again.
``maintenance.drift``                 when the set of features whose live distribution drifted
                                      from training (PSI) changes.

Each event's context is a child of the samples' behind it. With a twin repository and a plant
id, every prediction also updates the asset's Maintenance submodel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from werk.core import (
    EVENTS,
    NS_PER_S,
    SAMPLES,
    Bus,
    Clock,
    ConfigError,
    Context,
    Event,
    Quality,
    SampleBatch,
)
from werk.core.drift import DriftReport
from werk.maintenance.aas import MaintenanceState, publish_maintenance
from werk.maintenance.errors import MaintenanceError
from werk.maintenance.histories import FloatArray, Histories
from werk.maintenance.models import SequenceRulModel
from werk.maintenance.monitoring import PredictionMonitor, PredictionRecord
from werk.maintenance.training import TrainedModel

if TYPE_CHECKING:
    from werk.runtime import Runtime
    from werk.settings import MaintenanceSettings
    from werk.twin.repository import TwinRepository

log = logging.getLogger(__name__)

RUL = "maintenance.rul"
WORK_ORDER_SUGGESTED = "maintenance.work_order.suggested"
FAILURE = "maintenance.failure"
PERFORMED = "maintenance.performed"
OUTCOME = "maintenance.outcome"
DRIFT = "maintenance.drift"
MACHINE_DOWN = "machine.down"  # the planner's event (werk.plan.service); named, not imported
MAX_CYCLES = 10_000
DEFAULT_PLANT_ID = "werk"
"""The plant part of AAS ids (``urn:werk:<plant>:sm:<asset>:Maintenance``) without a plant file."""

Emit = Callable[[Event], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class AssetBinding:
    """Which signals feed the model for one asset, and how long one model cycle is."""

    asset: str
    sensors: Mapping[str, str]
    """Model sensor name -> werk signal id."""
    settings: Mapping[str, str] = field(default_factory=dict)
    """Model setting name -> signal id; settings not bound read as 0."""
    cycle_s: float = 3600.0


class _Run:
    """One asset's cycles since its last start, built from samples averaged per cycle."""

    def __init__(self, binding: AssetBinding, sensors: tuple[str, ...], settings: tuple[str, ...]):
        self.binding = binding
        self.cycle_ns = round(binding.cycle_s * NS_PER_S)
        self.columns: dict[str, int] = {}
        for j, name in enumerate(settings):
            if name in binding.settings:
                self.columns[binding.settings[name]] = j
        for j, name in enumerate(sensors):
            self.columns[binding.sensors[name]] = len(settings) + j
        self.width = len(settings) + len(sensors)
        self.bound = np.asarray([name in binding.settings for name in settings], bool)
        self.reset()

    def reset(self) -> None:
        self.rows: list[FloatArray] = []
        self.bucket: int | None = None
        self.sums = np.zeros(self.width)
        self.counts = np.zeros(self.width)
        self.predicted_rows = 0
        self.suggested = False
        self.context: Context | None = None

    def add(self, column: int, timestamps: np.ndarray, values: np.ndarray) -> None:
        buckets = timestamps // self.cycle_ns
        for bucket in np.unique(buckets):  # usually one or two per batch
            bucket = int(bucket)
            if self.bucket is not None and bucket < self.bucket:
                continue  # late samples of a closed cycle are not worth reopening it
            if self.bucket is not None and bucket > self.bucket:
                self.close()
            self.bucket = bucket
            chosen = values[(buckets == bucket) & np.isfinite(values)]
            self.sums[column] += float(chosen.sum())
            self.counts[column] += len(chosen)

    def close(self) -> None:
        if self.counts.any():
            with np.errstate(invalid="ignore", divide="ignore"):
                row = self.sums / self.counts
            settings_width = len(self.bound)
            row[:settings_width][~self.bound] = 0.0
            self.rows.append(row)
            if len(self.rows) > MAX_CYCLES:
                del self.rows[MAX_CYCLES // 10 : MAX_CYCLES // 5]  # keep the start (its baseline)
        self.sums = np.zeros(self.width)
        self.counts = np.zeros(self.width)

    def histories(self, settings: tuple[str, ...], sensors: tuple[str, ...]) -> Histories:
        table = np.vstack(self.rows)
        n = len(table)
        settings_part = table[:, : len(settings)]
        for row in range(1, n):  # a setting not reported in a cycle stayed as it was
            gaps = np.isnan(settings_part[row])
            settings_part[row, gaps] = settings_part[row - 1, gaps]
        np.nan_to_num(settings_part, copy=False, nan=0.0)
        return Histories(
            run=np.zeros(n, np.int64),
            cycle=np.arange(1, n + 1, dtype=np.float64),
            settings=table[:, : len(settings)],
            sensors=table[:, len(settings) :],
            setting_names=settings,
            sensor_names=sensors,
        )


class MaintenanceService:
    def __init__(
        self,
        bus: Bus,
        emit: Emit,
        clock: Clock,
        model: TrainedModel,
        bindings: list[AssetBinding],
        *,
        every_s: float = 60.0,
        threshold: float = 30.0,
        maintenance_s: float = 4 * 3600.0,
        twin: TwinRepository | None = None,
        plant_id: str = "",
        monitor: PredictionMonitor | None = None,
        drift_rows: int = 200,
    ) -> None:
        self.bus = bus
        self.emit = emit
        self.clock = clock
        self.model = model
        self.every_s = every_s
        self.threshold = threshold
        self.maintenance_s = maintenance_s
        self.twin = twin
        self.plant_id = plant_id
        self.monitor = monitor or PredictionMonitor()
        self.drift_rows = drift_rows
        self.drifted: list[str] = []
        self.sensors = model.pipeline.sensor_names
        self.settings = tuple(model.metadata["data"].get("settings", ()))
        self.runs: dict[str, _Run] = {}
        self._by_signal: dict[str, list[tuple[_Run, int]]] = {}
        for binding in bindings:
            missing = [s for s in self.sensors if s not in binding.sensors]
            if missing:
                raise MaintenanceError(
                    f"asset {binding.asset}: the model needs sensors {missing} bound to signals"
                )
            run = _Run(binding, self.sensors, self.settings)
            self.runs[binding.asset] = run
            for signal, column in run.columns.items():
                self._by_signal.setdefault(signal, []).append((run, column))
        self._live_features: list[FloatArray] = []
        self._tasks: list[asyncio.Task[None]] = []

    # -- samples -------------------------------------------------------------------------------

    def ingest(self, batch: SampleBatch, context: Context | None = None) -> None:
        """Fold a batch into the runs of the assets whose signals it carries."""
        for code, name in enumerate(batch.names):
            targets = self._by_signal.get(name)
            if not targets:
                continue
            rows = batch.index == code
            good = rows & (batch.quality <= Quality.UNCERTAIN)  # BAD and STALE say nothing
            timestamps, values = batch.timestamps[good], batch.values[good]
            for run, column in targets:
                run.add(column, timestamps, values)
                if context is not None:
                    run.context = context

    def close_cycles(self, now_ns: int) -> None:
        """Close every cycle that has ended by ``now_ns`` (no later sample needed)."""
        for run in self.runs.values():
            if run.bucket is not None and now_ns // run.cycle_ns > run.bucket:
                run.close()
                run.bucket = now_ns // run.cycle_ns

    # -- predictions ---------------------------------------------------------------------------

    async def predict_all(self) -> list[Event]:
        """Predict for every asset with new cycles; publish and return the events."""
        now = self.clock.now_ns()
        self.close_cycles(now)
        published: list[Event] = []
        for asset, run in self.runs.items():
            if len(run.rows) <= run.predicted_rows:
                continue
            published += await self._predict(asset, run, now)
        published += await self._check_drift()
        return published

    async def _predict(self, asset: str, run: _Run, now: int) -> list[Event]:
        histories = run.histories(self.settings, self.sensors)
        features = self.model.pipeline.transform(histories)  # drift is watched on these
        new_rows = features[run.predicted_rows :]
        self._live_features.append(new_rows)
        model = self.model.model
        if isinstance(model, SequenceRulModel):  # reads windows of sensors, not feature rows
            last = np.asarray([len(histories) - 1])
            prediction = model.predict_histories(self.model.pipeline, histories, last)
        else:
            prediction = model.predict(features[-1:])
        run.predicted_rows = len(run.rows)
        rul, lower, upper = (
            float(prediction.rul[0]),
            float(prediction.lower[0]),
            float(prediction.upper[0]),
        )
        cycle_ns = run.cycle_ns
        parent = run.context or Context()
        data = {
            "asset": asset,
            "health_index": round(float(self.model.health_index(np.asarray([rul]))[0]), 4),
            "rul": round(rul, 3),
            "rul_lower": round(lower, 3),
            "rul_upper": round(upper, 3),
            "coverage": self.model.model.coverage,
            "rul_unit": "cycle",
            "cycle_s": run.binding.cycle_s,
            "rul_s": round(rul * run.binding.cycle_s, 3),
            "failure_expected_ns": now + round(rul * cycle_ns),
            "failure_earliest_ns": now + round(lower * cycle_ns),
            "cycle": len(run.rows),
            "model_version": self.model.version,
        }
        event = Event(RUL, source=asset, data=data, context=parent.child(), timestamp=now)
        self.monitor.observe(PredictionRecord.from_event_data(asset, now, data, event.id))
        await self.emit(event)
        events = [event]
        if lower < self.threshold and not run.suggested:
            run.suggested = True
            suggestion = self._work_order(asset, event)
            await self.emit(suggestion)
            events.append(suggestion)
        if self.twin is not None:
            state = MaintenanceState.from_event_data(data, now)
            await asyncio.to_thread(publish_maintenance, self.twin, self.plant_id, asset, state)
        return events

    def _work_order(self, asset: str, prediction: Event) -> Event:
        data = prediction.data
        now = prediction.timestamp
        duration_ns = round(self.maintenance_s * NS_PER_S)
        # The window ends when the pessimistic failure time comes: maintain before it, not later.
        since = max(now, int(data["failure_earliest_ns"]) - duration_ns)
        return Event(
            WORK_ORDER_SUGGESTED,
            source=asset,
            data={
                "machine": asset,
                "since": since,
                "until": since + duration_ns,
                "expected_duration": f"{self.maintenance_s:g}s",
                "reason": (
                    f"predictive maintenance: remaining life {data['rul']:g} cycles, at worst "
                    f"{data['rul_lower']:g} (threshold {self.threshold:g})"
                ),
                "rul": data["rul"],
                "rul_lower": data["rul_lower"],
                "health_index": data["health_index"],
                "model_version": data["model_version"],
                "prediction_id": prediction.id,
            },
            context=prediction.context.child(),
            timestamp=now,
        )

    async def _check_drift(self) -> list[Event]:
        reference = self.model.reference
        if reference is None or not self._live_features:
            return []
        live = np.vstack(self._live_features)[-self.drift_rows :]
        self._live_features = [live]
        if len(live) < self.drift_rows:
            return []
        report: DriftReport = reference.report(live)
        if report.drifted == self.drifted:
            return []
        self.drifted = report.drifted
        event = Event(
            DRIFT,
            source=self.model.version or "maintenance",
            data=report.to_dict(),
            timestamp=self.clock.now_ns(),
        )
        await self.emit(event)
        return [event]

    # -- outcomes ------------------------------------------------------------------------------

    async def handle_outcome(self, event: Event) -> Event | None:
        """A failure or maintenance of an asset: judge the last prediction, start a new run."""
        asset = str(event.data.get("asset") or event.source)
        run = self.runs.get(asset)
        if run is None:
            return None
        kind = "failure" if event.kind == FAILURE else "maintenance"
        outcome = self.monitor.record(asset, kind, event.timestamp)
        run.reset()
        judged = Event(
            OUTCOME,
            source=asset,
            data={**outcome.to_dict(), "record": self.monitor.summary()},
            context=event.context.child(),
            timestamp=event.timestamp,
        )
        await self.emit(judged)
        return judged

    # -- running -------------------------------------------------------------------------------

    def start(self, *, tick: bool = True) -> None:
        """Listen, and predict every ``every_s`` unless ``tick`` is false (then call
        ``predict_all`` yourself: tests on a simulated clock do), until ``stop``. Idempotent."""
        if self._tasks:
            return
        samples = self.bus.subscribe(f"{SAMPLES}.>", name="maintenance.samples")
        outcomes = [
            self.bus.subscribe(f"{EVENTS}.{kind}", name=f"maintenance.{kind}")
            for kind in (FAILURE, PERFORMED)
        ]
        self._tasks = [
            asyncio.create_task(self._follow_samples(samples), name="maintenance.samples"),
            *(asyncio.create_task(self._follow_outcomes(s)) for s in outcomes),
        ]
        if tick:
            self._tasks.append(asyncio.create_task(self._tick(), name="maintenance.predict"))

    async def run(self) -> None:
        """Start and serve until cancelled, then stop: the composition root's producer task."""
        self.start()
        try:
            await asyncio.gather(*self._tasks)
        finally:
            await self.stop()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _follow_samples(self, subscription: Any) -> None:
        async with subscription:
            async for message in subscription:
                if isinstance(message.payload, SampleBatch):
                    self.ingest(message.payload, message.context)

    async def _follow_outcomes(self, subscription: Any) -> None:
        async with subscription:
            async for message in subscription:
                payload = message.payload
                event = payload if isinstance(payload, Event) else Event.from_dict(payload)
                try:
                    await self.handle_outcome(event)
                except Exception:  # one bad event must not stop the service
                    log.exception("maintenance: failed on %s %s", event.kind, event.id)

    async def _tick(self) -> None:
        while True:
            await self.clock.sleep(self.every_s)
            try:
                await self.predict_all()
            except Exception:  # a failed round is logged; the next one tries again
                log.exception("maintenance: prediction round failed")


def service_from_settings(section: MaintenanceSettings, runtime: Runtime) -> MaintenanceService:
    """The service the ``[maintenance]`` settings describe, over the runtime's bus, clock and
    twin (blocking: it loads the model). A model sensor or setting an asset does not name reads
    the signal ``<asset>.<name>``."""
    from werk.maintenance.errors import ModelNotFound
    from werk.maintenance.registry import load_model

    if not section.assets:
        raise ConfigError("maintenance.assets: name the assets to predict for")
    try:
        model = load_model(Path(section.model_dir))
    except ModelNotFound as error:
        raise ConfigError(f"maintenance.model_dir: {error}") from error
    sensors = model.pipeline.sensor_names
    settings = tuple(model.metadata["data"].get("settings", ()))
    bindings = []
    for i, asset in enumerate(section.assets):
        for part, names in (("sensors", sensors), ("settings", settings)):
            unknown = sorted(set(getattr(asset, part)) - set(names))
            if unknown:
                raise ConfigError(
                    f"maintenance.assets.{i}.{part}: {', '.join(unknown)} not among the model's "
                    f"{part} ({', '.join(names) or 'none'})"
                )
        bindings.append(
            AssetBinding(
                asset.asset,
                sensors={n: asset.sensors.get(n, f"{asset.asset}.{n}") for n in sensors},
                settings={n: asset.settings.get(n, f"{asset.asset}.{n}") for n in settings},
                cycle_s=asset.cycle_s,
            )
        )
    return MaintenanceService(
        runtime.bus,
        runtime.emit,
        runtime.clock,
        model,
        bindings,
        every_s=section.interval_s,
        threshold=section.work_order_threshold_cycles,
        maintenance_s=section.work_order_duration_s,
        twin=runtime.twin,
        plant_id=runtime.plant.id if runtime.plant is not None else DEFAULT_PLANT_ID,
        monitor=PredictionMonitor(tolerance=section.tolerance_cycles),
        drift_rows=section.drift_rows,
    )


def as_machine_down(suggestion: Event, *, user: str | None = None) -> Event:
    """Accept a work-order suggestion: the planner's ``machine.down`` for its window."""
    data = suggestion.data
    return Event(
        MACHINE_DOWN,
        source=str(data["machine"]),
        data={
            "machine": data["machine"],
            "since": data["since"],
            "until": data["until"],
            "reason": data.get("reason", "planned maintenance"),
        },
        context=suggestion.context.child(user=user),
    )

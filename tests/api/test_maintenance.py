"""Predictive maintenance wired into werk: settings -> open_runtime -> service -> store, twin, API.

A model is trained here on generated degradation data, saved, and named in the settings; an
engine's history arrives through ``runtime.ingest`` like any connector's samples.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from werk.api.tokens import Role
from werk.core import NS_PER_S, Event, SampleBatch
from werk.maintenance import GbmParams, ModelConfig, ModelRegistry, simulate, simulate_subset, train
from werk.maintenance.aas import maintenance_submodel_id, read_state
from werk.maintenance.cmapss import SENSOR_NAMES, SETTING_NAMES
from werk.runtime import Runtime
from werk.settings import Settings
from werk.twin.repository import Kind

from .conftest import Api, api_client

ASSET = "engine7"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    subset = simulate_subset(12, 2, seed=3)
    config = ModelConfig(gbm=GbmParams(rounds=40, seeds=1), validation_fraction=0.25)
    root = tmp_path_factory.mktemp("models") / "engine"
    ModelRegistry(root).save(train(subset.train, config))
    return root


def _settings(tmp_path: Path, model_dir: Path) -> Settings:
    return Settings(
        store={"url": "memory://"},
        twin={"directory": str(tmp_path / "twin")},
        api={"tokens_file": str(tmp_path / "tokens.json"), "anonymous_read": False},
        recorder={"max_delay_ms": 5},
        maintenance={
            "enabled": True,
            "model_dir": str(model_dir),
            "interval_s": 0.02,
            "work_order_threshold_cycles": 40,
            "assets": [{"asset": ASSET, "cycle_s": 1.0}],  # signals engine7.s1, ... by default
        },
    )


async def _stored(runtime: Runtime, kind: str, check: Callable[[list[Event]], bool]) -> list[Event]:
    for _ in range(500):
        found = runtime.store.events(0, runtime.clock.now_ns() + NS_PER_S, kind=kind)
        if check(found):
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {kind} events in the store")


async def test_samples_in_estimates_out_on_the_bus_in_the_twin_and_the_api(
    tmp_path: Path, model_dir: Path
) -> None:
    async with api_client(_settings(tmp_path, model_dir)) as parts:
        api = Api(*parts)
        runtime = api.runtime
        run = simulate(1, seed=99, min_life=150, max_life=150)
        seen = 140  # 10 cycles (seconds) left
        start = (runtime.clock.now_ns() // NS_PER_S - 200) * NS_PER_S
        signals = [f"{ASSET}.{n}" for n in (*SETTING_NAMES, *SENSOR_NAMES)]
        rows = np.repeat(np.arange(seen), len(signals))
        batch = SampleBatch.from_columns(
            np.tile(signals, seen),
            start + rows * NS_PER_S + NS_PER_S // 2,
            np.hstack([run.settings[:seen], run.sensors[:seen]]).ravel(),
        )
        await runtime.ingest(batch, source=ASSET)

        estimates = await _stored(runtime, "maintenance.rul", bool)
        estimate = estimates[0]
        assert estimate.source == ASSET
        assert estimate.data["cycle"] == seen
        assert estimate.data["rul_lower"] <= estimate.data["rul"] <= estimate.data["rul_upper"]
        assert estimate.data["rul_lower"] < 40  # the threshold: a work order is suggested
        assert estimate.data["model_version"] == "engine/v1"
        suggestions = await _stored(runtime, "maintenance.work_order.suggested", bool)
        assert suggestions[0].data["machine"] == ASSET

        twin = runtime.twin
        assert twin is not None
        submodel_id = maintenance_submodel_id("werk", ASSET)  # no plant file: plant id "werk"
        for _ in range(500):  # the twin is written after the event is published
            if (submodel := twin.get(Kind.SUBMODEL, submodel_id)) is not None:
                break
            await asyncio.sleep(0.02)
        assert submodel is not None
        state = read_state(submodel.data)
        assert float(state["RemainingUsefulLife"]) == pytest.approx(estimate.data["rul"])
        assert state["ModelVersion"] == "engine/v1"

        assert (await api.client.get("/api/v1/maintenance")).status_code == 401
        answer = await _maintenance(api)
        assert answer["enabled"] is True
        [asset] = answer["assets"]
        assert asset["asset"] == ASSET
        assert asset["rul"] == estimate.data["rul"]
        assert asset["health_index"] == estimate.data["health_index"]
        assert asset["failure_earliest"].endswith("Z")
        [order] = answer["work_orders"]
        assert order["machine"] == ASSET and order["since_ns"] < order["until_ns"]
        assert answer["monitoring"]["outcomes"] == 0
        assert answer["drift"] == []

        # the engine fails: the last estimate is judged, the suggestion is no longer open
        failure = Event("maintenance.failure", ASSET, timestamp=runtime.clock.now_ns())
        await runtime.emit(failure)
        [outcome] = await _stored(runtime, "maintenance.outcome", bool)
        assert outcome.data["kind"] == "failure"
        assert outcome.context.parent_id == failure.context.id
        answer = await _maintenance(api)
        assert answer["work_orders"] == []
        monitoring = answer["monitoring"]
        assert monitoring["failures_judged"] == 1
        assert sum(monitoring["verdicts"].values()) == 1
        assert set(monitoring["verdicts"]) <= {"late", "early", "on-time"}
        assert monitoring["by_model_version"]["engine/v1"]["failures_judged"] == 1
        assert monitoring["recent"][0]["asset"] == ASSET


async def test_disabled_answers_with_nothing(api: Api) -> None:
    answer = await _maintenance(api)
    assert answer["enabled"] is False
    assert answer["assets"] == answer["work_orders"] == answer["drift"] == []


async def test_a_bad_window_is_a_422(api: Api) -> None:
    response = await api.client.get(
        "/api/v1/maintenance", params={"start": "now", "end": "1h"}, headers=api.auth(Role.viewer)
    )
    assert response.status_code == 422


async def _maintenance(api: Api) -> dict[str, Any]:
    response = await api.client.get("/api/v1/maintenance", headers=api.auth(Role.viewer))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer

"""The composition root wires the parts: retention, freshness, demo feed, clean shutdown."""

import asyncio
import time
from pathlib import Path

import numpy as np

from werk.app import open_runtime
from werk.core import NS_PER_S, SampleBatch
from werk.settings import Settings
from werk.store.duckdb import DuckDBStore

DAY = 86_400 * NS_PER_S


def settings_for(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "store": {"url": f"duckdb:///{tmp_path}/werk.duckdb"},
        "api": {"tokens_file": str(tmp_path / "tokens.json")},
        "twin": {"directory": str(tmp_path / "twin")},
    }
    return Settings.model_validate(values | overrides)


async def test_retention_drops_old_history_at_start(tmp_path: Path) -> None:
    now = time.time_ns()
    store = DuckDBStore.from_url(f"duckdb:///{tmp_path}/werk.duckdb")
    store.write(SampleBatch.of("a", [now - 10 * DAY, now - DAY // 2], [1.0, 2.0]))
    store.close()
    settings = settings_for(tmp_path, store={"url": f"duckdb:///{tmp_path}/werk.duckdb",
                                              "retention_days": 1})  # fmt: skip
    async with open_runtime(settings) as runtime:
        for _ in range(50):
            if runtime.store.count("a") == 1:
                break
            await asyncio.sleep(0.02)
        assert runtime.store.read("a", 0, now + 1).values.tolist() == [2.0]


async def test_demo_feed_records_and_shutdown_commits_everything(tmp_path: Path) -> None:
    async with open_runtime(settings_for(tmp_path, demo=True)) as runtime:
        await asyncio.sleep(0.8)
        live = runtime.state.get()
        assert set(live) == set(runtime.catalog)  # the feed and the demo plant agree
        assert len(live) == 18
        # Starting the virtual plant's OPC UA server holds the event loop for a moment (asyncua
        # builds its address space): signals may lag then, and must be fresh again soon after.
        deadline = time.monotonic() + 15
        while runtime.state.stale(time.time_ns()):
            assert time.monotonic() < deadline, runtime.state.stale(time.time_ns())
            await asyncio.sleep(0.1)
        assert runtime.plant is not None and runtime.plant.id == "demo"
    store = DuckDBStore.from_url(f"duckdb:///{tmp_path}/werk.duckdb")
    try:
        counts = [store.count(s) for s in live]
        assert min(counts) >= 5 and len(set(counts)) == 1  # every signal alike, none lost
        temps = store.read("press1.temperature", 0, 2**62).values
        assert 20 < float(np.mean(temps)) < 70
    finally:
        store.close()


async def test_plant_file_feeds_catalog_and_twin(tmp_path: Path) -> None:
    from werk.twin.repository import Kind

    plant = Path(__file__).parents[1] / "examples" / "plant.toml"
    settings = settings_for(tmp_path, plant=str(plant), twin={"directory": str(tmp_path / "twin")})
    async with open_runtime(settings) as runtime:
        assert runtime.plant is not None and runtime.twin is not None
        assert "press1.temperature" in runtime.catalog
        shells = runtime.twin.list(Kind.SHELL)
        assert len(shells) == len(runtime.plant.assets)
        version = runtime.twin.version
        assert version > 0
    async with open_runtime(settings) as runtime:  # same plant again: nothing rewritten
        assert runtime.twin is not None and len(runtime.twin.list(Kind.SHELL)) == len(shells)
        assert runtime.twin.version == version  # loaded from disk, no plant write on top

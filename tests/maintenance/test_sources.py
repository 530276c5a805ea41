"""Training histories from werk's store: signals averaged per cycle, runs cut by events."""

import numpy as np
import pytest

from werk.core import NS_PER_S, Event, SampleBatch
from werk.maintenance import DatasetError
from werk.maintenance.sources import histories_from_store
from werk.store.memory import MemoryStore

T0 = 1_800_000_000 * NS_PER_S
HOUR = 3600 * NS_PER_S
SENSORS = {"temperature": "press1.temperature", "vibration": "press1.vibration"}
SETTINGS = {"load": "press1.load"}


def _record(store: MemoryStore, hours: int) -> None:
    """Four samples an hour of each signal; hour ``h`` reads h (temperature), 2h (vibration)."""
    stamps, names, values = [], [], []
    for hour in range(hours):
        for quarter in range(4):
            at = T0 + hour * HOUR + quarter * HOUR // 4
            jitter = (quarter - 1.5) * 0.1  # averages out over the hour
            for name, value in (
                ("press1.temperature", hour + jitter),
                ("press1.vibration", 2.0 * hour),
                ("press1.load", 50.0),
                ("press2.temperature", -1.0),  # another asset: not read
            ):
                stamps.append(at)
                names.append(name)
                values.append(value)
    store.write(SampleBatch.from_columns(names, stamps, values))


def _mark(store: MemoryStore, kind: str, hour: float, source: str = "press1") -> None:
    store.append_events([Event(kind, source, timestamp=T0 + round(hour * HOUR))])


def _histories(store: MemoryStore):
    return histories_from_store(
        store,
        asset="press1",
        sensors=SENSORS,
        settings=SETTINGS,
        start=T0,
        end=T0 + 100 * HOUR,
        cycle_s=3600.0,
    )


def test_runs_are_cut_by_failures_and_maintained_runs_left_out():
    store = MemoryStore()
    _record(store, 30)
    _mark(store, "maintenance.failure", 10)  # hours 0-9: run 1, to failure
    _mark(store, "maintenance.performed", 18)  # hours 10-17: maintained, life unknown: left out
    _mark(store, "maintenance.failure", 25)  # hours 18-24: run 3, to failure
    _mark(store, "maintenance.failure", 12, source="press2")  # another asset's: ignored
    # hours 25-29: the current run, not ended: not training data
    histories = _histories(store)

    assert list(histories.runs) == [1, 3]
    assert len(histories) == 10 + 7
    assert histories.sensor_names == ("temperature", "vibration")
    assert histories.setting_names == ("load",)
    first, third = histories.select([1]), histories.select([3])
    np.testing.assert_array_equal(first.cycle, np.arange(1, 11))
    np.testing.assert_array_equal(third.cycle, np.arange(1, 8))  # cycles count from each start
    np.testing.assert_allclose(first.sensors[:, 0], np.arange(10))  # the hour's mean
    np.testing.assert_allclose(third.sensors[:, 1], 2.0 * np.arange(18, 25))
    np.testing.assert_allclose(histories.settings, 50.0)
    # the remaining life counts down to each failure
    np.testing.assert_array_equal(first.remaining_life(), np.arange(9, -1, -1))


def test_a_missing_signal_in_a_cycle_stays_missing():
    store = MemoryStore()
    _record(store, 6)
    store.write(SampleBatch.of("press1.pressure", [T0 + 3 * HOUR], [7.0]))
    _mark(store, "maintenance.failure", 6)
    histories = histories_from_store(
        store,
        asset="press1",
        sensors={**SENSORS, "pressure": "press1.pressure"},
        start=T0,
        end=T0 + 10 * HOUR,
        cycle_s=3600.0,
    )
    pressure = histories.sensors[:, 2]
    assert pressure[3] == 7.0
    assert np.isnan(pressure[[0, 1, 2, 4, 5]]).all()  # the pipeline carries readings forward
    assert histories.settings.shape == (6, 0)


def test_no_failure_recorded_is_a_clear_error():
    store = MemoryStore()
    _record(store, 5)
    _mark(store, "maintenance.performed", 3)
    with pytest.raises(DatasetError, match=r"maintenance\.failure") as raised:
        _histories(store)
    assert raised.value.rule == "runs-to-failure"


def test_no_samples_is_a_clear_error():
    with pytest.raises(DatasetError) as raised:
        _histories(MemoryStore())
    assert raised.value.rule == "has-samples"


def test_a_training_job_reads_the_store(tmp_path):
    from werk.maintenance.config import job_from_dict
    from werk.store.duckdb import DuckDBStore

    url = f"duckdb:///{tmp_path}/werk.duckdb"
    store = DuckDBStore.from_url(url)
    try:
        _record(store, 12)
        _mark(store, "maintenance.failure", 12)
    finally:
        store.close()
    job = job_from_dict(
        {
            "data": {
                "format": "store",
                "url": url,
                "asset": "press1",
                "cycle": "1h",
                "start": "2027-01-15T00:00:00Z",
                "end": "2027-01-16T00:00:00Z",
                "sensors": SENSORS,
                "settings": SETTINGS,
            }
        }
    )
    histories = job.load_histories()
    assert list(histories.runs) == [1] and len(histories) == 12
    assert job.describe_source()["asset"] == "press1"
    assert "sensors" not in job.describe_source()

"""Where run-to-failure histories come from: C-MAPSS-format files, or werk's own store.

**Files**: a directory with ``train_<subset>.txt`` (and, for evaluation, ``test_`` and ``RUL_``),
or one file, in C-MAPSS's format (:mod:`werk.maintenance.cmapss`).

**Store**: the asset's bound signals, averaged per cycle of ``cycle_s`` seconds (the store's
rollup), cut into runs by the events recorded for the asset: ``maintenance.failure`` ends a run
to failure, ``maintenance.performed`` ends a run that did not fail (left out of training: its
remaining life is unknown). Those events are what an operator or a CMMS records, and what the
serving side's monitoring reads too, so one record feeds both.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from werk.core import NS_PER_S
from werk.maintenance.cmapss import read_histories
from werk.maintenance.errors import DatasetError
from werk.maintenance.histories import Histories

if TYPE_CHECKING:
    from werk.store.base import TimeSeriesStore


FAILURE = "maintenance.failure"
PERFORMED = "maintenance.performed"


def histories_from_files(path: Path, subset: str = "FD001") -> Histories:
    """Training histories from a C-MAPSS file or a directory holding ``train_<subset>.txt``."""
    path = Path(path)
    if path.is_dir():
        path = path / f"train_{subset.upper()}.txt"
    if not path.is_file():
        raise DatasetError(f"{path} not found", field="data.path", rule="exists")
    return read_histories(path)


def histories_from_store(
    store: TimeSeriesStore,
    *,
    asset: str,
    sensors: Mapping[str, str],
    settings: Mapping[str, str] | None = None,
    start: int,
    end: int,
    cycle_s: float,
) -> Histories:
    """The asset's runs to failure between ``start`` and ``end`` (ns), one row per cycle."""
    settings = dict(settings or {})
    columns = [*settings.values(), *sensors.values()]
    bucket = round(cycle_s * NS_PER_S)
    rollup = store.rollup(columns, start, end, bucket)
    if not len(rollup):
        raise DatasetError(
            f"no samples of {asset}'s signals in the store between those times",
            field="data.signals",
            rule="has-samples",
        )
    buckets = np.unique(rollup.bucket)
    table = np.full((len(buckets), len(columns)), np.nan)
    position = {name: columns.index(name) for name in rollup.names if name in columns}
    codes = np.asarray([position.get(name, -1) for name in rollup.names])
    rows = np.searchsorted(buckets, rollup.bucket)
    cols = codes[rollup.index]
    known = cols >= 0
    table[rows[known], cols[known]] = rollup.mean[known]
    markers = store.events(start, end, kind="maintenance", source=asset, limit=100_000)
    ends = sorted((e.timestamp, e.kind) for e in markers if e.kind in {FAILURE, PERFORMED})
    run = np.full(len(buckets), -1, np.int64)
    previous = start
    for number, (at, kind) in enumerate(ends, start=1):
        inside = (buckets >= previous) & (buckets < at)
        if kind == FAILURE:
            run[inside] = number
        previous = at
    keep = run >= 0
    if not keep.any():
        raise DatasetError(
            f"no run to failure of {asset}: record {FAILURE} events for it",
            field="data.asset",
            rule="runs-to-failure",
        )
    table, run = table[keep], run[keep]
    cycle = np.empty(len(run))
    for number in np.unique(run):
        where = run == number
        cycle[where] = np.arange(1, int(where.sum()) + 1)
    n_settings = len(settings)
    return Histories(
        run=run,
        cycle=cycle,
        settings=np.nan_to_num(table[:, :n_settings], nan=0.0),
        sensors=table[:, n_settings:],
        setting_names=tuple(settings),
        sensor_names=tuple(sensors),
    )

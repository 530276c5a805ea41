"""NASA's C-MAPSS turbofan data set: the reader and the standard evaluation protocol.

Files ``train_FD00x.txt``, ``test_FD00x.txt`` and ``RUL_FD00x.txt``: 26 whitespace-separated
columns (NASA's copy uses spaces, some copies tabs; both are read), unit, cycle, 3 operational
settings, 21 sensors. Training engines run to failure; test engines are cut some time before,
and ``RUL_FD00x.txt`` gives the true remaining cycles of each at its last row.

The protocol of the literature (Saxena et al. 2008; Babu 2016, Zheng 2017, Li 2018): train on a
remaining-useful-life target capped at 125 cycles, predict at the last cycle of each test engine,
report the RMSE and the PHM08 score against the true RUL capped the same way.

Download: NASA Prognostics Data Repository,
https://www.nasa.gov/intelligent-systems-division/discovery-and-systems-health/pcoe/pcoe-data-set-repository/
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from werk.maintenance.errors import DatasetError
from werk.maintenance.histories import FloatArray, Histories

SUBSETS = ("FD001", "FD002", "FD003", "FD004")
SETTING_NAMES = ("setting1", "setting2", "setting3")
SENSOR_NAMES = tuple(f"s{i}" for i in range(1, 22))
RUL_CAP = 125.0
_COLUMNS = 2 + len(SETTING_NAMES) + len(SENSOR_NAMES)


@dataclass(frozen=True, slots=True, eq=False)
class Subset:
    """One C-MAPSS subset: training runs to failure, test runs cut short, their true RUL."""

    name: str
    train: Histories
    test: Histories
    test_rul: FloatArray
    """True remaining cycles at the last row of each test run, in the order of the runs."""


def read_histories(path: Path) -> Histories:
    """One C-MAPSS file (train or test) as histories; tabs or spaces both work."""
    try:
        table = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except OSError as error:
        raise DatasetError(
            f"cannot read {path}: {error}", field=str(path), rule="readable"
        ) from error
    except ValueError as error:
        raise DatasetError(
            f"{path} is not C-MAPSS text (26 numeric columns): {error}",
            field=str(path),
            rule="cmapss-columns",
        ) from error
    if table.shape[1] != _COLUMNS:
        raise DatasetError(
            f"{path} has {table.shape[1]} columns, C-MAPSS has {_COLUMNS} "
            "(unit, cycle, 3 settings, 21 sensors)",
            field=str(path),
            rule="cmapss-columns",
        )
    order = np.lexsort((table[:, 1], table[:, 0]))  # grouped by unit, cycles ascending
    table = table[order]
    return Histories(
        run=table[:, 0].astype(np.int64),
        cycle=table[:, 1].copy(),
        settings=table[:, 2:5].copy(),
        sensors=table[:, 5:].copy(),
        setting_names=SETTING_NAMES,
        sensor_names=SENSOR_NAMES,
    )


def read_rul(path: Path) -> FloatArray:
    try:
        values = np.loadtxt(path, dtype=np.float64, ndmin=1)
    except (OSError, ValueError) as error:
        raise DatasetError(
            f"cannot read {path}: {error}", field=str(path), rule="rul-file"
        ) from error
    return values.reshape(-1)


def load_subset(directory: Path, subset: str = "FD001") -> Subset:
    """Read ``train_``, ``test_`` and ``RUL_<subset>.txt`` from ``directory``."""
    name = subset.upper()
    directory = Path(directory)
    paths = {part: directory / f"{part}_{name}.txt" for part in ("train", "test", "RUL")}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise DatasetError(
            f"C-MAPSS {name} not found: {', '.join(missing)} (download it from NASA's "
            "Prognostics Data Repository, see docs/maintenance.md)",
            field="data",
            rule="cmapss-files",
        )
    train = read_histories(paths["train"])
    test = read_histories(paths["test"])
    rul = read_rul(paths["RUL"])
    if len(rul) != len(test.runs):
        raise DatasetError(
            f"{paths['RUL']} has {len(rul)} values for {len(test.runs)} test engines",
            field=str(paths["RUL"]),
            rule="one-rul-per-engine",
        )
    return Subset(name, train, test, rul)


def write_histories(path: Path, histories: Histories) -> None:
    """Write histories as a C-MAPSS file (space-separated, as NASA's), e.g. for tests."""
    if histories.settings.shape[1] != len(SETTING_NAMES) or histories.sensors.shape[1] != len(
        SENSOR_NAMES
    ):
        raise DatasetError(
            "C-MAPSS files have 3 settings and 21 sensors", field="columns", rule="cmapss-columns"
        )
    table = np.column_stack(
        [histories.run, histories.cycle, histories.settings, histories.sensors]
    ).astype(np.float64)
    formats = ["%d", "%d"] + ["%.6g"] * (table.shape[1] - 2)
    np.savetxt(path, table, fmt=formats, delimiter=" ")


def rmse(predicted: npt.ArrayLike, true: npt.ArrayLike) -> float:
    d = np.asarray(predicted, np.float64) - np.asarray(true, np.float64)
    return float(math.sqrt(np.mean(d * d))) if d.size else float("nan")


def phm08_score(predicted: npt.ArrayLike, true: npt.ArrayLike) -> float:
    """The PHM08 challenge score: late predictions (d > 0) cost more than early ones."""
    d = np.asarray(predicted, np.float64) - np.asarray(true, np.float64)
    return float(np.sum(np.where(d < 0, np.expm1(-d / 13.0), np.expm1(d / 10.0))))

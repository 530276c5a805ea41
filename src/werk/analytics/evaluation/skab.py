"""The Skoltech Anomaly Benchmark (SKAB): its files and the outlier-detection protocol.

SKAB (https://github.com/waico/SKAB) records a water-pump testbed with 8 sensors at 1 Hz; each
experiment file holds one anomaly (a valve closed, a rotor imbalanced, ...), labelled per row in
the column ``anomaly``. Its outlier-detection protocol, as its notebooks run it:

* per file, fit the detector on the **leading anomaly-free part (the first 400 rows)**;
* predict every row of the file (the fitting rows included);
* concatenate all files' labels and predictions and score them as **binary classification**:
  F1, false-alarm rate ``FAR = FP / (FP + TN)`` and missed-alarm rate ``MAR = FN / (FN + TP)``
  (the leaderboard gives the rates in %).

Nothing here looks at the labels except :func:`binary_scores`: thresholds come from the fitting
rows alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from werk.core import ConfigError

DOWNLOAD = "https://github.com/waico/SKAB (data/valve1/*.csv)"
FIT_ROWS = 400
LABELS = ("anomaly", "changepoint")

PUBLISHED: dict[str, tuple[float, float | None, float | None]] = {
    "Conv-AE": (0.78, 13.6, 28.0),
    "MSET": (0.78, None, None),
    "T²+Q (PCA)": (0.76, None, None),
    "LSTM-AE": (0.74, None, None),
    "Isolation forest": (0.29, None, None),
}
"""SKAB leaderboard, outlier detection: F1, FAR %, MAR % (all SKAB subsets, not only valve1)."""


@dataclass(frozen=True, slots=True)
class SkabFile:
    """One experiment: its signals (rows × columns) and the per-row outlier label."""

    name: str
    columns: tuple[str, ...]
    values: npt.NDArray[np.float64]
    anomaly: npt.NDArray[np.bool_]


def files(path: Path) -> list[Path]:
    """The experiment CSVs under ``path`` (a folder of them, e.g. SKAB's ``data/valve1``), in
    numeric order. A SKAB checkout's root or its ``data`` folder means ``valve1``."""
    base = Path(path)
    for candidate in (base, base / "valve1", base / "data" / "valve1"):
        found = sorted(candidate.glob("*.csv"), key=_numeric_order) if candidate.is_dir() else []
        if found:
            return found
    raise ConfigError(f"no SKAB experiment files (*.csv) in {base}; download from {DOWNLOAD}")


def _numeric_order(path: Path) -> tuple[int, str]:
    return (int(path.stem), "") if path.stem.isdigit() else (1 << 30, path.stem)


def load(path: Path) -> SkabFile:
    """Read one SKAB CSV: ``;``-separated, a ``datetime`` index, signals, ``anomaly``."""
    import pandas as pd

    frame = pd.read_csv(path, sep=";", index_col="datetime")
    if "anomaly" not in frame.columns:
        raise ConfigError(f"{path} is not a SKAB file: it has no 'anomaly' column")
    signals = frame.drop(columns=[c for c in LABELS if c in frame.columns])
    return SkabFile(
        name=Path(path).name,
        columns=tuple(str(c) for c in signals.columns),
        values=signals.to_numpy(np.float64),
        anomaly=frame["anomaly"].to_numpy() > 0.5,
    )


def load_all(path: Path) -> Iterator[SkabFile]:
    """Every experiment under ``path``, one at a time."""
    for csv in files(path):
        yield load(csv)


@dataclass(frozen=True, slots=True)
class BinaryScores:
    """Outlier detection as binary classification over every row."""

    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def f1(self) -> float:
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else 0.0

    @property
    def far(self) -> float:
        """False-alarm rate, %: FP / (FP + TN)."""
        negatives = self.fp + self.tn
        return 100.0 * self.fp / negatives if negatives else 0.0

    @property
    def mar(self) -> float:
        """Missed-alarm rate, %: FN / (FN + TP)."""
        positives = self.fn + self.tp
        return 100.0 * self.fn / positives if positives else 0.0


def binary_scores(truth: npt.ArrayLike, predicted: npt.ArrayLike) -> BinaryScores:
    """Count the confusion matrix of two boolean arrays of the same length."""
    actual = np.asarray(truth, dtype=bool)
    alarm = np.asarray(predicted, dtype=bool)
    if actual.shape != alarm.shape:
        raise ValueError(f"{actual.shape[0]} labels but {alarm.shape[0]} predictions")
    return BinaryScores(
        tp=int((actual & alarm).sum()),
        fp=int((~actual & alarm).sum()),
        tn=int((~actual & ~alarm).sum()),
        fn=int((actual & ~alarm).sum()),
    )


def evaluate(
    experiments: list[SkabFile],
    predict: Callable[[npt.NDArray[np.float64], npt.NDArray[np.float64]], npt.NDArray[np.bool_]],
    *,
    fit_rows: int = FIT_ROWS,
    progress: Callable[[int], None] | None = None,
) -> BinaryScores:
    """Fit and predict each experiment (``predict(fitting_rows, all_rows) -> alarm per row``),
    then score all rows of all experiments together."""
    truth = []
    alarms = []
    for number, experiment in enumerate(experiments):
        predicted = np.asarray(predict(experiment.values[:fit_rows], experiment.values), bool)
        if predicted.shape != experiment.anomaly.shape:
            raise ValueError(f"{experiment.name}: {predicted.shape[0]} predictions")
        truth.append(experiment.anomaly)
        alarms.append(predicted)
        if progress is not None:
            progress(number + 1)
    return binary_scores(np.concatenate(truth), np.concatenate(alarms))

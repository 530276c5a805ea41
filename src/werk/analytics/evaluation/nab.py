"""The Numenta Anomaly Benchmark (NAB): its data files, label windows and scoring.

NAB rewards a detector for finding each labelled anomaly *early* and charges it for every false
alarm. The scoring here follows numenta/NAB v1.1 (``nab/sweeper.py`` and ``config/profiles.json``),
re-implemented from its description:

* Each anomaly is a **window** of rows (10 % of the file, split over its anomalies, centred on the
  labelled instant). A detection inside a window is a true positive worth
  ``A_tp · σ(-5·p) / σ_max`` with ``σ(y) = 2/(1+e^-y) - 1`` and ``p = -(right - i + 1) / width`` the
  position relative to the window's right edge: 1.0 at the left edge, falling to 0 at the right.
  Only the **best (earliest) detection in a window counts**; later ones in it cost nothing.
* A window without a detection is a false negative: ``-A_fn``.
* Every detection **outside** the windows is a false positive. Before the first window it costs the
  full ``A_fp``; after a window it costs ``A_fp · σ(-5·p)`` with ``p = |i - previous right| /
  (previous width - 1)`` (>= 3 counts as -1), so an alarm just after a window is forgiven a little.
* The first 15 % of the file (at most 750 rows) is **probationary**: a detector may learn there and
  nothing it says there is scored.
* Three **profiles** weigh the outcomes (``PROFILES``); the raw score is normalised so that the
  null detector (never alarms) scores 0 and the perfect one (each window at its left edge)
  scores 100: ``100 · (raw - null) / (perfect - null)``.

NAB's leaderboard normalises over its whole 58-file corpus. Over a single file the same formula
with that file's null and perfect scores gives a per-file figure (``normalised``), which is what
:data:`PUBLISHED_MACHINE_TEMPERATURE` records for the leading open detectors, computed from the
per-file raw scores in numenta/NAB's ``results/<detector>/<detector>_standard_scores.csv``.

A *detection* is a row where the detector reports an anomaly. werk's alarms are conditions with a
raised and a cleared transition, so :func:`werk.analytics.evaluation.nab.evaluate` counts the row
where an alarm is **raised** as the detection — what an operator is told.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from werk.core import ConfigError

DOWNLOAD = "https://github.com/numenta/NAB (data/ and labels/combined_windows.json)"
MACHINE_TEMPERATURE = "realKnownCause/machine_temperature_system_failure.csv"


@dataclass(frozen=True, slots=True)
class CostMatrix:
    """How much a true positive earns and a false positive or a missed window costs."""

    tp: float
    fp: float
    fn: float


PROFILES: dict[str, CostMatrix] = {
    "standard": CostMatrix(tp=1.0, fp=0.11, fn=1.0),
    "reward_low_FP_rate": CostMatrix(tp=1.0, fp=0.22, fn=1.0),
    "reward_low_FN_rate": CostMatrix(tp=1.0, fp=0.11, fn=2.0),
}

PUBLISHED_CORPUS: dict[str, float] = {
    "ARTime": 74.9,
    "Numenta HTM": 70.1,
    "contextOSE": 69.9,
    "HTM Java": 65.5,
    "KNN-CAD": 58.0,
}
"""NAB v1.1 scoreboard, standard profile, normalised over the whole corpus (58 files)."""

PUBLISHED_MACHINE_TEMPERATURE: dict[str, float] = {
    "ARTime": 2.5563,
    "Numenta HTM": 1.3601,
    "contextOSE": -0.1650,
    "HTM Java": 0.5081,
    "KNN-CAD": -2.8564,
}
"""Raw standard-profile scores on machine_temperature_system_failure.csv, from the per-file rows
of numenta/NAB ``results/<detector>/<detector>_standard_scores.csv`` (the versions whose totals
give the scoreboard figures above). Normalised for this file (null -4, perfect 4): ARTime 82.0,
Numenta HTM 67.0, HTM Java 56.4, contextOSE 47.9, KNN-CAD 14.3."""


def _scaled_sigmoid(position: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """NAB's reward curve: ~0.987 at -1 (left edge), 0 at 0 (right edge), -1 from 3 on."""
    value = 2.0 / (1.0 + np.exp(5.0 * position)) - 1.0
    return np.where(position >= 3.0, -1.0, value)


_MAX_TP = float(2.0 / (1.0 + math.exp(-5.0)) - 1.0)


def probationary_length(rows: int, percent: float = 0.15) -> int:
    """Rows at the start of a file that are not scored: 15 %, at most 750 (NAB's rule)."""
    return int(min(math.floor(percent * rows), math.floor(percent * 5000)))


@dataclass(frozen=True, slots=True)
class NabScore:
    """The outcome of one file under one profile."""

    raw: float
    null: float
    perfect: float
    tp: int  # scored detections inside windows (rows, as NAB counts them)
    fp: int  # scored detections outside windows
    windows_found: int
    windows: int

    @property
    def normalised(self) -> float:
        """100 · (raw - null) / (perfect - null): 0 for the null detector, 100 for the perfect."""
        if self.perfect == self.null:
            return 0.0
        return 100.0 * (self.raw - self.null) / (self.perfect - self.null)


def score(
    detections: npt.ArrayLike,
    windows: Sequence[tuple[int, int]],
    profile: str | CostMatrix = "standard",
    *,
    probation: int | None = None,
) -> NabScore:
    """Score boolean ``detections`` (one per row) against ``windows`` (first, last row, inclusive).

    ``probation`` defaults to NAB's rule for the file's length. Windows must be sorted and apart.
    """
    cost = PROFILES[profile] if isinstance(profile, str) else profile
    hits = np.asarray(detections, dtype=bool)
    rows = len(hits)
    skip = probationary_length(rows) if probation is None else probation
    row = np.arange(rows)
    weight = np.empty(rows)
    window_of = np.full(rows, -1)
    previous_right: int | None = None
    previous_width = 0
    start = 0
    for number, (first, last) in enumerate(windows):
        if not 0 <= first <= last < rows:
            raise ValueError(f"window {number} ({first}, {last}) is outside 0..{rows - 1}")
        weight[start:first] = _outside(row[start:first], previous_right, previous_width, cost)
        width = last - first + 1
        inside = row[first : last + 1]
        weight[first : last + 1] = _scaled_sigmoid(-(last - inside + 1) / width) * cost.tp / _MAX_TP
        window_of[first : last + 1] = number
        previous_right, previous_width, start = last, width, last + 1
    weight[start:] = _outside(row[start:], previous_right, previous_width, cost)

    scored = row >= skip
    found = 0
    counted = 0
    raw = 0.0
    for number in range(len(windows)):
        members = scored & (window_of == number)
        if not members.any():
            continue  # a window wholly inside the probationary period is not scored
        counted += 1
        detected = members & hits
        if detected.any():
            found += 1
            raw += float(weight[detected].max())
        else:
            raw -= cost.fn
    false_alarms = scored & hits & (window_of < 0)
    raw += float(weight[false_alarms].sum())
    return NabScore(
        raw=raw,
        null=-cost.fn * counted,
        perfect=cost.tp * counted,
        tp=int((scored & hits & (window_of >= 0)).sum()),
        fp=int(false_alarms.sum()),
        windows_found=found,
        windows=counted,
    )


def _outside(
    rows: npt.NDArray[np.int64], previous_right: int | None, previous_width: int, cost: CostMatrix
) -> npt.NDArray[np.float64]:
    if previous_right is None:
        return np.full(len(rows), -cost.fp)
    position = np.abs(previous_right - rows) / max(previous_width - 1, 1)
    return _scaled_sigmoid(position) * cost.fp


@dataclass(frozen=True, slots=True)
class NabFile:
    """One NAB data file with its label windows as row ranges."""

    name: str
    timestamps: npt.NDArray[np.datetime64]
    values: npt.NDArray[np.float64]
    windows: list[tuple[int, int]]


def load(path: Path, name: str = MACHINE_TEMPERATURE) -> NabFile:
    """Read a NAB file and its windows from ``path``: a directory holding the CSV and
    ``label_windows.json`` (or NAB's ``combined_windows.json``), or NAB's own checkout."""
    import pandas as pd

    base = Path(path)
    csv = _first(base, [Path(name).name, f"data/{name}", name])
    labels = _first(
        base,
        [
            "label_windows.json",
            "combined_windows.json",
            "labels/combined_windows.json",
        ],
    )
    if csv is None or labels is None:
        raise ConfigError(
            f"no NAB data in {base}: expected {Path(name).name} and label_windows.json; "
            f"download from {DOWNLOAD}"
        )
    frame = pd.read_csv(csv)
    if not {"timestamp", "value"} <= set(frame.columns):
        raise ConfigError(f"{csv} is not a NAB file: it needs the columns timestamp and value")
    timestamps = pd.to_datetime(frame["timestamp"]).to_numpy(dtype="datetime64[ns]")
    with open(labels) as handle:
        table: dict[str, Any] = json.load(handle)
    key = next((k for k in table if Path(k).name == Path(name).name), None)
    if key is None:
        raise ConfigError(f"{labels} has no windows for {Path(name).name}")
    windows = []
    for start, end in table[key]:
        first = int(np.searchsorted(timestamps, np.datetime64(pd.Timestamp(start)), "left"))
        last = int(np.searchsorted(timestamps, np.datetime64(pd.Timestamp(end)), "right")) - 1
        windows.append((first, last))
    return NabFile(Path(name).name, timestamps, frame["value"].to_numpy(np.float64), windows)


def _first(base: Path, candidates: list[str]) -> Path | None:
    for candidate in candidates:
        if (base / candidate).is_file():
            return base / candidate
    return None


def evaluate(
    data: NabFile,
    alarms: Callable[[npt.NDArray[np.float64]], npt.NDArray[np.bool_]],
) -> dict[str, NabScore]:
    """Run ``alarms`` (values -> alarm active per row) and score the raised rows per profile."""
    active = np.asarray(alarms(data.values), dtype=bool)
    raised = active & ~np.concatenate(([False], active[:-1]))
    return {name: score(raised, data.windows, name) for name in PROFILES}

"""Is the model helping? Predictions against what really happened, and input drift.

**Outcomes.** When a failure or a maintenance action is recorded for an asset, the prediction
made for it most recently (and every earlier one of the same run, if kept) is compared with the
truth. A *failure* at time ``T`` tells the true remaining life at every earlier prediction:
``(T - t) / cycle``. The error is ``predicted - true``: positive means *late* (the model promised
more life than there was: the costly mistake, the one PHM08 penalises more), negative *early*.
A *maintenance action* without failure only says the asset lived at least that long (a censored
observation): a prediction of failure before ``T`` was early by at least the difference; one
after ``T`` cannot be judged and is counted as censored.

**Drift.** The population stability index (PSI) of each feature, live against training:
``sum((live - train) * ln(live / train))`` over the training deciles. By the usual rule of thumb
below 0.1 is stable, 0.1 to 0.25 a moderate shift, above 0.25 a shift to act on.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from werk.core import NS_PER_S
from werk.maintenance.histories import FloatArray

PSI_MODERATE = 0.1
PSI_SIGNIFICANT = 0.25
_BINS = 10
_FLOOR = 1e-4  # an empty bin would make the logarithm infinite


# -- drift ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class DriftReference:
    """Per feature: inner decile edges of the training data and the share of rows in each bin."""

    names: tuple[str, ...]
    edges: tuple[tuple[float, ...], ...]
    shares: tuple[tuple[float, ...], ...]

    @classmethod
    def fit(cls, features: FloatArray, names: Iterable[str]) -> DriftReference:
        names = tuple(names)
        edges: list[tuple[float, ...]] = []
        shares: list[tuple[float, ...]] = []
        for column in np.asarray(features, np.float64).T:
            finite = column[np.isfinite(column)]
            inner = np.unique(np.quantile(finite, np.linspace(0, 1, _BINS + 1)[1:-1]))
            counts = _bin_counts(inner, finite)
            edges.append(tuple(float(e) for e in inner))
            shares.append(tuple(float(c) / max(1, len(finite)) for c in counts))
        return cls(names, tuple(edges), tuple(shares))

    def psi(self, features: FloatArray) -> dict[str, float]:
        """PSI of every feature of ``features`` (rows of live data) against training."""
        live = np.asarray(features, np.float64)
        out: dict[str, float] = {}
        for j, name in enumerate(self.names):
            column = live[:, j]
            column = column[np.isfinite(column)]
            if not len(column):
                continue
            inner = np.asarray(self.edges[j])
            counts = _bin_counts(inner, column)
            actual = np.maximum(counts / len(column), _FLOOR)
            expected = np.maximum(np.asarray(self.shares[j]), _FLOOR)
            out[name] = float(np.sum((actual - expected) * np.log(actual / expected)))
        return out

    def report(self, features: FloatArray, *, top: int = 10) -> DriftReport:
        values = self.psi(features)
        return DriftReport(values, rows=len(features), top=top)

    def to_dict(self) -> dict[str, Any]:
        return {
            "names": list(self.names),
            "edges": [list(e) for e in self.edges],
            "shares": [list(s) for s in self.shares],
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DriftReference:
        return cls(
            tuple(raw["names"]),
            tuple(tuple(float(v) for v in e) for e in raw["edges"]),
            tuple(tuple(float(v) for v in s) for s in raw["shares"]),
        )


def _bin_counts(inner_edges: FloatArray, values: FloatArray) -> FloatArray:
    bins = np.searchsorted(inner_edges, values, side="right")
    return np.bincount(bins, minlength=len(inner_edges) + 1).astype(np.float64)


@dataclass(frozen=True, slots=True)
class DriftReport:
    psi: dict[str, float]
    rows: int
    top: int = 10

    @property
    def drifted(self) -> list[str]:
        """Features past the significant threshold, worst first."""
        return [n for n, v in self.ranked() if v > PSI_SIGNIFICANT]

    @property
    def moderate(self) -> list[str]:
        return [n for n, v in self.ranked() if PSI_MODERATE < v <= PSI_SIGNIFICANT]

    @property
    def worst(self) -> float:
        return max(self.psi.values(), default=0.0)

    def ranked(self) -> list[tuple[str, float]]:
        return sorted(self.psi.items(), key=lambda item: item[1], reverse=True)

    def flag(self, name: str) -> str:
        value = self.psi.get(name, 0.0)
        if value > PSI_SIGNIFICANT:
            return "drift"
        return "moderate" if value > PSI_MODERATE else "stable"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "worst_psi": round(self.worst, 4),
            "drifted": self.drifted,
            "moderate": self.moderate,
            "top": [{"feature": n, "psi": round(v, 4)} for n, v in self.ranked()[: self.top]],
        }


# -- outcomes ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PredictionRecord:
    """What the model said about an asset at ``timestamp`` (remaining life in cycles)."""

    asset: str
    timestamp: int
    rul: float
    lower: float
    upper: float
    cycle_s: float
    model_version: str = ""
    event_id: str = ""

    @property
    def predicted_failure_ns(self) -> int:
        return self.timestamp + round(self.rul * self.cycle_s * NS_PER_S)

    @classmethod
    def from_event_data(
        cls, asset: str, timestamp: int, data: dict[str, Any], event_id: str = ""
    ) -> PredictionRecord:
        return cls(
            asset=asset,
            timestamp=timestamp,
            rul=float(data["rul"]),
            lower=float(data["rul_lower"]),
            upper=float(data["rul_upper"]),
            cycle_s=float(data.get("cycle_s", 1.0)),
            model_version=str(data.get("model_version", "")),
            event_id=event_id,
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """A recorded failure or maintenance compared with the last prediction before it."""

    asset: str
    kind: str
    """``failure`` or ``maintenance``."""
    timestamp: int
    predicted_rul: float | None
    actual_rul: float | None
    """True remaining life at the prediction (failure), or a lower bound on it (maintenance)."""
    error: float | None
    """predicted - actual in cycles (positive: late); ``None`` when it cannot be judged."""
    verdict: str
    """``late``, ``early``, ``on-time`` (within tolerance), ``censored`` or ``no-prediction``."""
    inside_interval: bool | None
    model_version: str = ""
    prediction_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Outcome:
        """From ``to_dict`` (e.g. a stored ``maintenance.outcome`` event's data; extra keys are
        ignored)."""
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in raw.items() if k in known})


@dataclass
class PredictionMonitor:
    """Keeps recent predictions per asset, judges them when the truth comes, tracks the record.

    ``tolerance`` (cycles): an error within it is ``on-time``.
    """

    tolerance: float = 5.0
    keep: int = 1_000
    outcomes: list[Outcome] = field(default_factory=list)
    _predictions: dict[str, deque[PredictionRecord]] = field(default_factory=dict)

    def observe(self, record: PredictionRecord) -> None:
        kept = self._predictions.setdefault(record.asset, deque(maxlen=self.keep))
        kept.append(record)

    def last_prediction(self, asset: str) -> PredictionRecord | None:
        kept = self._predictions.get(asset)
        return kept[-1] if kept else None

    def record(self, asset: str, kind: str, timestamp: int) -> Outcome:
        """A failure (``kind="failure"``) or maintenance action at ``timestamp``; the run ends."""
        if kind not in {"failure", "maintenance"}:
            raise ValueError(f"outcome kind {kind!r}: failure or maintenance")
        kept = self._predictions.pop(asset, deque())
        before = [p for p in kept if p.timestamp <= timestamp]
        if not before:
            outcome = Outcome(asset, kind, timestamp, None, None, None, "no-prediction", None)
        else:
            outcome = self._judge(before[-1], kind, timestamp)
        self.outcomes.append(outcome)
        return outcome

    def _judge(self, last: PredictionRecord, kind: str, timestamp: int) -> Outcome:
        lived = (timestamp - last.timestamp) / (last.cycle_s * NS_PER_S)
        if kind == "failure":
            error: float | None = last.rul - lived
            inside: bool | None = last.lower <= lived <= last.upper
            assert error is not None
            verdict = (
                "on-time" if abs(error) <= self.tolerance else ("late" if error > 0 else "early")
            )
        elif last.rul < lived - self.tolerance:
            error, inside, verdict = last.rul - lived, None, "early"  # outlived the prediction
        else:
            error, inside, verdict = None, None, "censored"
        return Outcome(
            last.asset,
            kind,
            timestamp,
            round(last.rul, 3),
            round(lived, 3),
            None if error is None else round(error, 3),
            verdict,
            inside,
            last.model_version,
            last.event_id,
        )

    def summary(self) -> dict[str, Any]:
        """The record so far: counts per verdict, RMSE and mean error over failures, coverage."""
        failures = [o for o in self.outcomes if o.kind == "failure" and o.error is not None]
        errors = np.asarray([o.error for o in failures], np.float64)
        verdicts: dict[str, int] = {}
        for outcome in self.outcomes:
            verdicts[outcome.verdict] = verdicts.get(outcome.verdict, 0) + 1
        judged = [o.inside_interval for o in failures if o.inside_interval is not None]
        return {
            "outcomes": len(self.outcomes),
            "failures_judged": len(failures),
            "verdicts": verdicts,
            "rmse": round(math.sqrt(float(np.mean(errors**2))), 3) if len(errors) else None,
            "mean_error": round(float(np.mean(errors)), 3) if len(errors) else None,
            "interval_coverage": round(sum(judged) / len(judged), 3) if judged else None,
        }

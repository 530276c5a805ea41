"""Is the model helping? Predictions against what really happened, and input drift.

**Outcomes.** When a failure or a maintenance action is recorded for an asset, the prediction
made for it most recently (and every earlier one of the same run, if kept) is compared with the
truth. A *failure* at time ``T`` tells the true remaining life at every earlier prediction:
``(T - t) / cycle``. The error is ``predicted - true``: positive means *late* (the model promised
more life than there was: the costly mistake, the one PHM08 penalises more), negative *early*.
A *maintenance action* without failure only says the asset lived at least that long (a censored
observation): a prediction of failure before ``T`` was early by at least the difference; one
after ``T`` cannot be judged and is counted as censored.

**Drift** of the inputs, live against training, is :mod:`werk.core.drift` (PSI per feature).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from werk.core import NS_PER_S

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

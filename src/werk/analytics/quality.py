"""Data quality: is each sample plausible, and is each signal fresh and believable?

The screen runs on every batch on its way in (``Runtime.ingest``), so the history keeps what it
found: a sample outside its signal's range is stored ``BAD``; a spike, a flatline or a timestamp
from the future is stored ``UNCERTAIN``. Nothing is dropped — the quality says what to trust.
Which rule fired is told as condition events (``quality.raised`` / ``quality.cleared``, one per
transition, see :mod:`werk.core.condition`) and counted per signal.

Rules, per signal (the plant file can tune or switch off each, :mod:`werk.analytics.config`):

=============== ========= =========================================================================
rule            quality   fires when
=============== ========= =========================================================================
out-of-range    BAD       the value is outside the signal's minimum..maximum
spike           UNCERTAIN the step from the previous sample exceeds ``spike_k`` times the signal's
                          usual step (an exponentially weighted mean of ``|Δ|``, learnt after 20
                          steps); the step back after a spike is not counted again. A lasting
                          level shift (a jump) fires once.
flatline        UNCERTAIN the value has not changed for ``flatline_s`` (a frozen sensor or a stuck
                          gateway repeating its last value)
clock-skew      UNCERTAIN the timestamp is more than ``clock_skew_s`` ahead of this machine's clock
gap             (kept)    more than ``gap_factor`` expected intervals passed since the previous
                          sample (missing intervals are counted)
not-finite      BAD       the value is NaN or infinite (kept, so the gap shows in the history)
=============== ========= =========================================================================

Staleness (a signal that stopped reporting) is time-driven, not sample-driven: it is watched by
:func:`werk.twin.state.watch_freshness`, which raises the ``stale`` condition.

A rule stays raised while it keeps firing and clears after ``hold_s`` of samples without it, so
one noisy signal gives one condition, not one per sample. Samples are taken in arrival order per
signal; an out-of-order sample (an older timestamp, e.g. a store-and-forward replay) is counted
and not used for the step statistics.

Vectorised over the batch: ~0.2 µs a value (``benchmarks/analytics_throughput.py``); the only
per-signal Python is a dictionary lookup per name per batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from werk.core import NS_PER_S, Quality, SampleBatch
from werk.core.condition import Condition, describe

RULES = ("out-of-range", "spike", "flatline", "clock-skew", "gap", "not-finite")
_QUALITY = np.array(
    [Quality.BAD, Quality.UNCERTAIN, Quality.UNCERTAIN, Quality.UNCERTAIN, 0, Quality.BAD]
)
_OUT_OF_RANGE, _SPIKE, _FLATLINE, _SKEW, _GAP, _NOT_FINITE = range(len(RULES))
_NO_TIME = np.iinfo(np.int64).min
_WARM_STEPS = 20
_STEP_ALPHA = 0.02  # weight of one step in the usual-step average (~50-step memory)


@dataclass(frozen=True, slots=True)
class QualityRules:
    """The data-quality rules of one signal. ``None`` switches a rule off."""

    minimum: float = -np.inf
    maximum: float = np.inf
    expected_interval_s: float | None = None
    spike_k: float | None = 8.0
    flatline_s: float | None = None
    gap_factor: float | None = 3.0
    hold_s: float = 10.0


@dataclass(frozen=True, slots=True)
class Transition:
    """A rule of a signal started or stopped firing."""

    signal: str
    rule: str
    raised: bool
    at: int
    value: float
    samples: int  # how many samples of this batch the rule flagged


@dataclass(frozen=True, slots=True)
class Screened:
    batch: SampleBatch
    transitions: list[Transition]
    flagged: int  # samples whose quality the screen lowered


class QualityScreen:
    """Flags implausible samples and tracks, per signal, which rules are raised."""

    def __init__(
        self,
        rules: Mapping[str, QualityRules] | None = None,
        *,
        default: QualityRules | None = None,
        clock_skew_s: float = 5.0,
    ) -> None:
        self._rules = dict(rules or {})
        self._default = default or QualityRules()
        self.clock_skew_ns = int(clock_skew_s * NS_PER_S)
        self._slots: dict[str, int] = {}
        self.signals: list[str] = []
        size = 0
        # rule parameters, one entry a signal
        self._min = np.empty(size)
        self._max = np.empty(size)
        self._spike_k = np.empty(size)
        self._flat_ns = np.empty(size, np.int64)
        self._gap_ns = np.empty(size, np.int64)
        self._hold_ns = np.empty(size, np.int64)
        # state
        self._last_t = np.empty(size, np.int64)
        self._last_v = np.empty(size)
        self._flat_since = np.empty(size, np.int64)
        self._step = np.empty(size)
        self._steps = np.empty(size, np.int64)
        self._fired_at = np.empty((size, len(RULES)), np.int64)
        self._active = np.empty((size, len(RULES)), bool)
        self.counts = np.empty((size, len(RULES)), np.int64)
        self.missing = np.empty(size, np.int64)
        self.out_of_order = np.empty(size, np.int64)

    # -- signals ---------------------------------------------------------------------------------

    def _slot(self, name: str) -> int:
        slot = self._slots.get(name)
        if slot is None:
            slot = self._slots[name] = len(self.signals)
            self.signals.append(name)
            self._grow(self._rules.get(name, self._default))
        return slot

    def _grow(self, rules: QualityRules) -> None:
        def add(array: npt.NDArray[Any], value: Any) -> npt.NDArray[Any]:
            return np.concatenate([array, np.asarray([value], dtype=array.dtype)])

        interval = rules.expected_interval_s
        self._min = add(self._min, rules.minimum)
        self._max = add(self._max, rules.maximum)
        self._spike_k = add(self._spike_k, np.nan if rules.spike_k is None else rules.spike_k)
        self._flat_ns = add(self._flat_ns, int((rules.flatline_s or 0) * NS_PER_S))
        gap = rules.gap_factor * interval if rules.gap_factor and interval else 0.0
        self._gap_ns = add(self._gap_ns, int(gap * NS_PER_S))
        self._hold_ns = add(self._hold_ns, int(rules.hold_s * NS_PER_S))
        self._last_t = add(self._last_t, _NO_TIME)
        self._last_v = add(self._last_v, np.nan)
        self._flat_since = add(self._flat_since, _NO_TIME)
        self._step = add(self._step, 0.0)
        self._steps = add(self._steps, 0)
        row = len(RULES)
        self._fired_at = np.vstack([self._fired_at, np.full((1, row), _NO_TIME, np.int64)])
        self._active = np.vstack([self._active, np.zeros((1, row), bool)])
        self.counts = np.vstack([self.counts, np.zeros((1, row), np.int64)])
        self.missing = add(self.missing, 0)
        self.out_of_order = add(self.out_of_order, 0)

    # -- the screen ------------------------------------------------------------------------------

    def screen(self, batch: SampleBatch, now_ns: int) -> Screened:
        """Flag ``batch``'s samples; return it with lowered qualities and the rule transitions."""
        n = len(batch)
        if not n:
            return Screened(batch, [], 0)
        codes = np.fromiter((self._slot(name) for name in batch.names), np.int64, len(batch.names))
        slot_of = codes[batch.index]
        order = np.argsort(slot_of, kind="stable")
        s = slot_of[order]
        t = batch.timestamps[order]
        v = batch.values[order]
        first = np.empty(n, bool)
        first[0] = True
        np.not_equal(s[1:], s[:-1], out=first[1:])
        last = np.empty(n, bool)
        last[-1] = True
        last[:-1] = first[1:]

        prev_t = np.empty(n, np.int64)
        prev_t[1:] = t[:-1]
        prev_t[first] = self._last_t[s[first]]
        prev_v = np.empty(n)
        prev_v[1:] = v[:-1]
        prev_v[first] = self._last_v[s[first]]
        has_prev = prev_t != _NO_TIME
        finite = np.isfinite(v)
        dt = t - prev_t
        dv = v - prev_v
        ordered = has_prev & (dt > 0)
        step_ok = ordered & finite & np.isfinite(prev_v)

        fired = np.zeros((n, len(RULES)), bool)
        fired[:, _OUT_OF_RANGE] = finite & ((v < self._min[s]) | (v > self._max[s]))
        fired[:, _SKEW] = t > now_ns + self.clock_skew_ns
        fired[:, _NOT_FINITE] = ~finite
        gap_ns = self._gap_ns[s]
        gaps = ordered & (gap_ns > 0) & (dt > gap_ns)
        fired[:, _GAP] = gaps

        # spikes: a step well above the usual one (learnt before this batch); the step back
        # right after a spike is the spike ending, not another one
        step = np.abs(dv)
        usual, warm = self._usual_steps(s, step, step_ok, first, last)
        big = step_ok & warm & (usual > 0) & (step > self._spike_k[s] * usual)
        returning = np.zeros(n, bool)
        returning[1:] = big[1:] & big[:-1] & ~first[1:] & (np.sign(dv[1:]) != np.sign(dv[:-1]))
        fired[:, _SPIKE] = big & ~returning

        # flatlines: the time since the value last changed (runs may start in an earlier batch)
        changed = ~has_prev | ~finite | (dv != 0) | ~np.isfinite(prev_v)
        anchor_t = np.where(changed, t, self._flat_since[s])
        anchor = np.where(changed | first, np.arange(n), 0)
        np.maximum.accumulate(anchor, out=anchor)
        since = anchor_t[anchor]
        flat_ns = self._flat_ns[s]
        fired[:, _FLATLINE] = (flat_ns > 0) & finite & (t - since >= flat_ns)

        # state for the next batch
        self._update_steps(s, step, step_ok & ~big)
        ends = s[last]
        self._last_t[ends] = t[last]
        self._last_v[ends] = np.where(finite[last], v[last], self._last_v[ends])
        self._flat_since[ends] = since[last]
        self.missing[ends] += np.bincount(
            s[gaps], weights=(dt[gaps] / np.maximum(gap_ns[gaps], 1)), minlength=len(self.signals)
        ).astype(np.int64)[ends]
        self.out_of_order[ends] += np.bincount(
            s[has_prev & (dt <= 0)], minlength=len(self.signals)
        )[ends]

        quality = batch.quality[order]
        lowered = np.max(np.where(fired, _QUALITY, 0), axis=1).astype(np.uint8)
        worse = lowered > quality
        flagged = int(worse.sum())
        if flagged:
            new_quality = batch.quality.copy()
            new_quality[order[worse]] = lowered[worse]
            batch = SampleBatch(
                batch.names, batch.index, batch.timestamps, batch.values, new_quality
            )
        return Screened(batch, self._transitions(s, t, v, fired, first, last), flagged)

    def _usual_steps(
        self,
        s: npt.NDArray[np.int64],
        step: npt.NDArray[np.float64],
        ok: npt.NDArray[np.bool_],
        first: npt.NDArray[np.bool_],
        last: npt.NDArray[np.bool_],
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
        """The usual step of every sample's signal, and whether it is known. A signal seen for
        the first time in a long batch learns it from the batch itself (median step × 1.18, the
        mean over the median of a half-normal), so its first batch is screened too."""
        usual = self._step[s]
        warm = self._steps[s] >= _WARM_STEPS
        if warm.all():
            return usual, warm
        for begin, end in zip(np.flatnonzero(first), np.flatnonzero(last), strict=True):
            if warm[begin]:
                continue
            steps = step[begin : end + 1][ok[begin : end + 1]]
            if len(steps) >= _WARM_STEPS:
                usual[begin : end + 1] = float(np.median(steps)) * 1.18
                warm[begin : end + 1] = True
        return usual, warm

    def _update_steps(
        self, s: npt.NDArray[np.int64], step: npt.NDArray[np.float64], ok: Any
    ) -> None:
        m = len(self.signals)
        count = np.bincount(s[ok], minlength=m)
        touched = count > 0
        if not touched.any():
            return
        mean = np.bincount(s[ok], weights=step[ok], minlength=m)[touched] / count[touched]
        weight = 1.0 - (1.0 - _STEP_ALPHA) ** count[touched]
        fresh = self._steps[touched] == 0
        self._step[touched] = np.where(
            fresh, mean, self._step[touched] * (1 - weight) + mean * weight
        )
        self._steps[touched] += count[touched]

    def _transitions(
        self,
        s: npt.NDArray[np.int64],
        t: npt.NDArray[np.int64],
        v: npt.NDArray[np.float64],
        fired: npt.NDArray[np.bool_],
        first: npt.NDArray[np.bool_],
        last: npt.NDArray[np.bool_],
    ) -> list[Transition]:
        starts = np.flatnonzero(first)
        ends = np.flatnonzero(last)
        slots = s[starts]
        counts = np.add.reduceat(fired, starts, axis=0)
        fire_t = np.maximum.reduceat(np.where(fired, t[:, None], _NO_TIME), starts, axis=0)
        fired_at = np.maximum(self._fired_at[slots], fire_t)
        self._fired_at[slots] = fired_at
        self.counts[slots] += counts
        now = t[ends][:, None]
        known = fired_at != _NO_TIME
        age = now - np.where(known, fired_at, now)  # no int64 overflow on never-fired rules
        active = known & (fired[ends] | (age < self._hold_ns[slots][:, None]))
        before = self._active[slots]
        # a rule that fired and ended within this batch is told too (raised, then cleared)
        brief = (counts > 0) & ~before & ~active
        out: list[Transition] = []
        for group, rule in zip(*np.nonzero((active != before) | brief), strict=True):
            begin, end = int(starts[group]), int(ends[group])
            signal = self.signals[int(slots[group])]
            samples = int(counts[group, rule])
            hits = np.flatnonzero(fired[begin : end + 1, rule])
            if active[group, rule] or brief[group, rule]:
                row = begin + int(hits[0]) if len(hits) else end
                out.append(
                    Transition(signal, RULES[rule], True, int(t[row]), float(v[row]), samples)
                )
            if not active[group, rule]:
                out.append(Transition(signal, RULES[rule], False, int(t[end]), float(v[end]), 0))
        self._active[slots] = active
        return out

    # -- reading ---------------------------------------------------------------------------------

    def raised(self, signal: str) -> list[str]:
        """The rules raised now for ``signal``."""
        slot = self._slots.get(signal)
        if slot is None:
            return []
        return [RULES[r] for r in np.flatnonzero(self._active[slot])]

    def summary(self, signals: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """Per signal: raised rules, samples flagged per rule, missing intervals, out-of-order."""
        names = self.signals if signals is None else [s for s in signals if s in self._slots]
        out = {}
        for name in names:
            slot = self._slots[name]
            out[name] = {
                "raised": self.raised(name),
                "flagged": {
                    RULES[r]: int(self.counts[slot, r]) for r in np.flatnonzero(self.counts[slot])
                },
                "missing_intervals": int(self.missing[slot]),
                "out_of_order": int(self.out_of_order[slot]),
            }
        return out


_PRIORITY = {"out-of-range": "medium", "clock-skew": "medium"}


def condition_of(transition: Transition, asset: str | None) -> Condition:
    """The ``quality.raised`` / ``quality.cleared`` condition of a rule's transition."""
    t = transition
    if t.raised:
        message = describe(f"data quality: {t.rule}", t.signal, t.value, t.at)
        if t.samples > 1:
            message += f", {t.samples} samples flagged"
    else:
        message = f"{t.signal}: data quality {t.rule} over"
    return Condition(
        "quality",
        t.rule,
        t.signal,
        t.raised,
        t.at,
        message,
        _PRIORITY.get(t.rule, "low"),
        t.value,
        None,
        asset,
        t.signal,
    )

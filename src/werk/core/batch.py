"""Columnar sample batches: the unit the hot path carries.

A batch is dictionary-encoded: ``names`` lists each signal once and ``index[i]`` says which name
sample ``i`` belongs to. Connectors produce few signals with many samples, so a store maps names to
its own keys once per batch and then works on whole numpy arrays, never one Python object a sample.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from werk.core.quality import Quality

IndexArray = npt.NDArray[np.int32]
TimeArray = npt.NDArray[np.int64]
ValueArray = npt.NDArray[np.float64]
QualityArray = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True, eq=False)
class SampleBatch:
    """Samples of one or more signals: names (the dictionary) and four equal-length columns."""

    names: tuple[str, ...]
    index: IndexArray
    timestamps: TimeArray
    values: ValueArray
    quality: QualityArray

    def __post_init__(self) -> None:
        n = len(self.index)
        if not (len(self.timestamps) == len(self.values) == len(self.quality) == n):
            raise ValueError("batch columns differ in length")
        if n and (int(self.index.min()) < 0 or int(self.index.max()) >= len(self.names)):
            raise ValueError("batch index points outside its names")

    # -- construction ----------------------------------------------------------------------------

    @classmethod
    def empty(cls) -> SampleBatch:
        return cls(
            (),
            np.empty(0, np.int32),
            np.empty(0, np.int64),
            np.empty(0, np.float64),
            np.empty(0, np.uint8),
        )

    @classmethod
    def of(
        cls,
        signal: str,
        timestamps: Sequence[int] | npt.ArrayLike,
        values: Sequence[float] | npt.ArrayLike,
        quality: Quality | npt.ArrayLike = Quality.GOOD,
    ) -> SampleBatch:
        """Samples of a single signal."""
        ts = np.asarray(timestamps, dtype=np.int64)
        return cls(
            (signal,),
            np.zeros(len(ts), np.int32),
            ts,
            np.asarray(values, dtype=np.float64),
            _quality_column(quality, len(ts)),
        )

    @classmethod
    def from_columns(
        cls,
        signals: Sequence[str] | npt.ArrayLike,
        timestamps: Sequence[int] | npt.ArrayLike,
        values: Sequence[float] | npt.ArrayLike,
        quality: Quality | npt.ArrayLike = Quality.GOOD,
    ) -> SampleBatch:
        """Samples given as parallel columns; the signal column is dictionary-encoded here."""
        names, inverse = np.unique(
            np.asarray(signals, dtype=object).astype(str), return_inverse=True
        )
        ts = np.asarray(timestamps, dtype=np.int64)
        return cls(
            tuple(str(n) for n in names),
            inverse.astype(np.int32).reshape(-1),
            ts,
            np.asarray(values, dtype=np.float64),
            _quality_column(quality, len(ts)),
        )

    @classmethod
    def concat(cls, batches: Iterable[SampleBatch]) -> SampleBatch:
        """One batch holding all samples of ``batches``, in order, names merged."""
        parts = [b for b in batches if len(b)]
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        position: dict[str, int] = {}
        indexes = []
        for part in parts:
            remap = np.array(
                [position.setdefault(name, len(position)) for name in part.names], dtype=np.int32
            )
            indexes.append(remap[part.index])
        return cls(
            tuple(position),
            np.concatenate(indexes),
            np.concatenate([p.timestamps for p in parts]),
            np.concatenate([p.values for p in parts]),
            np.concatenate([p.quality for p in parts]),
        )

    # -- reading ---------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.index)

    @property
    def signals(self) -> npt.NDArray[Any]:
        """The signal name of every sample (materialised; avoid on the hot path)."""
        return (
            np.asarray(self.names, dtype=object)[self.index] if self.names else np.empty(0, object)
        )

    def take(self, mask_or_positions: npt.ArrayLike) -> SampleBatch:
        """The samples selected by a boolean mask or positions (names kept as they are)."""
        sel = np.asarray(mask_or_positions)
        return SampleBatch(
            self.names, self.index[sel], self.timestamps[sel], self.values[sel], self.quality[sel]
        )

    def for_signal(self, name: str) -> SampleBatch:
        try:
            code = self.names.index(name)
        except ValueError:
            return SampleBatch.empty()
        return self.take(self.index == code)

    def latest(self) -> dict[str, tuple[int, float, int]]:
        """Per signal, the sample with the greatest timestamp: ``name -> (ts, value, quality)``."""
        if not len(self):
            return {}
        order = np.lexsort((self.timestamps, self.index))
        last = np.r_[self.index[order][1:] != self.index[order][:-1], True]
        picks = order[last]
        return {
            self.names[int(self.index[i])]: (
                int(self.timestamps[i]),
                float(self.values[i]),
                int(self.quality[i]),
            )
            for i in picks
        }

    def rows(self) -> Iterator[tuple[str, int, float, int]]:
        """``(signal, ts, value, quality)`` per sample, for small batches and tests."""
        for i in range(len(self)):
            yield (
                self.names[int(self.index[i])],
                int(self.timestamps[i]),
                float(self.values[i]),
                int(self.quality[i]),
            )


def _quality_column(quality: Quality | npt.ArrayLike, n: int) -> QualityArray:
    if np.ndim(quality) == 0:
        return np.full(n, int(quality), dtype=np.uint8)  # type: ignore[arg-type]
    column = np.asarray(quality, dtype=np.uint8)
    if len(column) != n:
        raise ValueError("quality column differs in length")
    return column

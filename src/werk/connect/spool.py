"""Store-and-forward: a bounded on-disk queue of sample batches, replayed in order.

When the bus or the store downstream of a connector is unavailable, its batches go here instead
of being dropped, so a connector can keep acknowledging its device (an MQTT broker, say) without
losing what it acknowledged. Each batch is one Arrow IPC file, written to a temporary name,
fsynced and renamed, so a crash leaves either the whole batch or none of it. Files are named by
sequence and row count (``000000000042-5000.arrow``); a restarted werk finds them and replays them
first.

The bound is explicit: ``max_bytes`` on disk, and an overflow policy that says what goes when it
is full — ``drop-oldest`` (keep the recent past, the default), ``drop-newest`` (keep the first
part of an outage) or ``block`` (hold the connector: acknowledge nothing more upstream). Every
dropped sample is counted.

The index of files lives in memory and is changed only by the caller's thread (the event loop);
file reads and writes are plain blocking calls for a worker thread.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa

from werk.core import SampleBatch

log = logging.getLogger(__name__)

Overflow = Literal["drop-oldest", "drop-newest", "block"]
OVERFLOW_POLICIES: tuple[Overflow, ...] = ("drop-oldest", "drop-newest", "block")

_SCHEMA = pa.schema(
    [
        ("signal", pa.dictionary(pa.int32(), pa.string())),
        ("ts", pa.int64()),
        ("value", pa.float64()),
        ("quality", pa.uint8()),
    ]
)


@dataclass(frozen=True, slots=True)
class SpoolEntry:
    sequence: int
    rows: int
    size: int
    path: Path


class Spool:
    def __init__(
        self, directory: Path, max_bytes: int = 256 * 2**20, overflow: Overflow = "drop-oldest"
    ) -> None:
        if overflow not in OVERFLOW_POLICIES:
            raise ValueError(f"overflow must be one of {', '.join(OVERFLOW_POLICIES)}")
        self.directory = directory
        self.max_bytes = max_bytes
        self.overflow = overflow
        directory.mkdir(parents=True, exist_ok=True)
        self._entries: deque[SpoolEntry] = deque(self._scan())
        self._next = self._entries[-1].sequence + 1 if self._entries else 0
        self.bytes = sum(e.size for e in self._entries)
        if self._entries:
            log.info(
                "spool %s: %d batches (%d samples) left from the last run will be replayed",
                directory,
                len(self._entries),
                self.rows,
            )

    # -- the index (event-loop thread) -----------------------------------------------------------

    @property
    def empty(self) -> bool:
        return not self._entries

    @property
    def rows(self) -> int:
        return sum(e.rows for e in self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def oldest(self) -> SpoolEntry | None:
        return self._entries[0] if self._entries else None

    def fits(self, size: int) -> bool:
        return self.bytes + size <= self.max_bytes or not self._entries

    def add(self, entry: SpoolEntry) -> None:
        self._entries.append(entry)
        self.bytes += entry.size

    def make_room(self, size: int, keep: SpoolEntry | None = None) -> int:
        """Drop the oldest batches (never ``keep``, the one being replayed) until ``size`` fits;
        return how many samples went."""
        dropped = 0
        while not self.fits(size):
            victim = next((e for e in self._entries if e is not keep), None)
            if victim is None:
                break
            self._entries.remove(victim)
            self.bytes -= victim.size
            dropped += victim.rows
            victim.path.unlink(missing_ok=True)
        return dropped

    def remove(self, entry: SpoolEntry) -> None:
        if entry in self._entries:
            self._entries.remove(entry)
            self.bytes -= entry.size
        entry.path.unlink(missing_ok=True)

    def reserve(self) -> int:
        sequence = self._next
        self._next += 1
        return sequence

    # -- files (worker thread) -------------------------------------------------------------------

    def write(self, sequence: int, batch: SampleBatch) -> SpoolEntry:
        """Write ``batch`` durably (fsync, atomic rename) and return its entry (not yet added)."""
        table = pa.table(
            [
                pa.DictionaryArray.from_arrays(
                    pa.array(batch.index, pa.int32()), pa.array(batch.names, pa.string())
                ),
                pa.array(batch.timestamps),
                pa.array(batch.values),
                pa.array(batch.quality),
            ],
            schema=_SCHEMA,
        )
        final = self.directory / f"{sequence:012d}-{len(batch)}.arrow"
        temporary = final.with_suffix(".tmp")
        with open(temporary, "wb") as file:
            with pa.ipc.new_file(file, _SCHEMA) as writer:
                writer.write_table(table)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, final)
        _fsync_directory(self.directory)
        return SpoolEntry(sequence, len(batch), final.stat().st_size, final)

    @staticmethod
    def read(entry: SpoolEntry) -> SampleBatch:
        with pa.memory_map(str(entry.path)) as source:
            table = pa.ipc.open_file(source).read_all()
        signal = table.column("signal").combine_chunks()
        return SampleBatch(
            tuple(signal.dictionary.to_pylist()),
            np.asarray(signal.indices, dtype=np.int32),
            table.column("ts").to_numpy(),
            table.column("value").to_numpy(),
            table.column("quality").to_numpy(),
        )

    def _scan(self) -> list[SpoolEntry]:
        entries = []
        for path in self.directory.iterdir():
            if path.suffix == ".tmp":  # a write cut short by a crash: never acknowledged
                path.unlink(missing_ok=True)
                continue
            if path.suffix != ".arrow":
                continue
            sequence, _, rows = path.stem.partition("-")
            if not (sequence.isdigit() and rows.isdigit()):
                log.warning("spool %s: ignoring %s (not a spool file)", self.directory, path.name)
                continue
            entries.append(SpoolEntry(int(sequence), int(rows), path.stat().st_size, path))
        return sorted(entries, key=lambda e: e.sequence)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

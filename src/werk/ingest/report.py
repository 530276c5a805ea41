"""What an ingest did: the samples it kept, the rows it refused and why, the warnings it counted.

Every refused sample has exactly one :class:`RowError` (its first broken rule), so ``rejected`` is
the number of errors — those described in ``errors`` plus those only counted in ``left_out`` once a
long import capped the list (:meth:`IngestResult.merge` with ``max_errors``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from werk.core import SampleBatch


@dataclass(frozen=True, slots=True)
class RowError:
    """One refused sample. ``row`` counts as its source says (see the decoder or reader used)."""

    row: int
    signal: str | None
    field: str
    rule: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(eq=False)
class IngestResult:
    """The outcome of validating one submission, or one chunk of a file.

    ``rows`` counts input rows read. ``samples`` counts the samples they held when that differs
    (a wide file's row holds one per signal column); ``None`` means one sample a row.
    ``warnings`` counts kept samples by rule, e.g. ``{"out-of-range": 3}`` for values kept but
    flagged UNCERTAIN. ``left_out`` counts, by rule, errors that were not kept in ``errors``.
    """

    batch: SampleBatch
    errors: list[RowError]
    rows: int
    samples: int | None = None
    warnings: dict[str, int] = field(default_factory=dict)
    left_out: dict[str, int] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> IngestResult:
        """A result with nothing in it: the start of a running total."""
        return cls(SampleBatch.empty(), [], 0)

    @property
    def submitted(self) -> int:
        """Samples submitted: ``samples``, or ``rows`` when each row held one."""
        return self.rows if self.samples is None else self.samples

    @property
    def rejected(self) -> int:
        return len(self.errors) + sum(self.left_out.values())

    @property
    def accepted(self) -> int:
        """Samples kept. Counted, not ``len(batch)``: a running total may have let batches go."""
        return self.submitted - self.rejected

    def rejected_by_rule(self) -> dict[str, int]:
        counts = Counter(error.rule for error in self.errors)
        counts.update(self.left_out)
        return dict(sorted(counts.items()))

    def merge(
        self, other: IngestResult, *, keep_batch: bool = True, max_errors: int | None = None
    ) -> IngestResult:
        """This result followed by ``other`` (the next chunk of the same import).

        A chunked import that has already written each chunk's batch passes ``keep_batch=False``
        and a ``max_errors`` cap, so its running total stays small however large the file.
        """
        errors = self.errors + other.errors
        left_out = Counter(self.left_out)
        left_out.update(other.left_out)
        if max_errors is not None and len(errors) > max_errors:
            left_out.update(error.rule for error in errors[max_errors:])
            errors = errors[:max_errors]
        warnings = Counter(self.warnings)
        warnings.update(other.warnings)
        one_a_row = self.samples is None and other.samples is None
        return IngestResult(
            SampleBatch.concat([self.batch, other.batch]) if keep_batch else SampleBatch.empty(),
            errors,
            self.rows + other.rows,
            None if one_a_row else self.submitted + other.submitted,
            dict(warnings),
            dict(left_out),
        )

    def to_dict(self, max_errors: int = 100) -> dict[str, Any]:
        """JSON-ready: the counts, the first ``max_errors`` errors and how many were not shown."""
        shown = self.errors[:max_errors]
        not_shown = self.rejected - len(shown)
        summary: dict[str, Any] = {
            "rows": self.rows,
            "samples": self.submitted,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "rejected_by_rule": self.rejected_by_rule(),
            "warnings": dict(sorted(self.warnings.items())),
            "errors": [error.to_dict() for error in shown],
            "errors_not_shown": not_shown,
        }
        if not_shown:
            summary["note"] = (
                f"{not_shown} more rejected samples are counted in rejected_by_rule but not listed"
            )
        return summary

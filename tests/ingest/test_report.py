from werk.core import SampleBatch
from werk.ingest import IngestResult, RowError


def result(rows, errors, start=0, **fields):
    kept = rows - len(errors)
    batch = SampleBatch.of("a", list(range(start, start + kept)), [1.0] * kept)
    return IngestResult(batch, errors, rows, **fields)


def error(row, rule="type"):
    return RowError(row, "a", "value", rule, f"row {row} is bad")


def test_counts():
    r = result(5, [error(1), error(3, "quality")], warnings={"out-of-range": 1})
    assert (r.rows, r.submitted, r.accepted, r.rejected) == (5, 5, 3, 2)
    assert r.rejected_by_rule() == {"quality": 1, "type": 1}


def test_samples_differ_from_rows_in_wide_files():
    r = IngestResult(SampleBatch.of("a", [1, 2, 3], [1, 2, 3]), [error(1)], 2, samples=4)
    assert (r.rows, r.submitted, r.accepted, r.rejected) == (2, 4, 3, 1)


def test_merge_keeps_everything_by_default():
    first = result(3, [error(2)], warnings={"out-of-range": 1})
    second = result(2, [error(4, "quality")], start=10, warnings={"out-of-range": 2})
    merged = first.merge(second)
    assert len(merged.batch) == merged.accepted == 3
    assert [e.row for e in merged.errors] == [2, 4]
    assert merged.warnings == {"out-of-range": 3}
    assert merged.samples is None and merged.rows == 5


def test_merge_for_a_running_total_lets_batches_go_and_caps_errors():
    total = IngestResult.empty()
    for chunk in range(4):
        rows = range(chunk * 10, chunk * 10 + 10)
        errors = [error(r, "type" if r % 2 else "quality") for r in rows if r % 5 == 0]
        total = total.merge(result(10, errors), keep_batch=False, max_errors=3)
    assert len(total.batch) == 0
    assert [e.row for e in total.errors] == [0, 5, 10]
    assert total.left_out == {"type": 3, "quality": 2}
    assert (total.rows, total.rejected, total.accepted) == (40, 8, 32)
    assert total.rejected_by_rule() == {"quality": 4, "type": 4}


def test_to_dict_lists_the_first_errors_and_says_how_many_are_not_shown():
    r = result(10, [error(i) for i in range(6)])
    summary = r.to_dict(max_errors=4)
    assert summary["rows"] == 10 and summary["accepted"] == 4 and summary["rejected"] == 6
    assert summary["rejected_by_rule"] == {"type": 6}
    assert [e["row"] for e in summary["errors"]] == [0, 1, 2, 3]
    assert summary["errors"][0] == {
        "row": 0,
        "signal": "a",
        "field": "value",
        "rule": "type",
        "message": "row 0 is bad",
    }
    assert summary["errors_not_shown"] == 2 and "2 more" in summary["note"]
    assert "note" not in result(3, [error(1)]).to_dict()


def test_to_dict_counts_errors_left_out_by_a_merge():
    total = result(4, [error(0), error(1)]).merge(result(2, [error(5)]), max_errors=1)
    summary = total.to_dict()
    assert summary["rejected"] == 3 and summary["errors_not_shown"] == 2

import numpy as np
import pytest

from werk.core import Quality, SampleBatch


def test_from_columns_dictionary_encodes_signals():
    batch = SampleBatch.from_columns(["b", "a", "b"], [1, 2, 3], [1.0, 2.0, 3.0])
    assert batch.names == ("a", "b")
    assert list(batch.signals) == ["b", "a", "b"]
    assert batch.quality.tolist() == [Quality.GOOD] * 3


def test_columns_must_align():
    with pytest.raises(ValueError, match="length"):
        SampleBatch(
            ("a",), np.zeros(2, np.int32), np.zeros(1, np.int64), np.zeros(2), np.zeros(2, np.uint8)
        )
    with pytest.raises(ValueError, match="outside"):
        SampleBatch(
            ("a",), np.ones(1, np.int32), np.zeros(1, np.int64), np.zeros(1), np.zeros(1, np.uint8)
        )


def test_concat_merges_names_and_keeps_order():
    first = SampleBatch.of("x", [1, 2], [1.0, 2.0])
    second = SampleBatch.from_columns(["y", "x"], [3, 4], [3.0, 4.0], quality=[2, 0])
    merged = SampleBatch.concat([first, SampleBatch.empty(), second])
    assert list(merged.rows()) == [
        ("x", 1, 1.0, 0),
        ("x", 2, 2.0, 0),
        ("y", 3, 3.0, 2),
        ("x", 4, 4.0, 0),
    ]


def test_latest_takes_greatest_timestamp_not_last_position():
    batch = SampleBatch.from_columns(["a", "a", "b"], [5, 3, 1], [50.0, 30.0, 10.0])
    assert batch.latest() == {"a": (5, 50.0, 0), "b": (1, 10.0, 0)}


def test_take_and_for_signal():
    batch = SampleBatch.from_columns(["a", "b", "a"], [1, 2, 3], [1.0, 2.0, 3.0])
    assert batch.for_signal("a").timestamps.tolist() == [1, 3]
    assert len(batch.for_signal("zzz")) == 0
    assert batch.take(batch.values > 1.5).values.tolist() == [2.0, 3.0]


def test_quality_parse():
    assert Quality.parse("Stale") is Quality.STALE
    assert Quality.parse(1) is Quality.UNCERTAIN
    assert Quality.parse("2") is Quality.BAD
    assert SampleBatch.of("a", [1], [1.0], quality=np.uint8(2)).quality.tolist() == [2]
    with pytest.raises(ValueError, match="unknown quality"):
        Quality.parse("great")

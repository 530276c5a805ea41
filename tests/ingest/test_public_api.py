"""The curated public API of werk.ingest: additions are deliberate, removals are breaking."""

import werk.ingest

EXPECTED = {
    "MAX_FUTURE_S",
    "IngestResult",
    "RowError",
    "decode_arrow",
    "decode_json",
    "file_rows",
    "iter_file",
    "validate_columns",
}


def test_exported_members():
    assert set(werk.ingest.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(werk.ingest, name) is not None

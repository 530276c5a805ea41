"""History stores chosen by URL: ``memory://``, ``duckdb:///path``, ``postgresql://...``."""

from werk.store.base import Latest, Rollup, TimeSeriesStore, open_store, stores

__all__ = ["Latest", "Rollup", "TimeSeriesStore", "open_store", "stores"]

"""Streaming analytics: data quality, anomaly detection, SPC, OEE, alarms, and "is it helping?".

``quality`` screens every ingested batch; ``service`` runs the detectors, limits and SPC charts of
the ``watchlist`` over the bus and tells conditions (``werk.core.condition``); ``alarms`` turns
them into ISA-18.2 alarms; ``oee``, ``spc``, ``compare`` and ``coverage`` answer the API;
``evaluation`` scores the detectors on public benchmarks. docs/analytics.md is the overview.
"""

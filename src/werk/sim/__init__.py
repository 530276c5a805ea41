"""Simulation: the built-in demo feed, and the SimPy line model for what-if experiments.

- ``demo``           the signal generator of ``werk demo`` (numpy only)
- ``distributions``  duration specs (``{ dist = "lognormal", mean_s = 42, cv = 0.1 }``), block draws
- ``scenario``       scenario files: a plant line plus how its machines behave (``load_scenario``)
- ``model``          the line in SimPy: stations, buffers, failures, setups, scrap, shifts (extra
                     ``sim``)
- ``experiment``     replications on all cores or Dask, 95 % confidence intervals, paired comparison
- ``schedule``       a plan from ``werk.plan`` executed under variability (no SimPy needed)

This package imports nothing heavy itself: ``werk demo`` needs no SimPy. docs/simulation.md
documents the scenario file and the KPIs.
"""

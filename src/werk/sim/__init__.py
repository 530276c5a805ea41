"""Simulation: the built-in demo feed now; the SimPy virtual plant comes with the simulation issue."""

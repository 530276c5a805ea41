"""Simulation: the built-in demo feed now; the SimPy virtual plant comes later."""

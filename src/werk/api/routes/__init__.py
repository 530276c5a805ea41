"""The werk v1 routes, one module per topic."""

"""The statistics engine: pure functions over pandas DataFrames returning frozen dataclasses."""

# The version of the figures this engine computes. Cached results (analysis/routes.py) are
# keyed by it: change it whenever a change to the statistics or to the rows they reach the
# pages in (compare, tables, disclosure, trend, network, ...) could change a figure, so no
# page shows a figure the engine would no longer compute.
ENGINE_VERSION = "6"

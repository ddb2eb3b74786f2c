"""The statistics engine: pure functions over pandas DataFrames returning frozen dataclasses."""

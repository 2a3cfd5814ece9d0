"""Capacity planning on top of the optimizer: `recommend` (the cheapest verified endpoint in
the Describe item shape) and `sweep` (what-if scenarios on Dask)."""

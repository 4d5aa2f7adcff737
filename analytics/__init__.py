"""Analytics: Numba kernels for interval deltas and bucket rollups, the streaming aggregator.

Not built yet: the readings it consumes are defined by ``carbonledger/db/migrations`` and
``docs/wire-format.md``.
"""

"""Analytics: exact rollups of meter readings (Numba kernels) and the streaming aggregator.

The public surface: :class:`Aggregator` (follows ``reading_changes``), :func:`recompute`
(rebuilds a date range), :func:`refresh_windows`/:class:`Window` (the shared recompute path) and
the fixed-point scales. Kernels live in ``_kernels``; SQL in ``_store``.
"""

from analytics._refresh import RefreshStats, recompute, refresh_changes, refresh_windows
from analytics._series import CO2_MASS, SCALES, VALUE_SCALE, Kind, Window
from analytics.aggregator import Aggregator, AggregatorMetrics, Partition

__all__ = [
    "CO2_MASS",
    "SCALES",
    "VALUE_SCALE",
    "Aggregator",
    "AggregatorMetrics",
    "Kind",
    "Partition",
    "RefreshStats",
    "Window",
    "recompute",
    "refresh_changes",
    "refresh_windows",
]

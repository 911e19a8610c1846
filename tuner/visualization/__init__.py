"""Plots of a study for notebooks, drawn with matplotlib (``pip install 'tuner[plot]'``).

``import tuner`` does not load matplotlib; importing this package does, and raises an
``ImportError`` naming the extra when matplotlib is missing. Every function takes a
:class:`tuner.Study` and reads its trials once; a study without succeeded trials gives
empty, titled axes instead of an error.
"""

from __future__ import annotations

import tuner.visualization._matplotlib  # noqa: F401  (first: the ImportError naming the extra)
from tuner.visualization._intermediate_values import plot_intermediate_values
from tuner.visualization._optimization_history import plot_optimization_history
from tuner.visualization._parallel_coordinates import plot_parallel_coordinates
from tuner.visualization._slice import plot_slice

__all__ = [
    "plot_intermediate_values",
    "plot_optimization_history",
    "plot_parallel_coordinates",
    "plot_slice",
]

"""Set tests on sorted node-id arrays, for the short arrays met per attempt (``np.isin`` sorts both sides first)."""

from __future__ import annotations

import numpy as np


def isin_sorted(values: np.ndarray, table: np.ndarray) -> np.ndarray:
    """``np.isin(values, table)`` for a sorted ``table``: a binary search per value.

    >>> isin_sorted(np.array([3, 1, 7]), np.array([1, 2, 3])).tolist()
    [True, True, False]
    """
    values = np.asarray(values)
    if len(table) == 0:
        return np.zeros(values.shape, dtype=bool)
    pos = np.searchsorted(table, values)
    np.minimum(pos, len(table) - 1, out=pos)
    return np.asarray(table[pos] == values)

"""The Lexical Alignment Curve: a metric's value at each lexical level, and the area under it.

The levels (exact, synonym, hyponym, meronym) are evenly spaced on [0, 1]; the LAC score is the
trapezoid area under the curve, so it is in the metric's own units (0-100 for percentages).
With four levels: LAC = (v_exact / 2 + v_synonym + v_hyponym + v_meronym / 2) / 3.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: the metrics whose Lexical Alignment Curve is scored (RESULTS.json `lac`, Table 1's columns)
LAC_METRICS = ("PQ", "mIoU", "AP")


def lac_positions(num_levels: int) -> np.ndarray:
    """Positions of the levels on the x axis: evenly spaced on [0, 1]."""
    if num_levels < 2:
        raise ValueError("a Lexical Alignment Curve needs at least two levels")
    return np.linspace(0.0, 1.0, num_levels)


def lac_score(values: Sequence[float | None]) -> float | None:
    """Trapezoid area under the curve through `values` (one per level); None if any value is None."""
    if any(v is None for v in values):
        return None
    y = np.asarray(values, dtype=float)
    x = lac_positions(len(y))
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0)

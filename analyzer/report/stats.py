"""The one percentile of the project: linear interpolation between the two closest ranks
(numpy's ``percentile`` default, pandas' ``quantile`` default, Hyndman and Fan's type 7).

p95 of ``[1, 2, 3, 4]`` is 3.85: the rank ``0.95 * (4 - 1) = 2.85`` lies between the third
and the fourth value, 85% of the way. ``summary``, report.md, report.html and ``diff`` all
call :func:`percentile`, so a figure does not depend on where it is printed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd


def _floats(values: Iterable[Any]) -> np.ndarray:
    """The values as float64, None and pandas' NA as NaN."""
    if isinstance(values, pd.Series):
        return values.to_numpy(dtype="float64", na_value=np.nan)
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
        return values.astype("float64")
    return np.array([math.nan if v is None or v is pd.NA else float(v) for v in values],
                    dtype="float64")


def percentile(values: Iterable[Any], q: float,
               weights: Iterable[Any] | None = None) -> float | None:
    """The ``q``-quantile (``q`` from 0 to 1: 0.95 is p95) of ``values``, interpolated
    linearly; None when there is no value. None, NA and NaN values are skipped.

    ``weights`` (non-negative integers, one per value) counts each value that many times:
    the result is the percentile of the values repeated by their weights, to the last bit,
    without building that array (the data RTT percentiles weigh each direction's mean by
    its number of samples)."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"a quantile is between 0 and 1, not {q}")
    arr = _floats(values)
    if weights is None:
        arr = arr[~np.isnan(arr)]
        return float(np.quantile(arr, q)) if len(arr) else None
    counts = np.asarray(list(weights) if not isinstance(weights, np.ndarray) else weights,
                        dtype="int64")
    if arr.shape != counts.shape:
        raise ValueError("percentile: one weight per value")
    if (counts < 0).any():
        raise ValueError("percentile: a weight is a count, never negative")
    keep = ~np.isnan(arr) & (counts > 0)
    arr, counts = arr[keep], counts[keep]
    if not len(arr):
        return None
    order = np.argsort(arr, kind="stable")
    ordered, cumulative = arr[order], np.cumsum(counts[order])
    n = int(cumulative[-1])
    # numpy's steps on the repeated array (``_quantile``, ``_get_indexes``, ``_lerp``): the
    # virtual index (n - 1) * q, the values at its floor and the next index (the largest
    # value at or beyond the end), interpolated from the nearer one. The repeated array's
    # k-th value is the first whose cumulative count exceeds k.
    index = (n - 1) * q
    if index >= n - 1:
        return float(ordered[-1])
    below = math.floor(index)
    a, b = (float(ordered[np.searchsorted(cumulative, k, side="right")])
            for k in (below, below + 1))
    t = index - below
    diff = b - a
    return b - diff * (1.0 - t) if t >= 0.5 else a + diff * t

"""Multiple comparisons: Holm's step-down adjustment (family-wise error, any dependence)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tunegate.harness.errors import StatsError


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values, in the input order.

    Sorted ascending, p_adj_(i) = min(1, max_{j<=i} (m - j + 1) p_(j)) (j from 1). Same as
    ``statsmodels.stats.multitest.multipletests(p, method="holm")[1]`` (its default is Holm-Sidak).

    >>> holm([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(pvalues, dtype=float).reshape(-1)
    if p.size == 0:
        return p
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise StatsError(f"p-values must lie in [0, 1]; got {p.tolist()!r}")
    order = np.argsort(p, kind="stable")
    m = p.size
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(stepped, 1.0)
    return out

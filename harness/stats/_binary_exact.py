"""Exact unconditional version of Tango's score test for paired proportions, for small n.

Tango's z is a large-sample statistic: at n <= 30 its normal p-value lets non-inferiority pass
up to 16% of the time (worst case over the discordance rate; n = 2, margin 0.2). Here the
same statistic orders the outcomes, but its p-value is exact: the probability, under the null
delta = m, of every outcome (x candidate-only, y base-only items) at least as extreme, maximised
over the nuisance parameter (the discordance rate D = p_x + p_y, with p_x - p_y = m) on a grid.
The interval inverts that test by bisection. Used for shifted nulls at n <= ``EXACT_MAX_N``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.special import gammaln

from harness.stats._results import Alternative

EXACT_MAX_N = 40
_GRID = 120
_BISECTION_STEPS = 40


@lru_cache(maxsize=64)
def _outcomes(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (x, y) with x + y <= n, and log multinomial coefficients n! / (x! y! (n-x-y)!)."""
    xs, ys = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    keep = xs + ys <= n
    x, y = xs[keep].astype(float), ys[keep].astype(float)
    logc = gammaln(n + 1) - gammaln(x + 1) - gammaln(y + 1) - gammaln(n - x - y + 1)
    return x, y, logc


def tango_z_array(x: np.ndarray, y: np.ndarray, n: int, null: float) -> np.ndarray:
    """Tango's z for arrays of outcomes (see ``tango_z``), null strictly inside (-1, 1)."""
    a = 2.0 * n
    b = -(x + y) + null * (2.0 * n - x + y)
    c = -y * null * (1.0 - null)
    q = (-b + np.sqrt(np.maximum(b * b - 4.0 * a * c, 0.0))) / (2.0 * a)
    var = n * (2.0 * q + null * (1.0 - null))
    num = x - y - n * null
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var > 0, num / np.sqrt(np.maximum(var, 1e-300)), np.sign(num) * np.inf)
    return z


@dataclass(frozen=True)
class ExactTangoInference:
    """Exact unconditional p-values (max over the discordance rate) ordered by Tango's z."""

    x: int
    y: int
    n: int
    _cache: dict[tuple[float, bool], float] = field(default_factory=dict, repr=False, compare=False)

    def _tail(self, null: float, greater: bool) -> float:
        key = (null, greater)
        if key in self._cache:
            return self._cache[key]
        if null <= -1.0:
            return 0.0 if greater else 1.0
        if null >= 1.0:
            return 1.0 if greater else 0.0
        x, y, logc = _outcomes(self.n)
        z = tango_z_array(x, y, self.n, null)
        z_obs = float(tango_z_array(np.array([float(self.x)]), np.array([float(self.y)]), self.n, null)[0])
        tol = 1e-9 * max(1.0, abs(z_obs)) if math.isfinite(z_obs) else 0.0
        extreme = z >= z_obs - tol if greater else z <= z_obs + tol
        if not extreme.any():
            return 0.0
        xe, ye, ce = x[extreme], y[extreme], logc[extreme]
        # Nuisance: D = p_x + p_y from |null| to 1 (p_x = (D + null) / 2, p_y = (D - null) / 2).
        d = np.linspace(abs(null), 1.0, _GRID)
        px, py = (d + null) / 2.0, (d - null) / 2.0
        rest = 1.0 - d
        with np.errstate(divide="ignore", invalid="ignore"):
            logp = (
                ce[None, :]
                + xe[None, :] * np.log(np.maximum(px, 0.0))[:, None]
                + ye[None, :] * np.log(np.maximum(py, 0.0))[:, None]
                + (self.n - xe - ye)[None, :] * np.log(np.maximum(rest, 0.0))[:, None]
            )
        # 0 * log(0) = 0: an outcome with no items in an empty cell is certain there.
        logp = np.where(np.isnan(logp), -np.inf, logp)
        p = float(np.max(np.exp(logp).sum(axis=1)))
        p = min(1.0, p)
        self._cache[key] = p
        return p

    def pvalue(self, null: float, alternative: Alternative) -> float:
        if alternative == "greater":
            return self._tail(null, True)
        if alternative == "less":
            return self._tail(null, False)
        return min(1.0, 2.0 * min(self._tail(null, True), self._tail(null, False)))

    def interval(self, confidence_level: float) -> tuple[float, float]:
        tail = (1.0 - confidence_level) / 2.0
        est = (self.x - self.y) / self.n
        return (self._bound(tail, True, -1.0, est), self._bound(tail, False, est, 1.0))

    def _bound(self, tail: float, greater: bool, lo: float, hi: float) -> float:
        # p_greater(m) grows with m, p_less(m) falls: bisect for the crossing of ``tail``.
        if greater and self._tail(-1.0 + 1e-12, True) >= tail:
            return -1.0
        if not greater and self._tail(1.0 - 1e-12, False) >= tail:
            return 1.0
        for _ in range(_BISECTION_STEPS):
            mid = 0.5 * (lo + hi)
            accepted = self._tail(mid, greater) >= tail
            if accepted == greater:
                hi = mid
            else:
                lo = mid
        return hi if greater else lo

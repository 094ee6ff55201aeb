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
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.special import gammaln

from tunegate.harness.stats._results import Alternative

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


@lru_cache(maxsize=65536)
def exact_tail(x: int, y: int, n: int, null: float, greater: bool) -> float:
    """Exact unconditional one-sided p of H0 delta = ``null`` (cached: outcomes repeat)."""
    if null <= -1.0:
        return 0.0 if greater else 1.0
    if null >= 1.0:
        return 1.0 if greater else 0.0
    xs, ys, logc = _outcomes(n)
    z = tango_z_array(xs, ys, n, null)
    z_obs = float(tango_z_array(np.array([float(x)]), np.array([float(y)]), n, null)[0])
    tol = 1e-9 * max(1.0, abs(z_obs)) if math.isfinite(z_obs) else 0.0
    extreme = z >= z_obs - tol if greater else z <= z_obs + tol
    if not extreme.any():
        return 0.0
    xe, ye, ce = xs[extreme], ys[extreme], logc[extreme]
    # Nuisance: D = p_x + p_y from |null| to 1 (p_x = (D + null) / 2, p_y = (D - null) / 2).
    d = np.linspace(abs(null), 1.0, _GRID)
    px, py = (d + null) / 2.0, (d - null) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = (
            ce[None, :]
            + xe[None, :] * np.log(np.maximum(px, 0.0))[:, None]
            + ye[None, :] * np.log(np.maximum(py, 0.0))[:, None]
            + (n - xe - ye)[None, :] * np.log(np.maximum(1.0 - d, 0.0))[:, None]
        )
    # 0 * log(0) = 0: an outcome with no items in an empty cell is certain there.
    logp = np.where(np.isnan(logp), -np.inf, logp)
    return min(1.0, float(np.max(np.exp(logp).sum(axis=1))))


@lru_cache(maxsize=16384)
def exact_bound(x: int, y: int, n: int, tail: float, greater: bool) -> float:
    """Lower (greater) or upper bound: where the one-sided exact p crosses ``tail`` (bisection)."""
    est = (x - y) / n
    lo, hi = (-1.0, est) if greater else (est, 1.0)
    # p_greater(m) grows with m, p_less(m) falls.
    if greater and exact_tail(x, y, n, -1.0 + 1e-12, True) >= tail:
        return -1.0
    if not greater and exact_tail(x, y, n, 1.0 - 1e-12, False) >= tail:
        return 1.0
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        accepted = exact_tail(x, y, n, mid, greater) >= tail
        if accepted == greater:
            hi = mid
        else:
            lo = mid
    return hi if greater else lo


@dataclass(frozen=True)
class ExactTangoInference:
    """Exact unconditional p-values (max over the discordance rate) ordered by Tango's z."""

    x: int
    y: int
    n: int

    def pvalue(self, null: float, alternative: Alternative) -> float:
        if alternative == "greater":
            return exact_tail(self.x, self.y, self.n, float(null), True)
        if alternative == "less":
            return exact_tail(self.x, self.y, self.n, float(null), False)
        return min(
            1.0,
            2.0
            * min(
                exact_tail(self.x, self.y, self.n, null, True),
                exact_tail(self.x, self.y, self.n, null, False),
            ),
        )

    def interval(self, confidence_level: float) -> tuple[float, float]:
        tail = (1.0 - confidence_level) / 2.0
        return (
            exact_bound(self.x, self.y, self.n, tail, True),
            exact_bound(self.x, self.y, self.n, tail, False),
        )

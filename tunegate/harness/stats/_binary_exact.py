"""Exact unconditional test of a paired difference in proportions, ordered by Tango's score z.

With x candidate-only and y base-only items out of n (the other items agree), the outcome
(x, y) is multinomial with cell probabilities (p_x, p_y, 1 - D), D = p_x + p_y the discordance
rate and delta = p_x - p_y. For H0 delta = m (one-sided) the p-value of an outcome is the
probability of every outcome whose Tango z is at least as extreme, maximised over the nuisance
D in [|m|, 1] (Suissa & Shuster 1991 at m = 0, the exact unconditional McNemar test; Berger &
Boos 1994 for the construction in general). Two facts make it cheap at any n:

- given m_obs = x + y = k, Tango's z increases with x (checked by enumeration in
  tests/harness/stats/test_stats_binary_agreement.py), so "at least as extreme" is
  x >= x*(k), one threshold per k found by a vectorised bisection;
- given k, x is Binomial(k, (D + m) / (2 D)), so the tail at one D is
  sum_k Binom(k; n, D) * P(X >= x*(k)): O(n) work per D, not O(n^2).

The same test gives the p-value at every null, 0 included, and the interval is its inversion
(bisection on m), so a gate's p and interval cannot disagree. The sup over D is taken on a grid
refined twice around its maximum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.special import betainc, gammaln, xlog1py, xlogy

from tunegate.harness.stats._results import Alternative

EXACT_MAX_N = 1000
_GRID = 48
_REFINE = 16
_BISECTION_STEPS = 12
# Nulls on a grid of this many steps per unit: 0.01, 0.02, 0.05, ... are grid points.
NULL_STEPS = 200
_EDGE = 1e-9
_NEGLIGIBLE = 1e-18


def tango_z_array(x: np.ndarray, y: np.ndarray, n: int, null: float) -> np.ndarray:
    """Tango's z for arrays of outcomes (see ``tango_z``), null strictly inside (-1, 1)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    a = 2.0 * n
    b = -(x + y) + null * (2.0 * n - x + y)
    c = -y * null * (1.0 - null)
    q = (-b + np.sqrt(np.maximum(b * b - 4.0 * a * c, 0.0))) / (2.0 * a)
    var = n * (2.0 * q + null * (1.0 - null))
    num = x - y - n * null
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var > 0, num / np.sqrt(np.maximum(var, 1e-300)), np.sign(num) * np.inf)
    return np.where(np.isnan(z), 0.0, z)


def _clamp(null: float) -> float:
    return min(max(float(null), -1.0 + _EDGE), 1.0 - _EDGE)


def _thresholds(n: int, null: float, z_obs: float, greater: bool) -> np.ndarray:
    """Per discordant count k = 0..n: the smallest x in [0, k] that is as extreme as z_obs
    ("greater": z >= z_obs) or, for "less", the largest x with z <= z_obs; k + 1 / -1 if none."""
    k = np.arange(n + 1)
    tol = 1e-9 * max(1.0, abs(z_obs)) if math.isfinite(z_obs) else 0.0
    # Smallest x with pred(x) true, where pred is monotone in x: z >= z_obs - tol (greater) or
    # z > z_obs + tol (less; the answer minus one is then the largest x with z <= z_obs).
    lo = np.zeros(n + 1, dtype=np.int64)
    hi = k + 1
    while True:
        active = lo < hi
        if not active.any():
            break
        mid = (lo + hi) // 2
        z = tango_z_array(mid, k - mid, n, null)
        pred = z >= z_obs - tol if greater else z > z_obs + tol
        pred &= mid <= k
        hi = np.where(active & pred, mid, hi)
        lo = np.where(active & ~pred, mid + 1, lo)
    return lo if greater else lo - 1


def _tail_at(n: int, null: float, thresholds: np.ndarray, greater: bool, d: np.ndarray) -> np.ndarray:
    """P_D(outcome as extreme) for each discordance rate in ``d`` (vector)."""
    k = np.arange(n + 1, dtype=float)
    dd = d[:, None]
    logpmf = gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0) + xlogy(k, dd) + xlog1py(n - k, -dd)
    pmf = np.exp(logpmf)
    pi = np.broadcast_to(np.clip((dd + null) / (2.0 * dd), 0.0, 1.0), pmf.shape)
    kk = np.broadcast_to(k, pmf.shape)
    t = np.broadcast_to(thresholds.astype(float), pmf.shape)
    # Conditional tail given k: P(X >= t) (greater) or P(X <= t) (less), X ~ Binomial(k, pi);
    # the regularised incomplete beta, only where the count k has any probability at all.
    if greater:
        cond = np.where(t <= 0, 1.0, 0.0)
        live = (pmf > _NEGLIGIBLE) & (t >= 1) & (t <= kk)
        cond[live] = betainc(t[live], kk[live] - t[live] + 1.0, pi[live])
    else:
        cond = np.where(t >= kk, 1.0, 0.0)
        live = (pmf > _NEGLIGIBLE) & (t >= 0) & (t < kk)
        cond[live] = betainc(kk[live] - t[live], t[live] + 1.0, 1.0 - pi[live])
    return np.asarray((pmf * cond).sum(axis=1))


@lru_cache(maxsize=131072)
def exact_tail(x: int, y: int, n: int, null: float, greater: bool) -> float:
    """Exact unconditional one-sided p of H0 delta = ``null`` (cached: outcomes repeat)."""
    if null <= -1.0:
        return 1.0 if (not greater or y == n) else 0.0
    if null >= 1.0:
        return 1.0 if (greater or x == n) else 0.0
    null = _clamp(null)
    z_obs = float(tango_z_array(np.array([x]), np.array([y]), n, null)[0])
    thresholds = _thresholds(n, null, z_obs, greater)
    lo = max(abs(null), _EDGE)
    grid = np.linspace(lo, 1.0, _GRID)
    tails = _tail_at(n, null, thresholds, greater, grid)
    best = float(tails.max())
    if null == 0.0 and (thresholds[0] <= 0 if greater else thresholds[0] >= 0):
        best = 1.0  # D = 0 (no item can change) is in the null, and then (0, 0) is certain
    step = grid[1] - grid[0]
    centre = float(grid[int(tails.argmax())])
    for _ in range(2):  # refine around the maximum: the sup, not a grid point, bounds the size
        fine = np.linspace(max(lo, centre - step), min(1.0, centre + step), _REFINE)
        fine_tails = _tail_at(n, null, thresholds, greater, fine)
        if float(fine_tails.max()) > best:
            best = float(fine_tails.max())
            centre = float(fine[int(fine_tails.argmax())])
        step = fine[1] - fine[0]
    return min(1.0, best)


def _scan_start(x: int, y: int, n: int, greater: bool) -> int:
    """Grid index where the scan starts: 8 standard errors beyond the estimate (p ~ 0 there)."""
    est = (x - y) / n
    se = math.sqrt(max(x + y, 1)) / n + 1.0 / n
    edge = est - 8.0 * se if greater else est + 8.0 * se
    idx = math.floor(edge * NULL_STEPS) if greater else math.ceil(edge * NULL_STEPS)
    return max(-NULL_STEPS + 1, idx) if greater else min(NULL_STEPS - 1, idx)


@lru_cache(maxsize=131072)
def monotone_tail(x: int, y: int, n: int, null: float, greater: bool) -> float:
    """The p that the interval inverts: the exact p at ``null`` and at every grid null on the
    far side of it (steps of 1 / NULL_STEPS), the largest.

    Exact unconditional p-values are not monotone in the null (n = 60, x = 22, y = 28: p of
    "delta >= m" is 0.27 at m = 0 and 0.30 at m = 0.02), so the set of accepted nulls can have
    holes. The running maximum is monotone on the grid and never below the exact p (so still
    valid), and the interval is where it crosses the tail: gate p and interval agree at every
    grid null (0, 0.01, 0.02, 0.05, ... are on it) and, between grid points, wherever the exact
    p is monotone inside the cell.
    """
    if null <= -1.0 or null >= 1.0:
        return exact_tail(x, y, n, null, greater)
    best = exact_tail(x, y, n, null, greater)
    if greater:
        last = math.floor(null * NULL_STEPS + 1e-9)
        grid = range(_scan_start(x, y, n, True), last + 1)
    else:
        last = math.ceil(null * NULL_STEPS - 1e-9)
        grid = range(last, _scan_start(x, y, n, False) + 1)
    for j in grid:
        if best >= 1.0:
            break
        best = max(best, exact_tail(x, y, n, j / NULL_STEPS, greater))
    return best


@lru_cache(maxsize=32768)
def exact_bound(x: int, y: int, n: int, tail: float, greater: bool) -> float:
    """Lower (greater) or upper bound: where the monotone p (``monotone_tail``) reaches ``tail``.

    Scan grid nulls from the far side towards the estimate; at the first accepted one, bisect
    the exact p inside the cell before it. The bound is the last rejected null found."""
    step = 1.0 / NULL_STEPS
    start = _scan_start(x, y, n, greater)
    j = start
    direction = 1 if greater else -1
    if exact_tail(x, y, n, start / NULL_STEPS, greater) >= tail:
        # Accepted already 8 SEs out: scan outward to the edge instead.
        while abs(j) < NULL_STEPS - 1 and exact_tail(x, y, n, (j - direction) / NULL_STEPS, greater) >= tail:
            j -= direction
        if abs(j) >= NULL_STEPS - 1:
            return -1.0 if greater else 1.0
    else:
        while abs(j + direction) < NULL_STEPS and exact_tail(x, y, n, (j + direction) / NULL_STEPS, greater) < tail:
            j += direction
        j += direction
    # Grid null j is the first accepted one; j - direction is rejected (and so is all before it).
    accepted, rejected = j / NULL_STEPS, (j - direction) / NULL_STEPS
    lo, hi = (rejected, accepted) if greater else (accepted, rejected)
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        ok = exact_tail(x, y, n, mid, greater) >= tail
        if ok == greater:
            hi = mid
        else:
            lo = mid
    bound = lo if greater else hi
    return min(max(bound, rejected), accepted - direction * step * 1e-9) if greater else max(
        min(bound, rejected), accepted - direction * step * 1e-9
    )


@dataclass(frozen=True)
class ExactTangoInference:
    """Exact unconditional p-values (max over the discordance rate) ordered by Tango's z, made
    monotone in the null (``monotone_tail``) so the interval inverts exactly this p."""

    x: int
    y: int
    n: int

    def pvalue(self, null: float, alternative: Alternative) -> float:
        null = float(null)
        if alternative == "greater":
            return monotone_tail(self.x, self.y, self.n, null, True)
        if alternative == "less":
            return monotone_tail(self.x, self.y, self.n, null, False)
        return min(
            1.0,
            2.0 * min(monotone_tail(self.x, self.y, self.n, null, True), monotone_tail(self.x, self.y, self.n, null, False)),
        )

    def interval(self, confidence_level: float) -> tuple[float, float]:
        tail = (1.0 - confidence_level) / 2.0
        return (
            exact_bound(self.x, self.y, self.n, tail, True),
            exact_bound(self.x, self.y, self.n, tail, False),
        )

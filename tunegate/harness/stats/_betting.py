"""A test of mean(d) that holds its size for every distribution of d on [-W, W]: testing by
betting (Waudby-Smith & Ramdas 2024, "Estimating means of bounded random variables by
betting", JRSS-B), used beside the t / bootstrap-t at small n.

Why: at n = 10-50 a heavy-tailed delta (lognormal-like) usually shows none of its tail, and
such a sample looks like a well-behaved one: the t and the bootstrap-t then claim the opposite
direction 9-12% of the time at alpha 0.05, and no check on the sample can tell (no test of a
mean is valid over all distributions; Bahadur & Savage 1956). Scores are bounded, though, so
d lies in [-W, W] (W: the score range, at least 1) and a test valid for every distribution on
that range exists. For H0 "mean <= m" a bettor stakes lambda_i (d_i - m) on each item in turn:

    K_t(m) = prod_{i <= t} (1 + lambda_i (d_i - m)),  0 <= lambda_i <= c / (m + W),

with lambda_i chosen from the items before i only (the predictable plug-in of the paper:
lambda_i = min(sqrt(2 log(1 / alpha) / (n s^2_{i-1})), c / (m + W)), s^2 a running variance
with a prior of W^2). Under H0 K is a non-negative supermartingale, so by Ville's inequality
p(m) = min(1, 1 / max_t K_t(m)) is a valid p-value whatever the distribution. The items are
taken in an order drawn from the test's seed.

The p-value is made monotone in m on a grid of 1601 nulls over [-W, W] (the running maximum,
never below the grid's own p; a null between grid points takes the p of the next grid null
beyond it) and the interval inverts exactly that p.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tunegate.harness.stats._results import Alternative

BETTING_MAX_N = 60
_GRID = 1601
_CAP = 0.75
_ALPHA_TUNE = 0.05


def _capital(x: np.ndarray, nulls: np.ndarray, width: float) -> np.ndarray:
    """max_t K_t(m) for each null m (bets on "mean > m"); x in order, shape (n,)."""
    n = x.size
    t = np.arange(1, n + 1, dtype=float)
    # Running mean and variance of the items before i (prior: centre 0, variance W^2).
    csum = np.cumsum(x)
    mu = np.r_[0.0, csum[:-1] / t[:-1]] if n > 1 else np.zeros(1)
    dev = (x - np.r_[0.0, (csum / t)[:-1]]) ** 2 if n > 1 else np.zeros(1)
    var = (width**2 + np.r_[0.0, np.cumsum(dev)[:-1]]) / t
    del mu
    lam_free = np.sqrt(2.0 * math.log(1.0 / _ALPHA_TUNE) / (n * var))  # (n,)
    cap = _CAP / np.maximum(nulls + width, 1e-12)  # (M,)
    lam = np.minimum(lam_free[:, None], cap[None, :])  # (n, M)
    factors = 1.0 + lam * (x[:, None] - nulls[None, :])
    logk = np.cumsum(np.log(np.maximum(factors, 1e-300)), axis=0)
    return np.asarray(np.exp(np.minimum(logk.max(axis=0), 700.0)))


@dataclass(frozen=True)
class BettingInference:
    """Betting p-values for "mean > m" and "mean < m", monotone in m, and their interval."""

    x: np.ndarray = field(repr=False)  # d in the seeded order
    width: float
    grid: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    p_up: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))  # monotone, "greater"
    p_down: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))  # monotone, "less"

    @classmethod
    def build(cls, d: np.ndarray, width: float, rng: np.random.Generator) -> BettingInference:
        x = np.asarray(d, dtype=float)[rng.permutation(d.size)]
        grid = np.linspace(-width, width, _GRID)
        p_up = np.minimum(1.0, 1.0 / _capital(x, grid, width))
        p_down = np.minimum(1.0, 1.0 / _capital(-x, -grid, width))
        # p of "mean <= m" must not fall as m grows (and "mean >= m" must not grow).
        return cls(x, width, grid, np.maximum.accumulate(p_up), np.maximum.accumulate(p_down[::-1])[::-1])

    def _p(self, null: float, greater: bool) -> float:
        # The p at a null is the monotone p of the next grid null beyond it (strictly): then
        # "p < tail" and "the interval excludes the null" are the same event at every null.
        if greater:
            j = int(np.searchsorted(self.grid, null, side="right"))
            return 1.0 if j >= self.grid.size else float(self.p_up[j])
        j = int(np.searchsorted(self.grid, null, side="left")) - 1
        return 1.0 if j < 0 else float(self.p_down[j])

    def pvalue(self, null: float, alternative: Alternative) -> float:
        if alternative == "greater":
            return self._p(null, True)
        if alternative == "less":
            return self._p(null, False)
        return min(1.0, 2.0 * min(self._p(null, True), self._p(null, False)))

    def interval(self, confidence_level: float) -> tuple[float, float]:
        tail = (1.0 - confidence_level) / 2.0
        up = np.flatnonzero(self.p_up >= tail)  # accepted nulls on the "greater" side
        down = np.flatnonzero(self.p_down >= tail)
        low = -self.width if up.size == 0 or up[0] == 0 else float(self.grid[up[0] - 1])
        high = self.width if down.size == 0 or down[-1] == self.grid.size - 1 else float(self.grid[down[-1] + 1])
        return (low, high)

"""A skewness-corrected t, required to reject beside the t (or bootstrap-t) of mean(d).

The t's one-sided error grows like skewness / sqrt(n): its Edgeworth expansion is
P(T <= x) = Phi(x) + kappa (2 x^2 + 1) / 6 phi(x) + O(1/n), kappa = gamma / sqrt(n) (Hall 1992,
"The Bootstrap and Edgeworth Expansion", 2.6), so a right-skewed d makes T left-skewed: false
REGRESSED (and, with the tail on the losing side, false IMPROVED and NON_INFERIOR) up to 13-20%
at alpha 0.05 for lognormal deltas at n = 10-50, and about 10% for exponential group effects at
10-20 groups. Johnson (1978, "Modified t tests and confidence intervals for asymmetrical
populations", JASA) removes that term; Hall (1992, "On the removal of skewness by
transformation", JRSS-B) made the correction monotone:

    g(T) = T + kappa T^2 / 3 + kappa^2 T^3 / 27 + kappa / 6,

referred to the t distribution on the test's df; g is increasing, so the interval inverts it in
closed form: with a = kappa / 3, T = ((1 + 3 a (y - kappa / 6))^(1/3) - 1) / a.

kappa is estimated from the units the t treats as independent (items, or the CR2-scaled residual
sums of groups): kappa = f * G1 / sqrt(u) with G1 the bias-adjusted sample skewness of u units
(sum r^3 / (sum r^2)^(3/2) * sqrt(u (u - 1)) / (u - 2)). The test is a check: the t (or the
bootstrap-t) and this one must both reject, so it only removes claims in the direction the
sample's skew makes suspect, and never adds one. It needs 5 units (below that it cost 15% of
the t's power at 3 groups and fixed nothing).

f = min(2, u / 10, 100 / u), from measurements (docs/statistics.md 2.2, 20000 runs per point):

- a heavy tail that a small sample does not show makes G1 too small: with f = 1 lognormal
  deltas gave 12% false REGRESSED at n = 10 and 8-9% at n = 30-50; with f = 2, 3-7%;
- below 20 units G1 is noisy, and inflating it costs power on normal data (effects at 80%
  textbook power: f = 2 keeps 93% of the t's power at n = 20 but 82% at n = 10; f = u / 10
  keeps at least 93% at every n);
- beyond 50 units the sample shows its tail: two-point deltas (10% of items at -0.9) at n = 100
  have skewness -2.7, which G1 estimates well, and f = 2 took the bootstrap-t's power there
  (a +0.1 gain found in 3 of 60 runs instead of 70% or more).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.special import stdtr, stdtrit

from tunegate.harness.stats._results import Alternative

# Below 5 units the skewness of 3-4 values says nothing (it cost 15% of the t's power at 3 groups).
SKEW_MIN_UNITS = 5
SKEW_MAX_FACTOR = 2.0


def skew_factor(units: int) -> float:
    """f = min(2, units / 10, 100 / units): how much the sample skewness is inflated."""
    return min(SKEW_MAX_FACTOR, units / 10.0, 100.0 / units)


def kappa(resid: np.ndarray) -> float:
    """f * G1 / sqrt(u) from the units' residuals (centred d, or CR2-scaled group sums)."""
    u = resid.size
    s2 = float(np.sum(resid * resid))
    if u < SKEW_MIN_UNITS or s2 <= 0.0:
        return 0.0
    raw = float(np.sum(resid**3)) / s2**1.5  # = g1 / sqrt(u)
    return skew_factor(u) * raw * math.sqrt(u * (u - 1.0)) / (u - 2.0)


@dataclass(frozen=True)
class SkewCorrectedInference:
    """Hall's transformed t: p(m) from g((mean - m) / se) on ``df``; the interval inverts it."""

    mean: float
    se: float
    df: float
    kappa: float

    def _g(self, t: float) -> float:
        k = self.kappa
        return t + k * t * t / 3.0 + k * k * t**3 / 27.0 + k / 6.0

    def _g_inverse(self, y: float) -> float:
        a = self.kappa / 3.0
        shifted = y - self.kappa / 6.0
        if abs(a) < 1e-12:
            return shifted
        return (float(np.cbrt(1.0 + 3.0 * a * shifted)) - 1.0) / a

    def _cdf(self, null: float) -> float:
        return float(stdtr(self.df, self._g((self.mean - null) / self.se)))

    def pvalue(self, null: float, alternative: Alternative) -> float:
        if alternative == "greater":
            return 1.0 - self._cdf(null)
        if alternative == "less":
            return self._cdf(null)
        cdf = self._cdf(null)
        return min(1.0, 2.0 * min(cdf, 1.0 - cdf))

    def interval(self, confidence_level: float) -> tuple[float, float]:
        tail = (1.0 - confidence_level) / 2.0
        if tail <= 0.0:
            return (-math.inf, math.inf)
        t_high = self._g_inverse(float(stdtrit(self.df, 1.0 - tail)))
        t_low = self._g_inverse(float(stdtrit(self.df, tail)))
        return (self.mean - t_high * self.se, self.mean - t_low * self.se)


# -- a warning where a skewed sample is too small to trust ----------------------------------------

SKEW_WARNING_MAX_UNITS = 20
# The warning's share of normal samples, per side.
SKEW_WARNING_LEVEL = 0.025
_NULL_SAMPLES = 200_000


def sample_skewness(resid: np.ndarray) -> float:
    """b1 = m3 / m2^1.5 (0 without spread)."""
    r = resid - resid.mean()
    m2 = float(np.mean(r * r))
    return float(np.mean(r**3)) / m2**1.5 if m2 > 0.0 else 0.0


@lru_cache(maxsize=64)
def normal_skewness_quantile(units: int, level: float = SKEW_WARNING_LEVEL) -> float:
    """The upper ``level`` point of b1 over samples of ``units`` normal values.

    Computed once per size by simulation (fixed seed, 200,000 samples: deterministic); the
    normal approximation to b1 (D'Agostino 1970) needs 8 values, and groups start at 5.
    """
    x = np.random.default_rng(units).standard_normal((_NULL_SAMPLES, units))
    r = x - x.mean(axis=1, keepdims=True)
    b1 = np.mean(r**3, axis=1) / np.mean(r * r, axis=1) ** 1.5
    return float(np.quantile(b1, 1.0 - level))


def skew_warning(resid: np.ndarray, what: str) -> str | None:
    """A note when SKEW_MIN_UNITS to SKEW_WARNING_MAX_UNITS units are skewed beyond what all but
    SKEW_WARNING_LEVEL of normal samples of that size show, else None.

    It changes no verdict: refusing claims against such a skew was measured (docs/statistics.md
    2.2) and cannot hold the heavy-tailed cells without giving away far more than 10% of the t's
    power on normal data; the note says what the verdict cannot.
    """
    u = resid.size
    if u < SKEW_MIN_UNITS or u >= SKEW_WARNING_MAX_UNITS:
        return None
    b1 = sample_skewness(resid)
    if abs(b1) <= normal_skewness_quantile(u):
        return None
    against = "a drop" if b1 > 0 else "a gain or non-inferiority"
    tail = "right" if b1 > 0 else "left"
    return (
        f"{u} {what} with skewness {b1:+.2f} (beyond {100 * (1 - 2 * SKEW_WARNING_LEVEL):g}% of normal samples "
        f"of {u}): so few may have missed a long {tail} tail, and a claim of {against} may then be "
        f"false more often than alpha (heavy-tailed deltas at 10 items: up to 11%); add {what}"
    )

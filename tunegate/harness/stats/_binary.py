"""Binary per-item scores: exact McNemar, Tango's score interval for the paired difference, Wilson.

With x = candidate-only-correct and y = base-only-correct items (both-agree items drop out):

- p-values at every null (0, non-inferiority margins, ``min_delta``) and the interval: one
  test, Tango's (1998) score statistic with exact unconditional p-values (``_binary_exact``:
  the probability of every outcome at least as extreme, maximised over the discordance rate)
  at n <= EXACT_MAX_N, inverted by bisection for the interval. At null 0 this is the exact
  unconditional McNemar test (Suissa & Shuster 1991), usually more powerful than the
  conditional binomial one (not at every outcome: 31 drops and no gain in 300 give 1.0e-8, not 4.7e-10). Tango's normal p lets margins pass up to 16% of the time at tiny n and
  7-9% at n = 41-200; the exact version at most alpha. Above EXACT_MAX_N Tango's normal score
  test serves every null and the interval (PropCIs' ``scoreci.mp``). Unlike Wald it stays
  informative when x + y == 0: 20 agreeing items give roughly [-0.12, +0.12] at 90%.
- standard error for power: Agresti-Min's adjusted Wald (add 1/2 to each of the four cells),
  so that a suite with no discordant pair still reports a non-zero MDE.

Pairwise judge verdicts arrive as binary scores (base=1 where base won, candidate=1 where the
candidate won, both 0 on a tie): McNemar on them *is* the sign test on wins vs losses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.special import bdtr, bdtrc, ndtr, ndtri

from tunegate.harness.errors import StatsError
from tunegate.harness.stats._binary_exact import EXACT_MAX_N, ExactTangoInference
from tunegate.harness.stats._results import (
    Alternative,
    ConfidenceInterval,
    PairedTestResult,
    check_alternative,
    check_level,
    paired_sample,
)

_BISECTION_STEPS = 48
NO_DISCORDANT = "no item changed between base and candidate (b + c == 0): no evidence either way"


def tango_z(x: int, y: int, n: int, null: float) -> float:
    """Tango's score statistic for H0: p(candidate-only) - p(base-only) == null."""
    if n <= 0:
        return 0.0
    if null <= -1.0:
        return math.inf if y < n else 0.0
    if null >= 1.0:
        return -math.inf if x < n else 0.0
    # Constrained MLE q of the base-only cell probability under the null (root of 2n q^2 + B q + C).
    a = 2.0 * n
    b = -(x + y) + null * (2.0 * n - x + y)
    c = -y * null * (1.0 - null)
    q = (-b + math.sqrt(max(b * b - 4.0 * a * c, 0.0))) / (2.0 * a)
    var = n * (2.0 * q + null * (1.0 - null))
    num = x - y - n * null
    if var <= 0.0:
        return 0.0 if num == 0 else math.copysign(math.inf, num)
    return num / math.sqrt(var)


def _tango_bound(x: int, y: int, n: int, z_crit: float, lower: bool) -> float:
    # Z(null) decreases in null and is 0 at the estimate: bisect for Z == +z (lower) or -z (upper).
    est = (x - y) / n
    lo, hi = (-1.0, est) if lower else (est, 1.0)
    target = z_crit if lower else -z_crit
    if lower and tango_z(x, y, n, -1.0) <= target:
        return -1.0
    if not lower and tango_z(x, y, n, 1.0) >= target:
        return 1.0
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        if tango_z(x, y, n, mid) > target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def tango_interval(x: int, y: int, n: int, confidence_level: float = 0.95) -> ConfidenceInterval:
    """Two-sided score interval for the paired difference (x - y) / n."""
    check_level(confidence_level)
    if n <= 0:
        return ConfidenceInterval(-1.0, 1.0)
    z = float(ndtri(0.5 + confidence_level / 2.0))
    return ConfidenceInterval(_tango_bound(x, y, n, z, True), _tango_bound(x, y, n, z, False))


def mcnemar_pvalue(x: int, y: int, alternative: Alternative = "two-sided") -> float:
    """Exact McNemar p: binomtest on the discordant pairs; x + y == 0 gives 1 (no evidence)."""
    check_alternative(alternative)
    m = x + y
    if m == 0:
        return 1.0
    # Binomial tails at 1/2 through the bdtr ufuncs: the same numbers as scipy.stats.binomtest
    # (symmetric, so its two-sided p is twice the smaller tail) at a hundredth of the cost.
    if alternative == "two-sided":
        return float(min(1.0, 2.0 * bdtr(min(x, y), m, 0.5)))
    if alternative == "greater":
        return float(bdtrc(x - 1, m, 0.5)) if x > 0 else 1.0
    return float(bdtr(x, m, 0.5))


def wilson_interval(k: int, n: int, confidence_level: float = 0.95) -> ConfidenceInterval:
    """Wilson score interval for one proportion k / n (good with few items)."""
    check_level(confidence_level)
    if n <= 0:
        return ConfidenceInterval(0.0, 1.0)
    z = float(ndtri(0.5 + confidence_level / 2.0))
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return ConfidenceInterval(max(0.0, centre - half), min(1.0, centre + half))


def adjusted_se(x: int, y: int, n: int) -> float:
    """Agresti-Min adjusted Wald SE of the paired difference (1/2 added to each cell)."""
    m = n + 2.0
    px, py = (x + 0.5) / m, (y + 0.5) / m
    return math.sqrt(max(px + py - (px - py) ** 2, 0.0) / m)


@dataclass(frozen=True)
class McNemarInference:
    """One test at every null: the exact unconditional test ordered by Tango's z at
    n <= EXACT_MAX_N (at null 0 the exact unconditional McNemar test), Tango's normal score test
    above; the interval inverts the same test, so p and interval cannot disagree."""

    x: int
    y: int
    n: int
    exact: ExactTangoInference | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.exact is None and 0 < self.n <= EXACT_MAX_N:
            object.__setattr__(self, "exact", ExactTangoInference(self.x, self.y, self.n))

    def interval(self, confidence_level: float) -> tuple[float, float]:
        if self.exact is not None:
            return self.exact.interval(confidence_level)
        return tuple(tango_interval(self.x, self.y, self.n, confidence_level))  # type: ignore[return-value]

    def pvalue(self, null: float, alternative: Alternative) -> float:
        if self.exact is not None:
            return self.exact.pvalue(null, alternative)
        z = tango_z(self.x, self.y, self.n, null)
        if alternative == "greater":
            return float(1.0 - ndtr(z))
        if alternative == "less":
            return float(ndtr(z))
        return float(min(1.0, 2.0 * (1.0 - ndtr(abs(z)))))


def check_binary(base: object, candidate: object, alternative: str = "two-sided") -> tuple[np.ndarray, np.ndarray]:
    """Paired float arrays of 0/1 scores (``paired_sample``'s checks), or a StatsError naming the
    first bad item."""
    b_arr, c_arr = paired_sample(base, candidate, alternative)
    bad = ~np.isin(b_arr, (0.0, 1.0)) | ~np.isin(c_arr, (0.0, 1.0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise StatsError(
            f"binary scores must be 0 or 1; item #{i} has base={float(b_arr[i])!r}, candidate={float(c_arr[i])!r}; "
            "declare the metric kind 'continuous' for fractional scores"
        )
    return b_arr, c_arr


def mcnemar_exact(
    base: object, candidate: object, *, alternative: Alternative = "two-sided"
) -> PairedTestResult:
    """Exact (unconditional) McNemar test of paired 0/1 scores; ``statistic`` is the delta in
    accuracy. ``mcnemar_pvalue`` keeps the conditional binomial version as a plain tool.

    >>> mcnemar_exact([1, 1, 0, 1], [1, 0, 1, 1]).details["b"]  # base-only-correct items
    1.0
    """
    b_arr, c_arr = check_binary(base, candidate, alternative)
    n = int(b_arr.size)
    x = int(np.count_nonzero((c_arr == 1) & (b_arr == 0)))
    y = int(np.count_nonzero((b_arr == 1) & (c_arr == 0)))
    inference = McNemarInference(x, y, n)
    return PairedTestResult(
        test="mcnemar_exact",
        statistic=(x - y) / n,
        pvalue=inference.pvalue(0.0, alternative),
        alternative=alternative,
        n=n,
        base_mean=float(b_arr.mean()),
        candidate_mean=float(c_arr.mean()),
        se=adjusted_se(x, y, n),
        inference=inference,
        details={"b": float(y), "c": float(x), "discordant": float(x + y)},
        note=NO_DISCORDANT if x + y == 0 else "",
    )

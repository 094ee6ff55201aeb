"""Power: the minimum detectable effect of a suite and the items needed for a target effect.

One-sided, as the gates are: MDE = (t_{1-alpha, df} + t_{power, df}) * SE_d, with the t
quantiles on the test's degrees of freedom (``PairedTestResult.df``: n - 1, or G - 1 with
groups) and normal quantiles when df is None (binary and corpus tests). The n that brings the
MDE down to ``effect`` is n_now * (MDE / effect)^2, which for SE_d = sd(d) / sqrt(n) is the
textbook (z_{1-alpha} + z_{power})^2 * var(d) / effect^2; with df given the t quantiles are
re-evaluated at the new size (df grows with n, or stays G - 1 when groups are the unit and
``df_grows`` is False). Working from the SE keeps clustered, bootstrap and binary (adjusted)
standard errors on the same footing.
"""

from __future__ import annotations

import math

from scipy.special import ndtri, stdtrit

from tunegate.harness.errors import StatsError

DEFAULT_POWER = 0.8


def _check(alpha: float, power: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise StatsError(f"alpha must be in (0, 1), got {alpha!r}; e.g. 0.05")
    if not 0.0 < power < 1.0:
        raise StatsError(f"power must be in (0, 1), got {power!r}; e.g. 0.8")


def z_sum(alpha: float = 0.05, power: float = DEFAULT_POWER) -> float:
    """z_{1-alpha} + z_{power} (about 2.486 for alpha=0.05, power=0.8)."""
    _check(alpha, power)
    return float(ndtri(1.0 - alpha) + ndtri(power))


def t_sum(alpha: float = 0.05, power: float = DEFAULT_POWER, df: float | None = None) -> float:
    """t_{1-alpha, df} + t_{power, df}; z_sum when df is None. Infinite below 1 df."""
    if df is None:
        return z_sum(alpha, power)
    _check(alpha, power)
    if not df >= 1.0:
        return math.inf
    return float(stdtrit(df, 1.0 - alpha) + stdtrit(df, power))


def minimum_detectable_effect(
    se: float, *, alpha: float = 0.05, power: float = DEFAULT_POWER, df: float | None = None
) -> float:
    """Smallest true delta a one-sided test at ``alpha`` detects with probability ``power``.

    >>> round(minimum_detectable_effect(0.02), 4)
    0.0497
    >>> round(minimum_detectable_effect(0.02, df=9), 4)  # t quantiles on 9 df: larger
    0.0543
    """
    if not math.isfinite(se):
        return math.inf
    return t_sum(alpha, power, df) * max(se, 0.0)


def items_needed(
    se: float,
    n: int,
    effect: float,
    *,
    alpha: float = 0.05,
    power: float = DEFAULT_POWER,
    df: float | None = None,
    df_grows: bool = True,
) -> int | None:
    """Items needed for the MDE to reach ``effect`` (same per-item spread); None if unknowable.

    With ``df`` the t quantiles follow the size: df + (n_new - n) when ``df_grows`` (items are
    the unit), else df stays (groups are the unit: more items per group do not add df).

    >>> items_needed(0.05, 100, 0.05)  # SE 0.05 at n=100 -> sd(d) = 0.5
    619
    """
    effect = abs(effect)
    if effect == 0.0 or not math.isfinite(se) or n < 1:
        return None
    if df is not None and not df_grows and not math.isfinite(t_sum(alpha, power, df)):
        return None
    ratio = z_sum(alpha, power) * max(se, 0.0) / effect
    needed = max(1, math.ceil(n * ratio * ratio))
    if df is None:
        return needed
    for _ in range(50):  # fixed point: n_new = n (t_sum(df(n_new)) * se / effect)^2
        new_df = df + (needed - n) if df_grows else df
        ratio = t_sum(alpha, power, max(new_df, 1.0)) * max(se, 0.0) / effect
        nxt = max(1, math.ceil(n * ratio * ratio))
        if nxt == needed:
            break
        needed = nxt
    return needed

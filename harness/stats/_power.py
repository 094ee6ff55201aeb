"""Power: the minimum detectable effect of a suite and the items needed for a target effect.

One-sided, as the gates are: MDE = (z_{1-alpha} + z_{power}) * SE_d, and the n that brings the
MDE down to ``effect`` is n_now * (MDE / effect)^2, which for SE_d = sd(d) / sqrt(n) is the
textbook (z_{1-alpha} + z_{power})^2 * var(d) / effect^2. Working from the SE keeps clustered,
bootstrap and binary (adjusted) standard errors on the same footing.
"""

from __future__ import annotations

import math

from scipy.special import ndtri

from harness.errors import StatsError

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


def minimum_detectable_effect(se: float, *, alpha: float = 0.05, power: float = DEFAULT_POWER) -> float:
    """Smallest true delta a one-sided test at ``alpha`` detects with probability ``power``.

    >>> round(minimum_detectable_effect(0.02), 4)
    0.0497
    """
    if not math.isfinite(se):
        return math.inf
    return z_sum(alpha, power) * max(se, 0.0)


def items_needed(
    se: float, n: int, effect: float, *, alpha: float = 0.05, power: float = DEFAULT_POWER
) -> int | None:
    """Items needed for the MDE to reach ``effect`` (same per-item spread); None if unknowable.

    >>> items_needed(0.05, 100, 0.05)  # SE 0.05 at n=100 -> sd(d) = 0.5
    619
    """
    effect = abs(effect)
    if effect == 0.0 or not math.isfinite(se) or n < 1:
        return None
    ratio = minimum_detectable_effect(se, alpha=alpha, power=power) / effect
    return max(1, math.ceil(n * ratio * ratio))

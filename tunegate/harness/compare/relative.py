"""A relative non-inferiority margin: "no more than 10% worse than the base", tested on the pair.

For a metric where lower is better (answer tokens) the claim is mean(c) < (1 + r) mean(b); where
higher is better, mean(c) > (1 - r) mean(b). Both are tests of one paired mean: with
e_i = c_i - (1 + r) b_i (or c_i - (1 - r) b_i) the claim is mean(e) < 0 (or > 0), and e is tested
with the same paired test as any continuous metric (sign-flip / studentised bootstrap / t as the
data call for, the CR2 clustered t with groups). The base's mean is not treated as a known
constant: its sampling error is in e's spread (the Fieller construction of a ratio test).

The gate is recorded in delta units so every reader shows it like an absolute one: ``size`` is
r * mean(b) as measured, and the lower oriented bound is the bound the ratio test puts on the
delta (the decision ``low > -size`` is then exactly "the ratio test rejected"); the upper bound,
the MDE and the REGRESSED rule come from the plain paired test of the delta.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from tunegate.harness.errors import StatsError
from tunegate.harness.stats import paired_test

_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
N_RESAMPLES = 10_000
SEED = 0


def parse_margin(margin: object) -> tuple[float, float | None]:
    """``(absolute margin, None)`` for a number, ``(0.0, ratio)`` for a percentage such as "10%"."""
    if isinstance(margin, str):
        match = _PERCENT.match(margin)
        ratio = float(match.group(1)) / 100 if match else math.nan
        if not (match and math.isfinite(ratio) and ratio > 0):
            raise StatsError(
                f"margin {margin!r} is not a percentage > 0; write a relative margin as \"10%\" (of the base's "
                "mean) or give an absolute margin as a number, e.g. margin=0.02"
            )
        return 0.0, ratio
    if isinstance(margin, bool) or not (isinstance(margin, int | float) and math.isfinite(margin) and margin > 0):
        raise StatsError(
            f"margin must be a number > 0, got {margin!r} (or a share of the base's mean such as \"10%\"); 'no "
            "change at all' cannot be shown by any finite suite: pick the largest drop you can accept, e.g. margin=0.02"
        )
    return float(margin), None


@dataclass(frozen=True)
class RatioTest:
    """The ratio test of a relative margin, in the delta's units: ``size`` = r * mean(b),
    ``low_oriented`` its bound on the delta (improvement direction), ``p_null`` the p of
    H0 "worse than the ratio allows", ``se``/``df`` of mean(e) (for the items needed)."""

    size: float
    low_oriented: float
    p_null: float
    se: float
    df: float | None


def ratio_test(
    *,
    base: np.ndarray,
    candidate: np.ndarray,
    ratio: float,
    higher_is_better: bool,
    alpha: float,
    groups: object | None = None,
    where: str = "",
) -> RatioTest:
    """Test "candidate's mean within ``ratio`` of the base's" on paired scores (module docstring)."""
    if higher_is_better and ratio >= 1:
        raise StatsError(f"{where}: a relative margin of {100 * ratio:g}% allows any score; give less than 100%")
    b, c = np.asarray(base, float), np.asarray(candidate, float)
    base_mean = float(np.mean(b)) if len(b) else math.nan
    if not (math.isfinite(base_mean) and base_mean > 0) or (b < 0).any():
        raise StatsError(
            f"{where}: a relative margin needs scores >= 0 with a base mean > 0 (got base mean {base_mean:.4g}); "
            "give an absolute margin (a number)"
        )
    scale = 1.0 - ratio if higher_is_better else 1.0 + ratio
    res = paired_test("continuous", scale * b, c, groups=groups, n_resamples=N_RESAMPLES, rng=np.random.default_rng(SEED))
    e_low, e_high = res.confidence_interval(1.0 - 2.0 * alpha, "two-sided")
    size = ratio * base_mean
    if higher_is_better:  # e = delta + size: shown when e's lower bound is above 0
        low_o, p_null = e_low - size, res.pvalue_at(0.0, "greater")
    else:  # e = delta - size: shown when e's upper bound is below 0
        low_o, p_null = -(e_high + size), res.pvalue_at(0.0, "less")
    return RatioTest(size=size, low_oriented=low_o, p_null=p_null, se=res.se, df=getattr(res, "df", None))


__all__ = ["RatioTest", "parse_margin", "ratio_test"]

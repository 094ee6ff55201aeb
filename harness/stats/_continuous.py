"""Continuous per-item scores: paired t on d = candidate - base, clustered SE, robustness checks.

The t interval is the CLT interval with Student's t quantiles (df = n - 1, or G - 1 with
clusters). Two distribution-free checks are offered and recorded next to it: Wilcoxon's signed
rank test with ``zero_method="zsplit"`` (zeros count half each way) and a sign-flip
randomization test. All-zero d gives "no difference" (p = 1, interval [0, 0]); a single item
gives an uninformative result (p = 1, infinite interval), never NaN or an exception.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy.stats import wilcoxon

from harness.errors import StatsError
from harness.stats._bootstrap import BootstrapInference, group_codes
from harness.stats._resample import swap_sums
from harness.stats._results import (
    ONE_UNIT,
    Alternative,
    NormalInference,
    PairedTestResult,
    RngLike,
    Uninformative,
    as_rng,
    check_alternative,
    check_resamples,
    one_sided_from_counts,
    paired_arrays,
)

ALL_ZERO = "every paired difference is zero: no difference"


def clustered_se(d: np.ndarray, codes: np.ndarray, n_groups: int) -> float:
    """SE of mean(d) with clusters: sqrt(sum_g (sum_{i in g} (d_i - mean))^2) / n * sqrt(G/(G-1))."""
    n = d.size
    if n_groups < 2:
        return math.nan
    resid = np.bincount(codes, weights=d - d.mean(), minlength=n_groups)
    return math.sqrt(float(np.sum(resid**2))) / n * math.sqrt(n_groups / (n_groups - 1))


def paired_t(
    base: object,
    candidate: object,
    *,
    alternative: Alternative = "two-sided",
    groups: object | None = None,
) -> PairedTestResult:
    """Paired t test on d; with ``groups``, the clustered SE and df = G - 1.

    >>> round(paired_t([0.1, 0.2, 0.3], [0.2, 0.4, 0.3]).statistic, 3)
    0.1
    """
    check_alternative(alternative)
    b, c = paired_arrays(base, candidate)
    n = int(b.size)
    if n == 0:
        raise StatsError("no paired items to compare (n == 0)")
    d = c - b
    mean = float(d.mean())
    clustered, n_groups = False, None
    if groups is not None:
        codes, n_groups = group_codes(groups, n)
        clustered = n_groups < n
    units = n_groups if clustered and n_groups is not None else n
    note, details = "", {}
    if units < 2:
        inference: NormalInference | Uninformative = Uninformative()
        se, note = math.nan, ONE_UNIT
    else:
        if clustered and n_groups is not None:
            se = clustered_se(d, codes, n_groups)
        else:
            se = float(d.std(ddof=1)) / math.sqrt(n)
        if se == 0.0 and not np.any(d):
            note = ALL_ZERO
        inference = NormalInference(mean, se, df=float(units - 1))
        details = {"df": float(units - 1), "t": mean / se if se > 0 else (0.0 if mean == 0 else math.inf)}
    return PairedTestResult(
        test="paired_t_clustered" if clustered else "paired_t",
        statistic=mean,
        pvalue=inference.pvalue(0.0, alternative),
        alternative=alternative,
        n=n,
        base_mean=float(b.mean()),
        candidate_mean=float(c.mean()),
        se=se,
        inference=inference,
        clustered=clustered,
        n_groups=n_groups,
        details=details,
        note=note,
    )


def wilcoxon_check(d: object, *, null: float = 0.0, alternative: Alternative = "two-sided") -> float | None:
    """Wilcoxon signed-rank (zsplit) p-value for H0: d is symmetric about ``null``; None if untestable."""
    check_alternative(alternative)
    x = np.asarray(d, dtype=float).reshape(-1) - null
    if x.size < 2:
        return None
    if not np.any(x):
        return 1.0
    with warnings.catch_warnings():
        # Small samples and ties make scipy warn about the normal approximation: a check, not the test.
        warnings.simplefilter("ignore")
        p = float(wilcoxon(x, zero_method="zsplit", alternative=alternative).pvalue)
    return p if math.isfinite(p) else None


def sign_flip_test(
    base: object,
    candidate: object,
    *,
    n_resamples: int = 10_000,
    rng: RngLike = None,
    alternative: Alternative = "two-sided",
) -> PairedTestResult:
    """Sign-flip randomization test of mean(d) (approximate randomization for a mean).

    p = (count + 1) / (R + 1); the interval is the percentile interval of the flipped means
    shifted onto the estimate, good only as a check (use ``paired_t`` for the interval).
    """
    check_alternative(alternative)
    check_resamples(n_resamples)
    b, c = paired_arrays(base, candidate)
    n = int(b.size)
    if n == 0:
        raise StatsError("no paired items to compare (n == 0)")
    a_sums, b_sums = swap_sums(b[:, None], c[:, None], int(n_resamples), as_rng(rng))
    null_dist = (b_sums[:, 0] - a_sums[:, 0]) / n
    observed = float((c - b).mean())
    # Under H0 the flipped deltas are centred on 0: compare them with the observed delta directly.
    p = one_sided_from_counts(null_dist + observed, observed, 0.0, alternative)
    inference = BootstrapInference(observed, null_dist + observed)
    return PairedTestResult(
        test="sign_flip",
        statistic=observed,
        pvalue=p,
        alternative=alternative,
        n=n,
        base_mean=float(b.mean()),
        candidate_mean=float(c.mean()),
        se=float(null_dist.std(ddof=1)) if null_dist.size > 1 else math.nan,
        inference=inference,
        n_resamples=int(n_resamples),
    )

"""Continuous per-item scores: which test of mean(d), d = candidate - base; the clustered SE.

``continuous_test`` picks the paired t only where it is calibrated (n >= 30 and d not skewed for
its n) and the studentised bootstrap otherwise, with the exact sign-flip test at n <= 16 (see
``tunegate.harness.stats._robust``), and beside either the skewness-corrected t (``_skew``).
Differences on three points {-k, 0, +k} get the exact test of ``_trinomial`` instead.
With groups the CR2 clustered t on Imbens-Kolesar df (``paired_t(groups=...)``), and from 5
groups the skewness-corrected t on group level beside it.
d without spread gives the zero-spread bound, never a zero-width interval; a single item (or
group) gives an uninformative result (p = 1, infinite interval), never NaN or an exception.
``wilcoxon_check`` and ``sign_flip_test`` remain as plain tools; neither decides a gate (the
Wilcoxon test is about the median, not the mean).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import replace

import numpy as np

from tunegate.harness.stats._bootstrap import BootstrapInference, group_codes
from tunegate.harness.stats._clustered import cr2_se_df, cr2_units
from tunegate.harness.stats._resample import swap_sums
from tunegate.harness.stats._results import (
    ONE_UNIT,
    Alternative,
    NormalInference,
    PairedTestResult,
    RngLike,
    Uninformative,
    as_rng,
    check_alternative,
    mean_result,
    one_sided_from_counts,
    paired_sample,
)
from tunegate.harness.stats._robust import (
    EXACT_FLIP_MAX,
    MIN_CARRIERS,
    BootstrapTInference,
    BoundedInference,
    EitherInference,
    HoeffdingInference,
    ZeroSpreadInference,
    bootstrap_t,
    carriers,
    sign_flip,
    zero_spread_width,
)
from tunegate.harness.stats._skew import SKEW_MIN_UNITS, SkewCorrectedInference, kappa, skew_warning
from tunegate.harness.stats._trinomial import three_point_step, trinomial_test

ALL_ZERO = "every paired difference is zero: no difference"
FEW_GROUPS = 5
T_MIN_ITEMS = 30
T_MAX_SKEW_PER_ROOT_N = 0.1
MIN_BOOTSTRAP_T_RESAMPLES = 2_000
MIN_FLIP_RESAMPLES = 10_000
MAX_DISTINCT_FOR_FLIPS = 64
SPREAD_TOL = 1e-10


def clustered_se(d: np.ndarray, codes: np.ndarray, n_groups: int) -> float:
    """SE of mean(d) with clusters: sqrt(sum_g (sum_{i in g} (d_i - mean))^2) / n * sqrt(G/(G-1))."""
    n = d.size
    if n_groups < 2:
        return math.nan
    resid = np.bincount(codes, weights=d - d.mean(), minlength=n_groups)
    return math.sqrt(float(np.sum(resid**2))) / n * math.sqrt(n_groups / (n_groups - 1))


def score_scale(b: np.ndarray, c: np.ndarray) -> float:
    """max(1, |scores|): differences below SPREAD_TOL times this are rounding, not spread."""
    return max(1.0, float(np.max(np.abs(b))), float(np.max(np.abs(c))))


def _zero_spread(
    d: np.ndarray, b: np.ndarray, c: np.ndarray, units: int
) -> tuple[ZeroSpreadInference, float, str]:
    value = float(d.mean())
    inference = ZeroSpreadInference(value, units, zero_spread_width(b, c, value))
    note = ALL_ZERO if value == 0.0 else f"every paired difference equals {value:+.4g}: no spread"
    note += (
        f"; {units} identical unit(s) bound the mean only through the score range "
        f"(+-{inference.width:.4g}), not by a standard error"
    )
    return inference, inference.equivalent_se(), note


def paired_t(
    base: object,
    candidate: object,
    *,
    alternative: Alternative = "two-sided",
    groups: object | None = None,
) -> PairedTestResult:
    """Paired t test on d; with ``groups``, the clustered SE and df = G - 1.

    Without any spread in d (every item, or every group, with the same difference) there is no
    standard error to divide by: the zero-spread bound (``ZeroSpreadInference``) replaces the t.

    >>> round(paired_t([0.1, 0.2, 0.3], [0.2, 0.4, 0.3]).statistic, 3)
    0.1
    """
    b, c = paired_sample(base, candidate, alternative)
    n = int(b.size)
    d = c - b
    mean = float(d.mean())
    clustered, n_groups = False, None
    if groups is not None:
        codes, n_groups = group_codes(groups, n)
        clustered = n_groups < n
    units = n_groups if clustered and n_groups is not None else n
    notes: list[str] = []
    details: dict[str, float] = {}
    df: float | None = None
    inference: NormalInference | Uninformative | ZeroSpreadInference | EitherInference | BoundedInference
    test = "paired_t_clustered" if clustered else "paired_t"
    if units < 2:
        inference = Uninformative()
        se = math.nan
        notes.append(ONE_UNIT)
    else:
        df = float(units - 1)
        if clustered and n_groups is not None:
            se, df = cr2_se_df(d, codes, n_groups)
        else:
            se = float(d.std(ddof=1)) / math.sqrt(n)
        if se <= SPREAD_TOL * score_scale(b, c):
            inference, se, note = _zero_spread(d, b, c, units)
            notes.append(note)
            if clustered and units < FEW_GROUPS:
                notes.append(few_groups_note(units))
        else:
            inference = NormalInference(mean, se, df=df)
            details = {"df": df, "t": mean / se}
            width = zero_spread_width(b, c, mean)
            if clustered and n_groups is not None and units >= SKEW_MIN_UNITS:
                resid = cr2_units(d, codes, n_groups)
                skew = SkewCorrectedInference(mean, se, df, kappa(resid))
                inference = EitherInference((inference, skew))
                details["kappa"] = skew.kappa
                test = "paired_t_clustered+skew_t"
                warning = skew_warning(resid, "groups")
                if warning:
                    notes.append(warning)
            if clustered and units < FEW_GROUPS:
                notes.append(few_groups_note(units))
            elif clustered and df < FEW_GROUPS - 1:
                notes.append(
                    f"groups of unequal size: {units} groups carry {df:.1f} degrees of freedom "
                    "(Imbens-Kolesar), as few as the largest groups; add or split groups"
                )
            # no interval wider than the scores allow (a t on a 0-1 metric once reached +1.001)
            inference = BoundedInference(inference, width)
    return mean_result(
        test, b, c, inference, alternative, se=se, details=details, notes=tuple(notes), df=df, n_groups=n_groups
    )


def few_groups_note(n_groups: int) -> str:
    return (
        f"only {n_groups} groups: the interval is unreliable (t on {n_groups - 1} df assumes "
        "roughly normal group means); add groups"
    )


def skewness(d: np.ndarray) -> float:
    """Sample skewness g1 = m3 / m2^1.5 (0 without spread)."""
    x = d - d.mean()
    m2 = float(np.mean(x * x))
    return float(np.mean(x**3)) / m2**1.5 if m2 > 0 else 0.0


def t_is_calibrated(d: np.ndarray) -> bool:
    """The rule for the plain paired t: n >= T_MIN_ITEMS and |skewness| <= T_MAX_SKEW_PER_ROOT_N * sqrt(n).

    The t's one-sided error grows like skewness / sqrt(n) (Edgeworth: about 0.11 g1 / sqrt(n) at
    alpha = 0.05), so the bound keeps it near 0.01; simulations in
    tests/harness/stats/test_stats_calibration_slow.py check the rule.
    """
    n = d.size
    return n >= T_MIN_ITEMS and abs(skewness(d)) <= T_MAX_SKEW_PER_ROOT_N * math.sqrt(n)


def continuous_test(
    base: object,
    candidate: object,
    *,
    alternative: Alternative = "two-sided",
    n_resamples: int = 10_000,
    rng: RngLike = None,
) -> PairedTestResult:
    """The calibrated test of mean(d) for continuous scores without groups.

    - no spread in d (or n = 1): the zero-spread bound (or no test), as ``paired_t``;
    - fewer than 5 items differ from the rest: Hoeffding's bound;
    - every difference -k, 0 or +k (sparse Likert deltas): the exact unconditional test of the
      paired-binary model (``_trinomial``);
    - n >= 30 and d not skewed for its n (``t_is_calibrated``): the paired t;
    - otherwise the studentised bootstrap (bootstrap-t, >= 2000 resamples; right under skew),
      and where n <= 16 or d takes at most 64 distinct values also the sign-flip permutation
      test (exact over all 2^n patterns for n <= 16, else >= 10^4 random patterns; exact for
      symmetric d such as sparse Likert deltas, where the bootstrap-t alone rejects too often):
      both must reject (p = the larger, interval = the hull of the two).
    Intervals invert the same test, so the gate's p-value and interval agree.
    """
    b, c = paired_sample(base, candidate, alternative, n_resamples)
    n = int(b.size)
    d = c - b
    if n < 2 or float(np.ptp(d)) <= SPREAD_TOL * score_scale(b, c):
        return paired_t(b, c, alternative=alternative)
    width = zero_spread_width(b, c, float(d.mean()))
    movers = carriers(d)
    if movers < MIN_CARRIERS:
        return _hoeffding_result(b, c, d, width, movers, alternative)
    step = three_point_step(d)
    if step is not None:
        return trinomial_test(b, c, d, step, alternative)
    gen = as_rng(rng)
    discrete = np.unique(d).size <= MAX_DISTINCT_FOR_FLIPS
    if t_is_calibrated(d):
        return _with_skew_check(paired_t(b, c, alternative=alternative), d, width, alternative)
    resamples = max(int(n_resamples), MIN_BOOTSTRAP_T_RESAMPLES)
    boot = bootstrap_t(d, resamples, gen)
    skew = skewness(d)
    inference: EitherInference | BootstrapTInference = boot
    test = "bootstrap_t"
    if n <= EXACT_FLIP_MAX or discrete:
        flip = sign_flip(d, max(int(n_resamples), MIN_FLIP_RESAMPLES), gen)
        inference = EitherInference((flip, boot))
        test = "sign_flip_exact+bootstrap_t" if flip.exact else "sign_flip+bootstrap_t"
    bounded = BoundedInference(inference, width)
    result = mean_result(
        test,
        b,
        c,
        bounded,
        alternative,
        se=boot.se,
        details={"skewness": skew, "t": boot.mean / boot.se},
        df=float(n - 1),
        n_resamples=resamples,
        notes=(
            f"paired t not used (n={n}, skewness {skew:+.2f}): "
            + (
                "sign-flip and studentised bootstrap tests, both must reject"
                if test != "bootstrap_t"
                else "studentised bootstrap"
            ),
        ),
    )
    return _with_skew_check(result, d, width, alternative)


def _with_skew_check(res: PairedTestResult, d: np.ndarray, width: float, alternative: Alternative) -> PairedTestResult:
    """The skewness-corrected t (``_skew``) must reject too: the t and the bootstrap-t miss the
    skew a heavy tail puts into T when the sample shows little of that tail."""
    n = d.size
    if n < SKEW_MIN_UNITS:
        return res
    mean = float(d.mean())
    se = float(d.std(ddof=1)) / math.sqrt(n)
    skew = SkewCorrectedInference(mean, se, float(n - 1), kappa(d - mean))
    inner = res.inference.inner if isinstance(res.inference, BoundedInference) else res.inference
    both = BoundedInference(EitherInference((inner, skew)), width)
    warning = skew_warning(d - mean, "items")
    notes = (*res.notes, warning) if warning else res.notes
    return replace(
        res,
        test=res.test + "+skew_t",
        pvalue=both.pvalue(0.0, alternative),
        inference=both,
        details={**res.details, "kappa": skew.kappa},
        notes=notes,
        note=notes[0] if notes else "",
    )


def _hoeffding_result(
    b: np.ndarray, c: np.ndarray, d: np.ndarray, width: float, movers: int, alternative: Alternative
) -> PairedTestResult:
    n = int(d.size)
    inference = HoeffdingInference(float(d.mean()), n, width)
    low, _ = inference.interval(0.90)
    return mean_result(
        "hoeffding",
        b,
        c,
        inference,
        alternative,
        se=(float(d.mean()) - low) / 1.6448536269514722,
        details={"carriers": float(movers), "width": width},
        notes=(
            f"only {movers} of {n} item(s) differ from the others: nothing to resample, so the "
            f"bound is Hoeffding's for differences within +-{width:.4g} (valid for any distribution)",
        ),
    )


def wilcoxon_check(d: object, *, null: float = 0.0, alternative: Alternative = "two-sided") -> float | None:
    """Wilcoxon signed-rank (zsplit) p-value for H0: d is symmetric about ``null``; None if untestable."""
    check_alternative(alternative)
    x = np.asarray(d, dtype=float).reshape(-1) - null
    if x.size < 2:
        return None
    if not np.any(x):
        return 1.0
    from scipy.stats import wilcoxon  # here: scipy.stats costs ~0.8 s to import, and no gate uses it

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
    b, c = paired_sample(base, candidate, alternative, n_resamples)
    n = int(b.size)
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

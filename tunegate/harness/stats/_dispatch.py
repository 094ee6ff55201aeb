"""The metric's kind (and its groups) decide the paired test; see the package docstring."""

from __future__ import annotations

import numpy as np

from tunegate.harness.errors import StatsError
from tunegate.harness.metrics.base import CorpusFn, Kind
from tunegate.harness.stats._binary import check_binary, mcnemar_exact
from tunegate.harness.stats._bootstrap import group_codes
from tunegate.harness.stats._continuous import FEW_GROUPS, continuous_test, paired_t
from tunegate.harness.stats._corpus import approximate_randomization, corpus_bootstrap
from tunegate.harness.stats._results import Alternative, PairedTestResult, RngLike, as_rng

# Kept for callers that imported it: groups are handled by the CR2 clustered t (Imbens-Kolesar
# df) from 3 groups; below FEW_GROUPS the result notes that the interval is unreliable, and
# with 2 groups it makes no claim and says why.
MIN_GROUPS_FOR_CLT = FEW_GROUPS


def cluster_count(groups: object | None, n: int) -> int | None:
    """Number of groups when items share groups (None when every item stands alone)."""
    if groups is None:
        return None
    _, n_groups = group_codes(groups, n)
    return n_groups if n_groups < n else None


def paired_test(
    kind: Kind,
    base: np.ndarray,
    candidate: np.ndarray,
    *,
    base_stats: np.ndarray | None = None,
    cand_stats: np.ndarray | None = None,
    corpus: CorpusFn | None = None,
    groups: object | None = None,
    alternative: Alternative = "two-sided",
    n_resamples: int = 10_000,
    rng: RngLike = None,
) -> PairedTestResult:
    """Run the test the metric kind (and groups) call for; see the package docstring.

    binary: the exact unconditional Tango-ordered test; continuous: ``continuous_test``; corpus:
    paired bootstrap; with groups (fewer groups than items): the CR2 clustered t and the
    skewness-corrected t on group level for binary and continuous, the delete-one-group
    jackknife t for corpus. Deterministic given ``rng``.
    """
    gen = as_rng(rng)
    if kind == "corpus":
        if base_stats is None or cand_stats is None or corpus is None:
            raise StatsError(
                "a corpus metric must return per-item sufficient statistics (MetricScores.stats) "
                "and its corpus function (MetricScores.corpus); got none"
            )
        return corpus_bootstrap(
            base_stats,
            cand_stats,
            corpus,
            groups=groups,
            n_resamples=n_resamples,
            rng=gen,
            alternative=alternative,
        )
    if kind not in ("binary", "continuous"):
        raise StatsError(f"unknown metric kind {kind!r}; use one of ['binary', 'continuous', 'corpus']")
    if kind == "binary":
        # Validates 0/1 first, so binary scores get the same message with or without groups.
        check_binary(base, candidate)
        if cluster_count(groups, len(base)) is None:
            return mcnemar_exact(base, candidate, alternative=alternative)
        return paired_t(base, candidate, alternative=alternative, groups=groups)
    if cluster_count(groups, len(base)) is not None:
        return paired_t(base, candidate, alternative=alternative, groups=groups)
    return continuous_test(base, candidate, alternative=alternative, n_resamples=n_resamples, rng=gen)


def robustness_check(
    result: PairedTestResult,
    base: np.ndarray,
    candidate: np.ndarray,
    *,
    null: float,
    alternative: Alternative,
    base_stats: np.ndarray | None = None,
    cand_stats: np.ndarray | None = None,
    corpus: CorpusFn | None = None,
    n_resamples: int = 10_000,
    rng: RngLike = None,
) -> tuple[str, float] | None:
    """A second opinion on the same hypothesis: (name, p-value), or None when there is none.

    Only the corpus paired bootstrap at null 0 has one: approximate randomization (also a test
    of delta == 0). The Wilcoxon check is gone: it tests the median, not the mean, and agreed
    with wrong verdicts on skewed d; every other test is already the calibrated one.
    """
    if result.test == "paired_bootstrap" and null == 0.0 and corpus is not None and result.n >= 2:
        if base_stats is None or cand_stats is None:
            return None
        ar = approximate_randomization(
            base_stats,
            cand_stats,
            corpus,
            n_resamples=n_resamples,
            n_ci_resamples=0,
            rng=rng,
            alternative=alternative,
        )
        return ("approx_randomization", ar.pvalue)
    return None

"""The metric's kind (and its groups) decide the paired test; see the package docstring."""

from __future__ import annotations

import numpy as np

from harness.errors import StatsError
from harness.metrics.base import CorpusFn, Kind
from harness.stats._binary import mcnemar_exact
from harness.stats._bootstrap import cluster_bootstrap, group_codes
from harness.stats._continuous import paired_t, wilcoxon_check
from harness.stats._corpus import approximate_randomization, corpus_bootstrap
from harness.stats._results import Alternative, PairedTestResult, RngLike, as_rng

# Below this many groups the clustered SE is unreliable (few-cluster bias); bootstrap groups.
MIN_GROUPS_FOR_CLT = 30


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
    """Run the test the metric kind calls for (values for binary/continuous, stats for corpus)."""
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
    n_groups = cluster_count(groups, len(base))
    if n_groups is not None and n_groups < MIN_GROUPS_FOR_CLT:
        return cluster_bootstrap(
            base, candidate, groups, n_resamples=n_resamples, rng=gen, alternative=alternative
        )
    if n_groups is not None:
        return paired_t(base, candidate, alternative=alternative, groups=groups)
    if kind == "binary":
        return mcnemar_exact(base, candidate, alternative=alternative)
    return paired_t(base, candidate, alternative=alternative)


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

    paired t -> Wilcoxon signed rank (zsplit) on d - null; corpus bootstrap at null 0 ->
    approximate randomization. Exact McNemar and the clustered tests need no check here.
    """
    if result.test == "paired_t":
        p = wilcoxon_check(candidate - base, null=null, alternative=alternative)
        return None if p is None else ("wilcoxon_zsplit", p)
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

"""Paired bootstrap (one index draw for both systems), BCa intervals, cluster bootstrap.

The bootstrap resamples *units* (items, or whole groups) with their per-unit sufficient
statistics and recomputes the statistic from the resampled sums, so the same code serves the
mean of d and corpus metrics. Intervals are BCa (Efron & Tibshirani ch. 14, as
``scipy.stats.bootstrap(method="BCa")``), falling back to the percentile interval when BCa is
undefined (every resample on one side of the estimate, or a zero jackknife spread), and to the
exact value when the distribution has no spread at all. p-values are centred on the observed
delta (Berg-Kirkpatrick et al. 2012) and reported as (count + 1) / (R + 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtr, ndtri

from tunegate.harness.errors import StatsError
from tunegate.harness.stats._resample import resample_sums
from tunegate.harness.stats._results import (
    ONE_UNIT,
    Alternative,
    PairedTestResult,
    RngLike,
    as_rng,
    one_sided_from_counts,
    paired_sample,
)

# Maps summed unit statistics (..., q) to the statistic (...); must be vectorised.
SumsFn = Callable[[np.ndarray], np.ndarray]


def bca_parameters(dist: np.ndarray, observed: float, jackknife: np.ndarray) -> tuple[float, float]:
    """(z0, a): bias correction from the bootstrap distribution, acceleration from the jackknife."""
    below = np.count_nonzero(dist < observed) + np.count_nonzero(dist <= observed)
    with np.errstate(divide="ignore"):
        z0 = float(ndtri(below / (2.0 * dist.size)))
    dev = jackknife.mean() - jackknife
    denom = float(np.sum(dev**2)) ** 1.5
    a = float(np.sum(dev**3)) / (6.0 * denom) if denom > 0 else math.nan
    return z0, a


@dataclass(frozen=True)
class BootstrapInference:
    """Interval and p-values from a bootstrap distribution of the delta."""

    observed: float
    dist: np.ndarray = field(repr=False)
    z0: float = math.nan
    accel: float = math.nan
    informative: bool = True

    @property
    def method(self) -> str:
        if not self.informative:
            return "none"
        if float(np.ptp(self.dist)) == 0.0:
            return "exact"
        return "BCa" if math.isfinite(self.z0) and math.isfinite(self.accel) else "percentile"

    def interval(self, confidence_level: float) -> tuple[float, float]:
        tail = (1.0 - confidence_level) / 2.0
        method = self.method
        if method == "none":
            return (-math.inf, math.inf)
        if method == "exact":
            value = float(self.dist[0])
            return (min(value, self.observed), max(value, self.observed))
        if method == "BCa":
            probs = []
            for z_tail in (float(ndtri(tail)), float(ndtri(1.0 - tail))):
                num = self.z0 + z_tail
                probs.append(float(ndtr(self.z0 + num / (1.0 - self.accel * num))))
        else:
            probs = [tail, 1.0 - tail]
        low, high = np.quantile(self.dist, probs)
        return (float(low), float(high))

    def pvalue(self, null: float, alternative: Alternative) -> float:
        if not self.informative:
            return 1.0
        return one_sided_from_counts(self.dist, self.observed, null, alternative)


def bootstrap_units(
    units: np.ndarray,
    fn: SumsFn,
    *,
    n_resamples: int,
    rng: np.random.Generator,
) -> BootstrapInference:
    """Bootstrap ``fn(sum of resampled units)``; the jackknife drops one unit at a time."""
    units = np.asarray(units, dtype=float)
    total = units.sum(axis=0)
    observed = float(fn(total))
    if units.shape[0] < 2:
        return BootstrapInference(observed, np.full(1, observed), informative=False)
    dist = np.asarray(fn(resample_sums(units, n_resamples, rng)), dtype=float)
    finite = np.isfinite(dist)
    if not finite.all():
        if not finite.any():
            raise StatsError(
                "every bootstrap resample gave a NaN statistic; check the metric's corpus "
                "function on small totals (e.g. a zero denominator)"
            )
        dist = dist[finite]
    jack = np.asarray(fn(total - units), dtype=float)
    jack = jack[np.isfinite(jack)]
    z0, accel = bca_parameters(dist, observed, jack) if jack.size > 1 else (math.nan, math.nan)
    return BootstrapInference(observed, dist, z0, accel)


def _mean_fn(n: int) -> SumsFn:
    # Jackknife sums hold n - 1 items but are divided by n too: a rescaled jackknife leaves the
    # BCa acceleration (a ratio of third to 3/2-th powers of deviations) unchanged.
    return lambda sums: np.asarray(sums)[..., 0] / n


def _ratio_fn(sums: np.ndarray) -> np.ndarray:
    sums = np.asarray(sums)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums[..., 0] / sums[..., 1]


def paired_bootstrap(
    base: object,
    candidate: object,
    *,
    n_resamples: int = 10_000,
    rng: RngLike = None,
    alternative: Alternative = "two-sided",
) -> PairedTestResult:
    """Paired bootstrap of the mean delta: items are drawn once and keep both systems' scores.

    >>> res = paired_bootstrap([0, 1, 1, 0], [1, 1, 1, 0], n_resamples=1000, rng=0)
    >>> round(res.statistic, 2)
    0.25
    """
    b, c = paired_sample(base, candidate, alternative, n_resamples)
    n = int(b.size)
    inf = bootstrap_units((c - b)[:, None], _mean_fn(n), n_resamples=int(n_resamples), rng=as_rng(rng))
    return bootstrap_result(
        "paired_bootstrap",
        inf,
        n=n,
        base_mean=float(b.mean()),
        candidate_mean=float(c.mean()),
        alternative=alternative,
        n_resamples=n_resamples,
    )


def group_codes(groups: object, n: int) -> tuple[np.ndarray, int]:
    """Integer group codes (an item without a group is its own group) and the group count."""
    labels = list(groups)  # type: ignore[call-overload]
    if len(labels) != n:
        raise StatsError(f"groups has {len(labels)} entries for {n} items; give one group (or None) per item")
    codes: dict[object, int] = {}
    out = np.empty(n, dtype=np.int64)
    for i, g in enumerate(labels):
        key: object = ("\0item", i) if g is None else g
        out[i] = codes.setdefault(key, len(codes))
    return out, len(codes)


def cluster_bootstrap(
    base: object,
    candidate: object,
    groups: object,
    *,
    n_resamples: int = 10_000,
    rng: RngLike = None,
    alternative: Alternative = "two-sided",
) -> PairedTestResult:
    """Bootstrap whole groups (items sharing a source document) for the mean delta."""
    b, c = paired_sample(base, candidate, alternative, n_resamples)
    n = int(b.size)
    codes, n_groups = group_codes(groups, n)
    units = np.zeros((n_groups, 2))
    np.add.at(units[:, 0], codes, c - b)
    np.add.at(units[:, 1], codes, 1.0)
    inf = bootstrap_units(units, _ratio_fn, n_resamples=int(n_resamples), rng=as_rng(rng))
    return bootstrap_result(
        "cluster_bootstrap",
        inf,
        n=n,
        base_mean=float(b.mean()),
        candidate_mean=float(c.mean()),
        alternative=alternative,
        n_resamples=n_resamples,
        n_groups=n_groups,
    )


def bootstrap_result(
    test: str,
    inf: BootstrapInference,
    *,
    n: int,
    base_mean: float,
    candidate_mean: float,
    alternative: Alternative,
    n_resamples: int,
    n_groups: int | None = None,
) -> PairedTestResult:
    """Wrap a bootstrap distribution as a result; the SE is the distribution's spread."""
    se = float(np.std(inf.dist, ddof=1)) if inf.informative and inf.dist.size > 1 else math.nan
    return PairedTestResult(
        test=test,
        statistic=inf.observed,
        pvalue=inf.pvalue(0.0, alternative),
        alternative=alternative,
        n=n,
        base_mean=base_mean,
        candidate_mean=candidate_mean,
        se=se,
        inference=inf,
        clustered=n_groups is not None and n_groups < n,
        n_groups=n_groups,
        n_resamples=int(n_resamples),
        details={"z0": inf.z0, "acceleration": inf.accel},
        note=f"interval: {inf.method}" if inf.informative else ONE_UNIT,
    )

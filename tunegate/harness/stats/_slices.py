"""Slices and flips: where a change comes from.

A slice is every item carrying one tag value ("category=refund"). Each slice gets the same
paired test as the whole suite, two-sided at delta = 0, and Holm's correction across the slices
of the comparison (a suite with 20 tag values would otherwise "find" a regressed slice by
chance). Flips are the binary items that changed: right -> wrong and wrong -> right.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunegate.harness.metrics.base import CorpusFn, Kind
from tunegate.harness.stats._dispatch import paired_test
from tunegate.harness.stats._multiple import holm
from tunegate.harness.stats._results import PairedTestResult


def finite_or_none(x: Any) -> float | None:
    """A float for JSON, or None for a missing, NaN or infinite value."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass(frozen=True)
class SliceResult:
    """The paired test on the items of one tag value; ``verdict`` is IMPROVED, REGRESSED
    (Holm-adjusted p < alpha, by the sign of the improvement) or INCONCLUSIVE."""

    slice: str
    n: int
    base_mean: float
    candidate_mean: float
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    p_adjusted: float
    verdict: str
    failing_ids: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "slice": self.slice,
            "n": self.n,
            "base_mean": finite_or_none(self.base_mean),
            "candidate_mean": finite_or_none(self.candidate_mean),
            "delta": finite_or_none(self.delta),
            "ci_low": finite_or_none(self.ci_low),
            "ci_high": finite_or_none(self.ci_high),
            "p_value": finite_or_none(self.p_value),
            "p_adjusted": finite_or_none(self.p_adjusted),
            "verdict": self.verdict,
            "failing_ids": list(self.failing_ids),
        }


def failing_ids(
    base: np.ndarray, candidate: np.ndarray, ids: Sequence[str], rows: np.ndarray, sign: float = 1.0
) -> tuple[str, ...]:
    """Ids of ``rows`` where the candidate did worse, worst first (binary: base right, candidate wrong)."""
    worse = sign * (candidate[rows] - base[rows])
    order = np.argsort(worse, kind="stable")
    return tuple(ids[int(rows[k])] for k in order if worse[k] < 0)


def flips(
    base: np.ndarray, candidate: np.ndarray, ids: Sequence[str], higher_is_better: bool = True
) -> dict[str, list[str]]:
    """Binary items that changed: ``base_only`` right only for the base, ``candidate_only`` the reverse."""
    good_b, good_c = (base == 1, candidate == 1) if higher_is_better else (base == 0, candidate == 0)
    return {
        "base_only": [ids[int(i)] for i in np.flatnonzero(good_b & ~good_c)],
        "candidate_only": [ids[int(i)] for i in np.flatnonzero(good_c & ~good_b)],
    }


def slice_tests(
    kind: Kind,
    base: np.ndarray,
    candidate: np.ndarray,
    ids: Sequence[str],
    tags: Sequence[Mapping[str, str] | None],
    *,
    base_stats: np.ndarray | None = None,
    cand_stats: np.ndarray | None = None,
    corpus: CorpusFn | None = None,
    groups: Sequence[str | None] | None = None,
    alpha: float = 0.05,
    sign: float = 1.0,
    n_resamples: int = 2_000,
    seed: int = 0,
) -> list[SliceResult]:
    """One paired test per tag value, Holm-adjusted across them, in slice-name order."""
    members: dict[str, list[int]] = {}
    for row, item_tags in enumerate(tags):
        for key, value in sorted((item_tags or {}).items()):
            members.setdefault(f"{key}={value}", []).append(row)
    raw: list[tuple[str, np.ndarray, PairedTestResult]] = []
    for k, (name, rows_list) in enumerate(sorted(members.items())):
        rows = np.asarray(rows_list, dtype=np.int64)
        res = paired_test(
            kind,
            base[rows],
            candidate[rows],
            base_stats=None if base_stats is None else base_stats[rows],
            cand_stats=None if cand_stats is None else cand_stats[rows],
            corpus=corpus,
            groups=None if groups is None else [groups[int(r)] for r in rows],
            n_resamples=n_resamples,
            rng=np.random.default_rng([seed, 2, k]),
        )
        raw.append((name, rows, res))
    adjusted = holm([res.pvalue for _, _, res in raw])
    out = []
    for (name, rows, res), p_adj in zip(raw, adjusted, strict=True):
        low, high = res.confidence_interval(1.0 - alpha, "two-sided")
        verdict = "INCONCLUSIVE"
        if p_adj < alpha and res.statistic != 0:
            verdict = "IMPROVED" if sign * res.statistic > 0 else "REGRESSED"
        out.append(
            SliceResult(
                slice=name,
                n=res.n,
                base_mean=res.base_mean,
                candidate_mean=res.candidate_mean,
                delta=res.statistic,
                ci_low=low,
                ci_high=high,
                p_value=res.pvalue,
                p_adjusted=float(p_adj),
                verdict=verdict,
                failing_ids=failing_ids(base, candidate, ids, rows, sign),
            )
        )
    return out


def order_slices(
    slices: Sequence[SliceResult], sign: float = 1.0, margin: float | None = None
) -> list[SliceResult]:
    """The slice driving a regression first: significant regressions, then slices worse than
    ``margin``, each worst delta first; then the rest, worst first."""

    def key(s: SliceResult) -> tuple[bool, bool, float]:
        worse = sign * s.delta if math.isfinite(s.delta) else math.inf
        large = margin is not None and worse < -margin
        return (s.verdict != "REGRESSED", not large, worse)

    return sorted(slices, key=key)

"""``compare_scores``: pair two systems' per-item scores and run the paired test for the metric's kind."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from tunegate.harness.compare.alignment import align, check_unique, pair
from tunegate.harness.compare.result import Against, Comparison, check_alpha
from tunegate.harness.errors import StatsError
from tunegate.harness.levels import DEFAULT_ALPHA, DEFAULT_COVERAGE_FLOOR, check_coverage_floor
from tunegate.harness.metrics.base import KINDS, Kind, MetricScores
from tunegate.harness.stats import SliceResult, flips, paired_test, slice_tests

# Resampling tests re-run once per slice; this many resamples keeps their p down to ~5e-4.
SLICE_RESAMPLES = 2_000


def compare_scores(
    *,
    suite: str,
    metric_name: str,
    kind: Kind,
    ids: Sequence[str],
    base: MetricScores,
    candidate: MetricScores,
    candidate_label: str = "candidate",
    groups: Sequence[str | None] | None = None,
    tags: Sequence[Mapping[str, str]] | None = None,
    metric_info: dict | None = None,
    alpha: float = DEFAULT_ALPHA,
    seed: int = 0,
    n_resamples: int = 10_000,
    higher_is_better: bool = True,
    base_ids: Sequence[str] | None = None,
    candidate_ids: Sequence[str] | None = None,
    worst: float | None = None,
    coverage_floor: float = DEFAULT_COVERAGE_FLOOR,
    advisory: bool = False,
    against: Against = "base",
    reference: str | None = None,
) -> Comparison:
    """Pair base and candidate scores by item id and run the paired test for ``kind``.

    ``ids`` name the rows of both score arrays; when the two systems were scored in another
    order (or on other items), pass ``base_ids`` / ``candidate_ids``: rows are matched by id and
    differing id sets are refused. Unscored items (NaN/None) count at the metric's ``worst``
    score, or lower the coverage when ``MetricScores.infra`` marks them (see
    ``tunegate.harness.compare.alignment``); below ``coverage_floor`` a gate is INCOMPLETE.

    ``against`` says which model ``base`` holds: the base (default) or the reference in production
    (``reference``: its label); messages and the record name the pair.
    """
    where = f"{metric_name} on {suite}"
    if kind not in KINDS:
        raise StatsError(f"{where}: unknown metric kind {kind!r}; use one of {list(KINDS)}")
    alpha = check_alpha(alpha)
    if int(n_resamples) < 1:
        raise StatsError(f"{where}: n_resamples must be >= 1, got {n_resamples!r}")
    coverage_floor = check_coverage_floor(coverage_floor)
    ids = [str(i) for i in ids]
    check_unique(ids, where)
    base = align(base, ids, base_ids, "base", where)
    candidate = align(candidate, ids, candidate_ids, candidate_label, where)
    n_all = len(ids)
    for name, seq in (("groups", groups), ("tags", tags)):
        if seq is not None and len(seq) != n_all:
            raise StatsError(f"{where}: {name} has {len(seq)} entries for {n_all} items; give one per item")
    paired = pair(
        kind=kind,
        ids=ids,
        base=base,
        candidate=candidate,
        label=candidate_label,
        where=where,
        higher_is_better=higher_is_better,
        worst=worst,
        coverage_floor=coverage_floor,
    )
    b, c, keep = paired.base, paired.candidate, list(paired.keep)
    if kind == "binary":
        _check_binary(b, c, paired.ids, where)
    corpus = base.corpus or candidate.corpus
    used_groups = tuple(groups[i] for i in keep) if groups is not None else None
    result = paired_test(
        kind,
        b,
        c,
        base_stats=paired.base_stats,
        cand_stats=paired.candidate_stats,
        corpus=corpus,
        groups=used_groups,
        n_resamples=int(n_resamples),
        rng=np.random.default_rng(seed),
    )
    slices: tuple[SliceResult, ...] = ()
    if tags is not None:
        slices = tuple(
            slice_tests(
                kind,
                b,
                c,
                list(paired.ids),
                [tags[i] for i in keep],
                base_stats=paired.base_stats,
                cand_stats=paired.candidate_stats,
                corpus=corpus,
                groups=used_groups,
                alpha=alpha,
                sign=1.0 if higher_is_better else -1.0,
                n_resamples=min(int(n_resamples), SLICE_RESAMPLES),
                seed=seed,
            )
        )
    return Comparison(
        suite=suite,
        metric=metric_name,
        kind=kind,
        candidate=candidate_label,
        ids=paired.ids,
        result=result,
        coverage=paired.coverage,
        alpha=alpha,
        higher_is_better=higher_is_better,
        advisory=advisory,
        failed_ids=paired.failed_ids,
        metric_info=dict(metric_info or {}),
        slices=slices,
        flips=flips(b, c, list(paired.ids), higher_is_better) if kind == "binary" else None,
        base_values=b,
        candidate_values=c,
        base_stats=paired.base_stats,
        candidate_stats=paired.candidate_stats,
        corpus=corpus,
        groups=used_groups,
        against=against,
        reference=reference,
    )


def side_mean(
    scores: MetricScores, ids: Sequence[str], used: Sequence[str], *, kind: Kind, worst: float | None
) -> float | None:
    """A third model's mean on the items a comparison used (``used``, a subset of ``ids``, the order
    ``scores`` rows are in): descriptive, for the three-column view, never tested. Unscored items
    count at ``worst`` as in the pair (left out when there is none); a corpus metric's mean is its
    corpus score of the summed statistics."""
    pos = {str(i): k for k, i in enumerate(ids)}
    rows = [pos[i] for i in used if i in pos]
    if not rows:
        return None
    if kind == "corpus" and scores.stats is not None and scores.corpus is not None:
        stats = np.asarray(scores.stats, dtype=float)[rows]
        stats = stats[np.isfinite(stats).all(axis=1)]
        return float(scores.corpus(stats.sum(axis=0))) if len(stats) else None
    values = np.asarray([np.nan if v is None else float(v) for v in np.asarray(scores.values, dtype=object)[rows]])
    if worst is not None:
        values = np.where(np.isfinite(values), values, worst)
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else None


def _check_binary(b: np.ndarray, c: np.ndarray, ids: tuple[str, ...], where: str) -> None:
    bad = ~np.isin(b, (0.0, 1.0)) | ~np.isin(c, (0.0, 1.0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise StatsError(
            f"{where}: binary scores must be 0 or 1; item {ids[i]!r} has base={float(b[i])!r}, "
            f"candidate={float(c[i])!r}; declare the metric kind 'continuous' for fractional scores"
        )


__all__ = ["DEFAULT_COVERAGE_FLOOR", "SLICE_RESAMPLES", "compare_scores", "side_mean"]

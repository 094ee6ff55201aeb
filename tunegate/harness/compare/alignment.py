"""Pairing two systems' scores by item id, and what happens to items that could not be scored.

Missing scores are evidence, not noise (docs/statistics.md):

- an item a system could not answer in a scorable form (its output did not parse, the metric
  returned None/NaN for it) counts against that system: it gets the worst score the metric
  declares (``worst``; 0/1 for binary metrics). A continuous metric that declares none is refused
  when an item is unscored: the lowest score seen in the run is no worst (it rewards failing);
- an item that could not be scored for a reason outside both models (``MetricScores.infra``: a
  judge API that failed, a budget that ran out) is left out of both sides and lowers the
  comparison's coverage; a gate whose coverage is below its floor is INCOMPLETE.

Corpus metrics have no per-item worst score (their sufficient statistics are not scores), so
their unscored items always lower coverage.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from tunegate.harness.errors import StatsError
from tunegate.harness.metrics.base import MetricScores

SHOWN_IDS = 3


@dataclass(frozen=True)
class Coverage:
    """How many items of a comparison carry a real score on both sides, and why the others do not."""

    n_items: int
    n_scored: int
    unscored_base: int
    unscored_candidate: int
    infra: int
    floor: float
    worst: float | None = None
    reasons: tuple[str, ...] = ()

    @property
    def n_used(self) -> int:
        """Items in the test: scored ones plus those counted at the worst score."""
        return self.n_items - self.infra

    @property
    def share(self) -> float:
        return self.n_used / self.n_items if self.n_items else 0.0

    @property
    def ok(self) -> bool:
        return self.share >= self.floor

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_items": self.n_items,
            "n_scored": self.n_scored,
            "n_used": self.n_used,
            "unscored_base": self.unscored_base,
            "unscored_candidate": self.unscored_candidate,
            "infra": self.infra,
            "share": self.share,
            "floor": self.floor,
            "ok": self.ok,
            "worst": self.worst,
            "reasons": list(self.reasons),
        }

    def text(self, label: str, other: str = "base") -> str:
        """One sentence for messages; empty when every item was scored. ``other``: the model the
        candidate is paired with (``base``, or ``reference (label)``)."""
        parts = []
        worst = "n/a" if self.worst is None else f"{self.worst:g}"
        if self.unscored_candidate:
            parts.append(f"{self.unscored_candidate} {label} item(s) could not be scored and count at the worst score ({worst})")
        if self.unscored_base:
            parts.append(f"{self.unscored_base} {other} item(s) could not be scored and count at the worst score ({worst})")
        if self.infra:
            parts.append(
                f"{self.infra} item(s) were not scored for reasons outside the models (e.g. the judge failed): "
                f"coverage {100 * self.share:.0f}% (floor {100 * self.floor:.0f}%)"
            )
        if not parts:
            return ""
        first = f" First: {self.reasons[0]}." if self.reasons else ""
        return "; ".join(parts) + "." + first


@dataclass(frozen=True)
class Paired:
    """Aligned per-item arrays ready for the paired test (unscored items resolved)."""

    ids: tuple[str, ...]
    base: np.ndarray
    candidate: np.ndarray
    base_stats: np.ndarray | None
    candidate_stats: np.ndarray | None
    keep: tuple[int, ...]
    coverage: Coverage
    failed_ids: tuple[str, ...]


def check_unique(ids: list[str], where: str) -> None:
    seen: set[str] = set()
    dupes: list[str] = []
    for item in ids:
        if item in seen:
            dupes.append(item)
        seen.add(item)
    if dupes:
        raise StatsError(f"{where}: duplicate item ids {sorted(set(dupes))[:SHOWN_IDS]}; ids must be unique")


def align(scores: MetricScores, ids: list[str], row_ids: Sequence[str] | None, who: str, where: str) -> MetricScores:
    """Scores with rows in ``ids`` order; refuses differing id sets or lengths."""
    n_rows = len(scores.values)
    if row_ids is None:
        if n_rows != len(ids):
            raise StatsError(
                f"{where}: {who} has {n_rows} scores for {len(ids)} ids; the two systems must be "
                f"scored on the same items (ids start {ids[:SHOWN_IDS]})"
            )
        return scores
    row_ids = [str(i) for i in row_ids]
    if len(row_ids) != n_rows:
        raise StatsError(f"{where}: {who} has {n_rows} scores but {len(row_ids)} ids")
    row_set, id_set = set(row_ids), set(ids)
    missing = [i for i in ids if i not in row_set]
    extra = [i for i in row_ids if i not in id_set]
    if missing or extra or len(row_ids) != len(ids):
        raise StatsError(
            f"{where}: the item ids of {who} differ from the base's: missing {missing[:SHOWN_IDS]} "
            f"({len(missing)} in all), unexpected {extra[:SHOWN_IDS]} ({len(extra)} in all); score both "
            "systems on the same suite version and sample"
        )
    pos = {item: k for k, item in enumerate(row_ids)}
    order = np.array([pos[i] for i in ids], dtype=np.int64)
    return replace(
        scores,
        values=np.asarray(scores.values)[order],
        stats=None if scores.stats is None else np.asarray(scores.stats)[order],
        failures=tuple(scores.failures[k] for k in order) if scores.failures else (),
        infra=tuple(scores.infra[k] for k in order) if scores.infra else (),
    )


def _values(scores: MetricScores, n: int, who: str, where: str) -> np.ndarray:
    try:
        values = np.asarray(
            [np.nan if v is None else v for v in np.asarray(scores.values, dtype=object).reshape(-1)], dtype=float
        )
    except (TypeError, ValueError):
        raise StatsError(f"{where}: {who} scores must be numbers (or None/NaN for an unscored item)") from None
    if values.shape[0] != n:
        raise StatsError(f"{where}: {who} has {values.shape[0]} scores for {n} items")
    return values


def _flags(flags: tuple[bool, ...], n: int) -> np.ndarray:
    if not flags:
        return np.zeros(n, dtype=bool)
    if len(flags) != n:
        return np.zeros(n, dtype=bool)
    return np.asarray([bool(f) for f in flags], dtype=bool)


def worst_score(kind: str, higher_is_better: bool, declared: float | None) -> float | None:
    """The score an unscored item counts at: the metric's declared worst (0/1 for binary)."""
    if declared is not None and math.isfinite(declared):
        return float(declared)
    if kind == "binary":
        return 0.0 if higher_is_better else 1.0
    return None


def pair(
    *,
    kind: str,
    ids: list[str],
    base: MetricScores,
    candidate: MetricScores,
    label: str,
    where: str,
    higher_is_better: bool,
    worst: float | None,
    coverage_floor: float,
) -> Paired:
    """Resolve unscored items (worst score or coverage loss) and return the arrays to test."""
    n = len(ids)
    b = _values(base, n, "base", where)
    c = _values(candidate, n, label, where)
    b_stats = c_stats = None
    stats_ok = np.ones(n, dtype=bool)
    if kind == "corpus":
        if base.stats is None or candidate.stats is None or (base.corpus or candidate.corpus) is None:
            raise StatsError(
                f"{where}: a corpus metric must return per-item sufficient statistics (MetricScores.stats) "
                "and its corpus function (MetricScores.corpus); fix the metric or declare another kind"
            )
        b_stats, c_stats = np.asarray(base.stats, dtype=float), np.asarray(candidate.stats, dtype=float)
        if b_stats.shape != c_stats.shape or b_stats.shape[0] != n:
            raise StatsError(
                f"{where}: statistics shapes {b_stats.shape} (base) and {c_stats.shape} (candidate) "
                f"do not match {n} items"
            )
        stats_ok = np.isfinite(b_stats).all(axis=1) & np.isfinite(c_stats).all(axis=1)
    b_bad, c_bad = ~np.isfinite(b), ~np.isfinite(c)
    infra = (b_bad & _flags(base.infra, n)) | (c_bad & _flags(candidate.infra, n))
    if kind == "corpus":
        infra |= ~stats_ok | b_bad | c_bad
    b_fail = b_bad & ~infra
    c_fail = c_bad & ~infra
    fill = worst_score(kind, higher_is_better, worst)
    if fill is None and (b_bad & c_bad).all():
        # Nothing was scored at all: refused below, naming the first reason.
        infra |= b_fail | c_fail
        b_fail = c_fail = np.zeros(n, dtype=bool)
    if fill is None and (b_fail | c_fail).any():
        i = int(np.flatnonzero(b_fail | c_fail)[0])
        raise StatsError(
            f"{where}: {int(np.count_nonzero(b_fail | c_fail))} item(s) could not be scored (first: "
            f"{_reason(ids[i], i, base, candidate, label)}) and the metric declares no worst score to count "
            "them at; give the metric a worst_score attribute (custom_metric(..., worst=...)), or mark items "
            "unscored for reasons outside the model in MetricScores.infra"
        )
    reasons = tuple(
        _reason(ids[i], i, base, candidate, label) for i in np.flatnonzero(b_bad | c_bad | ~stats_ok)[:SHOWN_IDS]
    )
    coverage = Coverage(
        n_items=n,
        n_scored=int(np.count_nonzero(~(b_bad | c_bad | ~stats_ok))),
        unscored_base=int(np.count_nonzero(b_fail)),
        unscored_candidate=int(np.count_nonzero(c_fail)),
        infra=int(np.count_nonzero(infra)),
        floor=coverage_floor,
        worst=fill,
        reasons=reasons,
    )
    if coverage.n_used == 0:
        raise StatsError(
            f"{where}: none of the {n} items could be scored"
            + (f" (first: {reasons[0]})" if reasons else "")
            + "; fix the metric or judge and run again"
        )
    b = np.where(b_fail, fill if fill is not None else np.nan, b)
    c = np.where(c_fail, fill if fill is not None else np.nan, c)
    keep = tuple(int(i) for i in np.flatnonzero(~infra))
    failed = tuple(ids[i] for i in np.flatnonzero(b_bad | c_bad | ~stats_ok))
    return Paired(
        ids=tuple(ids[i] for i in keep),
        base=b[list(keep)],
        candidate=c[list(keep)],
        base_stats=None if b_stats is None else b_stats[list(keep)],
        candidate_stats=None if c_stats is None else c_stats[list(keep)],
        keep=keep,
        coverage=coverage,
        failed_ids=failed,
    )


def _reason(item: str, i: int, base: MetricScores, cand: MetricScores, label: str) -> str:
    parts = []
    for who, s in (("base", base), (label, cand)):
        why = s.failures[i] if i < len(s.failures) else None
        infra = bool(s.infra[i]) if i < len(s.infra) else False
        value = s.values[i]
        try:
            unscored = value is None or not math.isfinite(float(value))
        except (TypeError, ValueError):
            unscored = True
        if why:
            parts.append(f"{who}: {why}" + (" (outside the model)" if infra else ""))
        elif unscored:
            parts.append(f"{who}: no score" + (" (outside the model)" if infra else ""))
    return f"{item}: " + ("; ".join(parts) or "statistics not finite")

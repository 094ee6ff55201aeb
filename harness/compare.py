"""Base-vs-candidate comparisons and their gates (superiority and non-inferiority).

``compare_scores`` pairs two systems' per-item scores by id, runs the paired test the metric's
kind calls for (see ``harness.stats``), breaks the result down by tag slices and lists flipped
items. A ``Comparison`` is then gated inside a test:

    result = compare_scores(suite="support/eval", metric_name="exact_match", kind="binary",
                            ids=ids, base=base_scores, candidate=cand_scores)
    result.assert_no_regression(margin=0.02)

Verdicts (one-sided tests at ``alpha``; intervals are two-sided at 1 - 2 alpha, so each bound is
the one-sided bound the decision uses):

- ``assert_improves(min_delta)``: H0 delta <= min_delta. IMPROVED when p < alpha; else REGRESSED
  when the whole interval is below 0; else UNDERPOWERED when the MDE exceeds ``min_delta`` (only
  when ``min_delta`` > 0: there is no effect size to power against at 0) or cannot be estimated;
  else INCONCLUSIVE. The MDE is always stated.
- ``assert_no_regression(margin)``: REGRESSED when the interval reaches -margin and lies below 0;
  UNDERPOWERED when the MDE exceeds the margin (a suite that could not have failed never passes),
  unless the candidate is shown better than the base (lower bound > 0: a drop is ruled out
  whatever the power); NON_INFERIOR when the lower bound is above -margin; else INCONCLUSIVE.

For binary metrics a gate against a non-zero null (a margin, ``min_delta`` > 0) takes its p-value
from Tango's score test, the test the reported interval inverts; at 0 it is exact McNemar.
Each gate also records a distribution-free second opinion (``GateRecord.check``: Wilcoxon for
paired t, approximate randomization for corpus metrics); the message says when it disagrees.

For metrics where lower is better (``higher_is_better=False``) deltas are reported as measured
(candidate - base) and the gates work on the improvement (base - candidate).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from harness.errors import GateFailure, StatsError
from harness.metrics.base import KINDS, CorpusFn, Kind, MetricScores
from harness.stats import (
    PairedTestResult,
    SliceResult,
    finite_or_none,
    flips,
    holm,
    items_needed,
    minimum_detectable_effect,
    order_slices,
    paired_test,
    robustness_check,
    slice_tests,
)

Verdict = Literal["IMPROVED", "NON_INFERIOR", "UNDERPOWERED", "REGRESSED", "INCONCLUSIVE", "NOT_GATED"]
GateType = Literal["improves", "no_regression"]
PASSING: frozenset[str] = frozenset({"IMPROVED", "NON_INFERIOR", "NOT_GATED"})

# Resampling tests re-run once per slice; this many resamples keeps their p down to ~5e-4.
SLICE_RESAMPLES = 2_000
_SHOWN_IDS = 3

_TEST_NAMES = {
    "mcnemar_exact": "exact McNemar",
    "paired_t": "paired t",
    "paired_t_clustered": "clustered paired t",
    "paired_bootstrap": "paired bootstrap",
    "cluster_bootstrap": "cluster bootstrap",
    "approx_randomization": "approximate randomization",
}


class AdvisoryGateWarning(UserWarning):
    """An advisory comparison (e.g. from an unreliable judge) failed its gate; it cannot fail the run."""


@dataclass(frozen=True)
class GateRecord:
    """One gate applied to a comparison, with everything the report needs."""

    type: GateType
    alpha: float
    verdict: Verdict
    passed: bool
    p_value: float
    ci_low: float
    ci_high: float
    ci_level: float
    mde: float
    min_delta: float | None = None
    margin: float | None = None
    n_needed: int | None = None
    p_adjusted: float | None = None
    check: tuple[str, float] | None = None
    message: str = ""


@dataclass(eq=False)
class Comparison:
    """Paired scores of base and candidate for one metric on one suite, and the gates applied.

    Plain data: ``result`` is the two-sided test at delta = 0; ``gates`` records every gate call
    in order. Set ``advisory = True`` before gating to record failures as warnings only.
    """

    suite: str
    metric: str
    kind: Kind
    candidate: str
    ids: tuple[str, ...]
    result: PairedTestResult
    alpha: float = 0.05
    higher_is_better: bool = True
    seed: int = 0
    n_resamples: int = 10_000
    failed_ids: tuple[str, ...] = ()
    failure_reasons: tuple[str, ...] = ()
    metric_info: dict[str, Any] = field(default_factory=dict)
    slices: list[SliceResult] = field(default_factory=list)
    flips: dict[str, list[str]] | None = None
    advisory: bool = False
    gates: list[GateRecord] = field(default_factory=list)
    base_values: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    candidate_values: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    base_stats: np.ndarray | None = field(default=None, repr=False)
    candidate_stats: np.ndarray | None = field(default=None, repr=False)
    corpus: CorpusFn | None = field(default=None, repr=False)
    groups: tuple[str | None, ...] | None = field(default=None, repr=False)

    @property
    def id(self) -> str:
        return f"{self.suite}::{self.metric}::{self.candidate}"

    @property
    def n(self) -> int:
        return self.result.n

    @property
    def n_failed(self) -> int:
        return len(self.failed_ids)

    @property
    def delta(self) -> float:
        return self.result.statistic

    @property
    def sign(self) -> float:
        return 1.0 if self.higher_is_better else -1.0

    @property
    def gate(self) -> GateRecord | None:
        """The gate that decides this comparison: the latest failing one, else the latest."""
        failing = [g for g in self.gates if not g.passed]
        if failing:
            return failing[-1]
        return self.gates[-1] if self.gates else None

    @property
    def verdict(self) -> Verdict:
        gate = self.gate
        return "NOT_GATED" if gate is None else gate.verdict

    @property
    def passed(self) -> bool:
        gate = self.gate
        return True if gate is None else gate.passed

    # -- gates ------------------------------------------------------------------------------

    def assert_improves(self, min_delta: float = 0.0, alpha: float | None = None) -> Comparison:
        """Superiority: one-sided test of H0 delta <= min_delta; raises GateFailure unless IMPROVED."""
        if not (math.isfinite(min_delta) and min_delta >= 0):
            raise StatsError(
                f"min_delta must be a number >= 0, got {min_delta!r}; for 'not worse by more than x' "
                "use assert_no_regression(margin=x)"
            )
        record = self._decide(
            "improves", float(min_delta), _check_alpha(self.alpha if alpha is None else alpha)
        )
        return self._record(record)

    def assert_no_regression(self, margin: float, alpha: float | None = None) -> Comparison:
        """Non-inferiority: passes when the one-sided (1 - alpha) lower bound is above -margin."""
        if not (math.isfinite(margin) and margin > 0):
            raise StatsError(
                f"margin must be a number > 0, got {margin!r}; 'no change at all' cannot be shown "
                "by any finite suite: pick the largest drop you can accept, e.g. margin=0.02"
            )
        record = self._decide(
            "no_regression", float(margin), _check_alpha(self.alpha if alpha is None else alpha)
        )
        return self._record(record)

    def _record(self, record: GateRecord) -> Comparison:
        self.gates.append(record)
        if not record.passed:
            if self.advisory:
                warnings.warn(
                    f"advisory only, not failing the run: {record.message}", AdvisoryGateWarning, stacklevel=3
                )
            else:
                raise GateFailure(record.message)
        return self

    def _decide(
        self, gate: GateType, size: float, alpha: float, *, p_adjusted: float | None = None
    ) -> GateRecord:
        res, sign = self.result, self.sign
        level = 1.0 - 2.0 * alpha
        low, high = res.confidence_interval(level, "two-sided")
        low_o, high_o = (low, high) if sign > 0 else (-high, -low)
        null = sign * (size if gate == "improves" else -size)
        alternative: Literal["greater", "less"] = "greater" if sign > 0 else "less"
        p = res.pvalue_at(null, alternative)
        mde = minimum_detectable_effect(res.se, alpha=alpha)
        p_decide = p if p_adjusted is None else p_adjusted
        underpowered = not math.isfinite(mde) or (size > 0 and mde > size)
        verdict: Verdict
        if gate == "improves":
            if p_decide < alpha:
                verdict = "IMPROVED"
            elif high_o < 0:
                verdict = "REGRESSED"
            elif underpowered:
                verdict = "UNDERPOWERED"
            else:
                verdict = "INCONCLUSIVE"
        elif high_o < 0 and low_o <= -size:
            verdict = "REGRESSED"
        elif underpowered and not low_o > 0:
            # Shown better than the base: a drop to -margin is ruled out whatever the power.
            verdict = "UNDERPOWERED"
        elif low_o > -size:
            verdict = "NON_INFERIOR"
        else:
            verdict = "INCONCLUSIVE"
        needed = (
            items_needed(res.se, res.n, size, alpha=alpha)
            if verdict in ("UNDERPOWERED", "INCONCLUSIVE")
            else None
        )
        check = self._check(null, alternative)
        record = GateRecord(
            type=gate,
            alpha=alpha,
            verdict=verdict,
            passed=verdict in PASSING,
            p_value=p,
            ci_low=low,
            ci_high=high,
            ci_level=level,
            mde=mde,
            min_delta=size if gate == "improves" else None,
            margin=size if gate == "no_regression" else None,
            n_needed=needed,
            p_adjusted=p_adjusted,
            check=check,
        )
        return replace(record, message=_gate_message(self, record))

    def _check(self, null: float, alternative: Literal["greater", "less"]) -> tuple[str, float] | None:
        return robustness_check(
            self.result,
            self.base_values,
            self.candidate_values,
            null=null,
            alternative=alternative,
            base_stats=self.base_stats,
            cand_stats=self.candidate_stats,
            corpus=self.corpus,
            n_resamples=self.n_resamples,
            rng=np.random.default_rng([self.seed, 1]),
        )

    # -- output -----------------------------------------------------------------------------

    def summary(self) -> str:
        """One sentence with the ungated result (used as the message when no gate ran)."""
        res = self.result
        low, high = res.confidence_interval(1.0 - self.alpha, "two-sided")
        return (
            f"{self.metric} on {self.suite}, base -> {self.candidate}: {_g(res.base_mean)} -> "
            f"{_g(res.candidate_mean)}, delta {_signed(res.statistic)} [{_pct(1 - self.alpha)} CI "
            f"{_signed(low)}, {_signed(high)}], {_test_name(res.test)} two-sided {_p(res.pvalue)}, "
            f"n={res.n}{_failed(self)}."
        )

    def to_dict(self) -> dict[str, Any]:
        """The "comparisons" entry of results.json (reports/SCHEMA.md); NaN and inf become null."""
        res, gate = self.result, self.gate
        if gate is None:
            low, high = res.confidence_interval(1.0 - self.alpha, "two-sided")
            level, p, p_adj, alternative = 1.0 - self.alpha, res.pvalue, None, "two-sided"
            gate_dict: dict[str, Any] = {
                "type": "none",
                "min_delta": None,
                "margin": None,
                "alpha": self.alpha,
            }
            mde, needed, message = minimum_detectable_effect(res.se, alpha=self.alpha), None, self.summary()
        else:
            low, high, level, p, p_adj = (
                gate.ci_low,
                gate.ci_high,
                gate.ci_level,
                gate.p_value,
                gate.p_adjusted,
            )
            alternative = "greater" if self.higher_is_better else "less"
            gate_dict = {
                "type": gate.type,
                "min_delta": gate.min_delta,
                "margin": gate.margin,
                "alpha": gate.alpha,
            }
            mde, needed, message = gate.mde, gate.n_needed, gate.message
        return {
            "id": self.id,
            "suite": self.suite,
            "metric": self.metric,
            "kind": self.kind,
            "candidate": self.candidate,
            "test": res.test,
            "n": res.n,
            "n_failed": self.n_failed,
            "base_mean": finite_or_none(res.base_mean),
            "candidate_mean": finite_or_none(res.candidate_mean),
            "delta": finite_or_none(res.statistic),
            "ci_low": finite_or_none(low),
            "ci_high": finite_or_none(high),
            "ci_level": finite_or_none(level),
            "se": finite_or_none(res.se),
            "clustered": res.clustered,
            "p_value": finite_or_none(p),
            "p_adjusted": finite_or_none(p_adj),
            "alternative": alternative,
            "gate": gate_dict,
            "verdict": self.verdict,
            "passed": self.passed,
            "advisory": self.advisory,
            "mde": finite_or_none(mde),
            "n_needed": needed,
            "message": message,
            "metric_info": _json_safe(self.metric_info),
            "slices": [s.to_dict() for s in self.ordered_slices()],
            "flips": None if self.flips is None else {k: list(v) for k, v in self.flips.items()},
        }

    def ordered_slices(self) -> list[SliceResult]:
        """Slices with the one driving a regression first (see ``harness.stats.order_slices``)."""
        margin = next((g.margin for g in reversed(self.gates) if g.margin is not None), None)
        return order_slices(self.slices, self.sign, margin)


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
    alpha: float = 0.05,
    seed: int = 0,
    n_resamples: int = 10_000,
    higher_is_better: bool = True,
    base_ids: Sequence[str] | None = None,
    candidate_ids: Sequence[str] | None = None,
) -> Comparison:
    """Pair base and candidate scores by item id and run the paired test for ``kind``.

    ``ids`` name the rows of both score arrays; when the two systems were scored in another
    order (or on other items), pass ``base_ids`` / ``candidate_ids``: rows are matched by id and
    differing id sets are refused. Items whose score is NaN on either side are left out and
    counted in ``n_failed``.
    """
    where = f"{metric_name} on {suite}"
    if kind not in KINDS:
        raise StatsError(f"{where}: unknown metric kind {kind!r}; use one of {list(KINDS)}")
    alpha = _check_alpha(alpha)
    if int(n_resamples) < 1:
        raise StatsError(f"{where}: n_resamples must be >= 1, got {n_resamples!r}")
    ids = [str(i) for i in ids]
    _check_unique(ids, where)
    base = _align(base, ids, base_ids, "base", where)
    candidate = _align(candidate, ids, candidate_ids, candidate_label, where)
    n_all = len(ids)
    for name, seq in (("groups", groups), ("tags", tags)):
        if seq is not None and len(seq) != n_all:
            raise StatsError(f"{where}: {name} has {len(seq)} entries for {n_all} items; give one per item")

    b_all = np.asarray(base.values, dtype=float)
    c_all = np.asarray(candidate.values, dtype=float)
    ok = np.isfinite(b_all) & np.isfinite(c_all)
    b_stats = c_stats = None
    corpus = base.corpus or candidate.corpus
    if kind == "corpus":
        if base.stats is None or candidate.stats is None or corpus is None:
            raise StatsError(
                f"{where}: a corpus metric must return per-item sufficient statistics (MetricScores.stats) "
                "and its corpus function (MetricScores.corpus); fix the metric or declare another kind"
            )
        b_stats, c_stats = np.asarray(base.stats, dtype=float), np.asarray(candidate.stats, dtype=float)
        if b_stats.shape != c_stats.shape or b_stats.shape[0] != n_all:
            raise StatsError(
                f"{where}: statistics shapes {b_stats.shape} (base) and {c_stats.shape} (candidate) "
                f"do not match {n_all} items"
            )
        ok &= np.isfinite(b_stats).all(axis=1) & np.isfinite(c_stats).all(axis=1)
    failed = [ids[i] for i in np.flatnonzero(~ok)]
    reasons = tuple(_reason(ids[i], int(i), base, candidate, candidate_label) for i in np.flatnonzero(~ok))
    if not ok.any():
        raise StatsError(
            f"{where}: all {n_all} items failed to score, nothing to compare"
            + (f" (first: {reasons[0]})" if reasons else "")
            + "; fix the metric or judge and run again"
        )
    keep = [int(i) for i in np.flatnonzero(ok)]
    used_ids = tuple(ids[i] for i in keep)
    b, c = b_all[keep], c_all[keep]
    if kind == "binary":
        _check_binary(b, c, used_ids, where)
    bs = b_stats[keep] if b_stats is not None else None
    cs = c_stats[keep] if c_stats is not None else None
    used_groups = tuple(groups[i] for i in keep) if groups is not None else None
    result = paired_test(
        kind,
        b,
        c,
        base_stats=bs,
        cand_stats=cs,
        corpus=corpus,
        groups=used_groups,
        n_resamples=int(n_resamples),
        rng=np.random.default_rng(seed),
    )
    comparison = Comparison(
        suite=suite,
        metric=metric_name,
        kind=kind,
        candidate=candidate_label,
        ids=used_ids,
        result=result,
        alpha=alpha,
        higher_is_better=higher_is_better,
        seed=seed,
        n_resamples=int(n_resamples),
        failed_ids=tuple(failed),
        failure_reasons=reasons,
        metric_info=dict(metric_info or {}),
        base_values=b,
        candidate_values=c,
        base_stats=bs,
        candidate_stats=cs,
        corpus=corpus,
        groups=used_groups,
    )
    if kind == "binary":
        comparison.flips = flips(b, c, used_ids, higher_is_better)
    if tags is not None:
        comparison.slices = slice_tests(
            kind,
            b,
            c,
            used_ids,
            [tags[i] for i in keep],
            base_stats=bs,
            cand_stats=cs,
            corpus=corpus,
            groups=used_groups,
            alpha=alpha,
            sign=1.0 if higher_is_better else -1.0,
            n_resamples=min(int(n_resamples), SLICE_RESAMPLES),
            seed=seed,
        )
    return comparison


def apply_holm(comparisons: Sequence[Comparison]) -> list[str]:
    """Holm across the improvement claims of a run; returns the ids no longer IMPROVED.

    Each comparison's latest ``assert_improves`` gate gets ``p_adjusted`` and is re-decided with
    it (advisory comparisons included: the caller decides what an advisory failure means).
    """
    family: list[tuple[Comparison, int]] = []
    for comp in comparisons:
        idx = [i for i, g in enumerate(comp.gates) if g.type == "improves"]
        if idx:
            family.append((comp, idx[-1]))
    if not family:
        return []
    adjusted = holm([comp.gates[i].p_value for comp, i in family])
    changed = []
    for (comp, i), p_adj in zip(family, adjusted, strict=True):
        old = comp.gates[i]
        new = comp._decide("improves", old.min_delta or 0.0, old.alpha, p_adjusted=float(p_adj))
        comp.gates[i] = new
        if old.verdict == "IMPROVED" and new.verdict != "IMPROVED":
            changed.append(comp.id)
    return changed


# -- helpers ----------------------------------------------------------------------------------


def _check_alpha(alpha: float) -> float:
    if not (isinstance(alpha, int | float) and 0.0 < alpha < 0.5):
        raise StatsError(f"alpha must be in (0, 0.5), got {alpha!r}; the usual choice is 0.05")
    return float(alpha)


def _check_unique(ids: list[str], where: str) -> None:
    seen: set[str] = set()
    dupes: list[str] = []
    for item in ids:
        if item in seen:
            dupes.append(item)
        seen.add(item)
    if dupes:
        raise StatsError(f"{where}: duplicate item ids {sorted(set(dupes))[:_SHOWN_IDS]}; ids must be unique")


def _align(
    scores: MetricScores, ids: list[str], row_ids: Sequence[str] | None, who: str, where: str
) -> MetricScores:
    """Scores with rows in ``ids`` order; refuses differing id sets or lengths."""
    n_rows = len(scores.values)
    if row_ids is None:
        if n_rows != len(ids):
            raise StatsError(
                f"{where}: {who} has {n_rows} scores for {len(ids)} ids; the two systems must be "
                f"scored on the same items (ids start {ids[:_SHOWN_IDS]})"
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
            f"{where}: the item ids of {who} differ from the base's: missing {missing[:_SHOWN_IDS]} "
            f"({len(missing)} in all), unexpected {extra[:_SHOWN_IDS]} ({len(extra)} in all); score both "
            "systems on the same suite version and sample"
        )
    pos = {item: k for k, item in enumerate(row_ids)}
    order = np.array([pos[i] for i in ids], dtype=np.int64)
    failures = tuple(scores.failures[k] for k in order) if scores.failures else ()
    return replace(
        scores,
        values=np.asarray(scores.values)[order],
        stats=None if scores.stats is None else np.asarray(scores.stats)[order],
        failures=failures,
    )


def _reason(item: str, i: int, base: MetricScores, cand: MetricScores, label: str) -> str:
    parts = []
    for who, s in (("base", base), (label, cand)):
        why = s.failures[i] if i < len(s.failures) else None
        if why:
            parts.append(f"{who}: {why}")
        elif not math.isfinite(float(s.values[i])):
            parts.append(f"{who}: no score")
    return f"{item}: " + ("; ".join(parts) or "statistics not finite")


def _check_binary(b: np.ndarray, c: np.ndarray, ids: tuple[str, ...], where: str) -> None:
    bad = ~np.isin(b, (0.0, 1.0)) | ~np.isin(c, (0.0, 1.0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise StatsError(
            f"{where}: binary scores must be 0 or 1; item {ids[i]!r} has base={float(b[i])!r}, "
            f"candidate={float(c[i])!r}; declare the metric kind 'continuous' for fractional scores"
        )


# -- messages ---------------------------------------------------------------------------------


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, float):
        return finite_or_none(obj)
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        return _json_safe(obj.item())
    return obj


def _g(x: float) -> str:
    return f"{x:.4g}" if math.isfinite(x) else "n/a"


def _signed(x: float) -> str:
    if math.isinf(x):
        return "-inf" if x < 0 else "+inf"
    return f"{x:+.3g}" if math.isfinite(x) else "n/a"


def _p(p: float) -> str:
    return "p<0.0001" if p < 1e-4 else f"p={p:.2g}" if p < 0.01 else f"p={p:.3f}"


def _pct(level: float) -> str:
    return f"{100 * level:.4g}%"


def _test_name(test: str) -> str:
    return _TEST_NAMES.get(test, test)


def _failed(comp: Comparison) -> str:
    return f", {comp.n_failed} more failed to score and were left out" if comp.n_failed else ""


def _gate_message(comp: Comparison, g: GateRecord) -> str:
    res = comp.result
    size = (g.min_delta if g.type == "improves" else g.margin) or 0.0
    lower_better = "" if comp.higher_is_better else " (lower is better)"
    null = comp.sign * (size if g.type == "improves" else -size)
    op = "<=" if comp.sign > 0 else ">="
    test = _test_name(res.test)
    if res.test == "mcnemar_exact" and null != 0:
        test = "Tango score (paired proportions)"
    p_text = _p(g.p_value) + (f", Holm-adjusted {_p(g.p_adjusted)}" if g.p_adjusted is not None else "")
    mde = f"{g.mde:.3g}" if math.isfinite(g.mde) else "not estimable"
    lead = (
        f"{g.verdict}: {comp.metric}{lower_better} on {comp.suite}, base -> {comp.candidate}: "
        f"{_g(res.base_mean)} -> {_g(res.candidate_mean)}, delta {_signed(res.statistic)} "
        f"[{_pct(g.ci_level)} CI {_signed(g.ci_low)}, {_signed(g.ci_high)}], {test} {p_text} "
        f"for H0 delta {op} {null:+.3g}, n={res.n}{_failed(comp)}, MDE {mde} (80% power, alpha {g.alpha:g})."
    )
    gate_text = f"min_delta {size:g}" if g.type == "improves" else f"margin {size:g}"
    explain = _explain(comp, g, size, gate_text)
    extra = [s for s in (_check_text(g), _slice_text(comp, g), _flip_text(comp)) if s]
    return " ".join([lead, explain, *extra])


def _explain(comp: Comparison, g: GateRecord, size: float, gate_text: str) -> str:
    n, needed = comp.result.n, g.n_needed
    if g.verdict == "IMPROVED":
        return f"The candidate is better by more than {size:g} at alpha {g.alpha:g}."
    if g.verdict == "NON_INFERIOR":
        if (g.ci_low if comp.sign > 0 else -g.ci_high) > 0:
            return "The candidate is better than the base: no regression."
        return f"Any drop is smaller than the {gate_text}: no regression."
    if g.verdict == "REGRESSED":
        p_drop = comp.result.pvalue_at(0.0, "less" if comp.sign > 0 else "greater")
        return (
            f"The candidate is worse: the whole interval is below 0 (a drop at all: {_p(p_drop)}). "
            "Do not ship it; inspect the items named here and in the report."
        )
    if g.verdict == "UNDERPOWERED":
        if not math.isfinite(g.mde):
            return (
                f"With n={n} the spread of the delta cannot be estimated, so this gate could not have "
                "failed or passed on evidence; add items (at least 2 independent ones, ideally hundreds)."
            )
        add = f"Add ~{needed - n} items (about {needed} in all)" if needed and needed > n else "Add items"
        return (
            f"With n={n} items this suite can only see changes of {g.mde:.3g} or more, larger than the "
            f"{gate_text}, so it could not have failed on a change of that size. {add}, or accept a wider "
            f"{'min_delta' if g.type == 'improves' else 'margin'}."
        )
    if g.type == "improves":
        if g.p_adjusted is not None and g.p_value < g.alpha <= g.p_adjusted:
            return (
                f"The raw p is below alpha {g.alpha:g}, but not after Holm's correction across this run's "
                "improvement claims: the improvement is not established."
            )
        if size == 0:
            return f"No improvement is shown; this suite detects improvements of {g.mde:.3g} or more."
        more = ""
        if needed and needed > n:
            more = f" To detect an improvement of {size:g} with 80% power, add ~{needed - n} items (about {needed} in all)."
        return f"No improvement of more than {size:g} is shown.{more}"
    if needed and needed > n:
        more = f"Add ~{needed - n} items (about {needed} in all) to decide."
    else:
        more = "More items narrow the interval (its width shrinks as 1/sqrt(n)) and decide it."
    return f"The interval still reaches below -{size:g}: a regression beyond the {gate_text} is not ruled out. {more}"


def _check_text(g: GateRecord) -> str:
    if g.check is None:
        return ""
    name, p = g.check
    decided_by_p = g.type == "improves"
    if decided_by_p:
        test_says = (g.p_adjusted if g.p_adjusted is not None else g.p_value) < g.alpha
    else:
        test_says = g.verdict == "NON_INFERIOR"
    if (p < g.alpha) == test_says:
        return ""
    return (
        f"A {name.replace('_', ' ')} check disagrees ({_p(p)}): the per-item deltas are skewed or "
        "heavy-tailed; look at them before trusting this verdict."
    )


def _slice_text(comp: Comparison, g: GateRecord) -> str:
    if g.passed or not comp.slices:
        return ""
    worst = comp.ordered_slices()[0]
    if not (math.isfinite(worst.delta) and comp.sign * worst.delta < 0):
        return ""
    return (
        f"Worst slice: {worst.slice} (delta {_signed(worst.delta)}, n={worst.n}, {worst.verdict.lower()}, "
        f"{len(worst.failing_ids)} items worse, e.g. {', '.join(worst.failing_ids[:_SHOWN_IDS]) or '-'})."
    )


def _flip_text(comp: Comparison) -> str:
    if comp.flips is None:
        return ""
    lost, won = comp.flips["base_only"], comp.flips["candidate_only"]
    if not lost and not won:
        return "No item changed between base and candidate."
    eg = f" (e.g. {', '.join(lost[:_SHOWN_IDS])})" if lost else ""
    return f"{len(lost)} items went from right to wrong{eg}, {len(won)} from wrong to right."

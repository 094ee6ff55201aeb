"""The one-paragraph messages of comparisons and gates: metric, suite, base -> candidate, delta
with CI, the p of the claim that decided the verdict, n, unscored items, MDE, and what to do.

A gate's message is written from :class:`Facts` and the gate's record, so it reads the same
whether it is written at test time (from the live Comparison) or once the run's decision is
final (from the results.json record, after Holm's correction): never patched afterwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tunegate.harness.compare.alignment import Coverage
from tunegate.harness.numbers import fmt_p
from tunegate.harness.record_sections import pair_name

if TYPE_CHECKING:
    from tunegate.harness.compare.result import Comparison, GateRecord
    from tunegate.harness.record import ComparisonRecord

SHOWN_IDS = 3

TEST_NAMES = {
    "mcnemar_exact": "exact McNemar",
    "paired_t": "paired t",
    "paired_t_clustered": "clustered (CR2) paired t",
    "paired_bootstrap": "paired bootstrap",
    "cluster_bootstrap": "cluster bootstrap",
    "approx_randomization": "approximate randomization",
    "sign_flip": "sign-flip permutation",
    "sign_flip_exact": "exact sign-flip permutation",
    "bootstrap_t": "studentised bootstrap",
    "sign_flip+bootstrap_t": "sign-flip permutation and studentised bootstrap",
    "sign_flip_exact+bootstrap_t": "exact sign-flip permutation and studentised bootstrap",
    "cluster_jackknife_t": "cluster jackknife t",
    "hoeffding": "Hoeffding bound",
    "paired_t+skew_t": "paired t and skewness-corrected t",
    "bootstrap_t+skew_t": "studentised bootstrap and skewness-corrected t",
    "sign_flip+bootstrap_t+skew_t": "sign-flip permutation, studentised bootstrap and skewness-corrected t",
    "sign_flip_exact+bootstrap_t+skew_t": "exact sign-flip permutation, studentised bootstrap and skewness-corrected t",
    "paired_t_clustered+skew_t": "clustered (CR2) paired t and skewness-corrected t",
}


def _g(x: float) -> str:
    return f"{x:.4g}" if math.isfinite(x) else "n/a"


def _signed(x: float) -> str:
    if math.isinf(x):
        return "-inf" if x < 0 else "+inf"
    return f"{x:+.3g}" if math.isfinite(x) else "n/a"


def _p(p: float) -> str:
    return "p " + (fmt_p(p) if fmt_p(p).startswith("<") else "= " + fmt_p(p))


def _pct(level: float) -> str:
    return f"{100 * level:.4g}%"


def test_name(test: str) -> str:
    return TEST_NAMES.get(test, test.replace("_", " "))


@dataclass(frozen=True)
class Facts:
    """What a gate's message says about its comparison."""

    metric: str
    suite: str
    candidate: str
    higher_is_better: bool
    base_mean: float
    candidate_mean: float
    delta: float
    test: str
    n: int
    coverage: Coverage
    notes: tuple[str, ...] = ()
    worst_slice: dict[str, Any] | None = None
    flips: dict[str, list[str]] | None = None
    other: str = "base"

    @property
    def sign(self) -> float:
        return 1.0 if self.higher_is_better else -1.0

    @classmethod
    def of(cls, comp: Comparison) -> Facts:
        res = comp.result
        notes = getattr(res, "notes", ()) or ()
        slices = comp.ordered_slices() if comp.slices else []
        worst = None
        if slices:
            s = slices[0]
            worst = {"slice": s.slice, "delta": s.delta, "n": s.n, "verdict": s.verdict, "failing_ids": list(s.failing_ids)}
        return cls(
            metric=comp.metric, suite=comp.suite, candidate=comp.candidate, higher_is_better=comp.higher_is_better,
            base_mean=res.base_mean, candidate_mean=res.candidate_mean, delta=res.statistic, test=res.test, n=res.n,
            coverage=comp.coverage, notes=(notes,) if isinstance(notes, str) else tuple(str(n) for n in notes),
            worst_slice=worst, flips=comp.flips, other=comp.other,
        )  # fmt: skip

    @classmethod
    def from_record(cls, c: ComparisonRecord) -> Facts:
        """From a comparison of the run record (``tunegate.harness.record.ComparisonRecord``)."""
        cov = c.coverage
        coverage = Coverage(
            n_items=c.n, n_scored=c.n, unscored_base=0, unscored_candidate=0, infra=0, floor=0.0, worst=None, reasons=(),
        ) if cov is None else Coverage(
            n_items=cov.n_items, n_scored=cov.n_scored, unscored_base=cov.unscored_base,
            unscored_candidate=cov.unscored_candidate, infra=cov.infra, floor=cov.floor, worst=cov.worst,
            reasons=tuple(cov.reasons),
        )  # fmt: skip
        return cls(
            metric=c.metric, suite=c.suite, candidate=c.candidate, higher_is_better=c.higher_is_better,
            base_mean=_nan(c.against_mean), candidate_mean=_nan(c.candidate_mean), delta=_nan(c.delta), test=c.test,
            n=c.n, coverage=coverage, notes=tuple(c.notes),
            worst_slice=c.slices[0].model_dump() if c.slices else None,
            flips=c.flips.model_dump() if c.flips is not None else None, other=pair_name(c.against, c.reference),
        )  # fmt: skip


def _nan(x: Any) -> float:
    return math.nan if x is None else float(x)


def _unscored(facts: Facts) -> str:
    text = facts.coverage.text(facts.candidate, facts.other)
    return f" {text}" if text else ""


def summary_sentence(comp: Comparison) -> str:
    res = comp.result
    low, high = res.confidence_interval(1.0 - comp.alpha, "two-sided")
    return (
        f"{comp.metric} on {comp.suite}, {comp.other} -> {comp.candidate}: {_g(res.base_mean)} -> "
        f"{_g(res.candidate_mean)}, delta {_signed(res.statistic)} [{_pct(1 - comp.alpha)} CI "
        f"{_signed(low)}, {_signed(high)}], {test_name(res.test)} two-sided {_p(res.pvalue)}, "
        f"n={res.n}.{_unscored(Facts.of(comp))}"
    )


def gate_message(facts: Facts, g: GateRecord) -> str:
    lower_better = "" if facts.higher_is_better else " (lower is better)"
    test = test_name(facts.test)
    if facts.test == "mcnemar_exact" and g.verdict != "REGRESSED" and g.type == "no_regression":
        test = "Tango score (paired proportions)"
    mde = f"{g.mde:.3g}" if math.isfinite(g.mde) else "not estimable"
    lead = (
        f"{g.verdict}: {facts.metric}{lower_better} on {facts.suite}, {facts.other} -> {facts.candidate}: "
        f"{_g(facts.base_mean)} -> {_g(facts.candidate_mean)}, delta {_signed(facts.delta)} "
        f"[{_pct(g.ci_level)} CI {_signed(g.ci_low)}, {_signed(g.ci_high)}], {test} {_p(g.p_value)} "
        f"for {g.claim(facts.higher_is_better)}, n={facts.n}, MDE {mde} (80% power, alpha {g.alpha:g})."
    )
    if g.type == "improves":
        gate_text = f"min_delta {g.size:g}"
    elif g.relative is not None:
        gate_text = f"margin of {100 * g.relative:g}% of the {facts.other}'s mean ({g.size:.4g})"
    else:
        gate_text = f"margin {g.size:g}"
    parts = [lead, explain(facts, g, gate_text)]
    parts += [s for s in (_unscored(facts).strip(), _notes(facts), _slice_text(facts, g), _flip_text(facts)) if s]
    return " ".join(parts)


def explain(facts: Facts, g: GateRecord, gate_text: str) -> str:
    n, needed, size = facts.n, g.n_needed, g.size
    if g.type == "improves" and g.verdict != "REGRESSED" and _lost_to_holm(g):
        return (
            f"The raw p ({fmt_p(g.p_null)}) is below alpha {g.alpha:g}, but not after Holm's correction "
            f"across this run's improvement claims (adjusted p = {fmt_p(g.p_adjusted or math.nan)}): the "
            "improvement is not established."
        )
    if g.verdict == "IMPROVED":
        return f"The candidate is better by more than {size:g} at alpha {g.alpha:g}."
    if g.verdict == "NON_INFERIOR":
        if g.low_oriented > 0:
            return f"The candidate is better than the {facts.other}: no regression."
        return f"Any drop is smaller than the {gate_text}: no regression."
    if g.verdict == "REGRESSED":
        return (
            "The candidate is worse: the whole interval is below 0. "
            "Do not ship it; inspect the items named here and in the report."
        )
    if g.verdict == "INCOMPLETE":
        cov = facts.coverage
        return (
            f"Only {cov.n_used} of {cov.n_items} items ({100 * cov.share:.0f}%) could be scored, below the "
            f"coverage floor of {100 * cov.floor:.0f}%: the gate cannot pass on the evidence left. Fix the "
            "scorer (e.g. the judge's API or budget) and run again; cached generations are reused."
        )
    if g.verdict == "UNDERPOWERED":
        if not math.isfinite(g.mde):
            return (
                f"With n={n} the spread of the delta cannot be estimated, so this gate could not have "
                "failed or passed on evidence; add items (at least 2 independent ones, ideally hundreds)."
            )
        add = f"Add ~{needed - n} items (about {needed} in all)" if needed and needed > n else "Add items"
        return (
            f"The result is not shown, and with n={n} items this suite can only see changes of {g.mde:.3g} "
            f"or more, larger than the {gate_text}. {add}, or accept a wider "
            f"{'min_delta' if g.type == 'improves' else 'margin'}."
        )
    if g.type == "improves":
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


def _lost_to_holm(g: GateRecord) -> bool:
    return g.p_adjusted is not None and g.p_null < g.alpha <= g.p_adjusted


def _notes(facts: Facts) -> str:
    return " ".join(str(n).rstrip(".") + "." for n in facts.notes if n)


def _slice_text(facts: Facts, g: GateRecord) -> str:
    worst = facts.worst_slice
    if g.passed or not worst:
        return ""
    delta = _nan(worst.get("delta"))
    if not (math.isfinite(delta) and facts.sign * delta < 0):
        return ""
    failing = [str(i) for i in worst.get("failing_ids") or []]
    return (
        f"Worst slice: {worst.get('slice')} (delta {_signed(delta)}, n={worst.get('n')}, "
        f"{str(worst.get('verdict')).lower()}, {len(failing)} items worse, e.g. {', '.join(failing[:SHOWN_IDS]) or '-'})."
    )


def _flip_text(facts: Facts) -> str:
    if facts.flips is None:
        return ""
    lost, won = facts.flips["base_only"], facts.flips["candidate_only"]
    if not lost and not won:
        return f"No item changed between {facts.other} and candidate."
    eg = f" (e.g. {', '.join(lost[:SHOWN_IDS])})" if lost else ""
    return f"{len(lost)} items went from right to wrong{eg}, {len(won)} from wrong to right."

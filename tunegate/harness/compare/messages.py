"""The one-paragraph messages of comparisons and gates: metric, suite, base -> candidate, delta
with CI, the p of the claim that decided the verdict, n, unscored items, MDE, and what to do."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from tunegate.harness.numbers import fmt_p

if TYPE_CHECKING:
    from tunegate.harness.compare.result import Comparison, GateRecord

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
    "paired_t+betting": "paired t and betting test",
    "bootstrap_t+betting": "studentised bootstrap and betting test",
    "sign_flip+bootstrap_t+betting": "sign-flip permutation, studentised bootstrap and betting test",
    "sign_flip_exact+bootstrap_t+betting": "exact sign-flip permutation, studentised bootstrap and betting test",
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


def _unscored(comp: Comparison) -> str:
    text = comp.coverage.text(comp.candidate)
    return f" {text}" if text else ""


def summary_sentence(comp: Comparison) -> str:
    res = comp.result
    low, high = res.confidence_interval(1.0 - comp.alpha, "two-sided")
    return (
        f"{comp.metric} on {comp.suite}, base -> {comp.candidate}: {_g(res.base_mean)} -> "
        f"{_g(res.candidate_mean)}, delta {_signed(res.statistic)} [{_pct(1 - comp.alpha)} CI "
        f"{_signed(low)}, {_signed(high)}], {test_name(res.test)} two-sided {_p(res.pvalue)}, "
        f"n={res.n}.{_unscored(comp)}"
    )


def gate_message(comp: Comparison, g: GateRecord) -> str:
    res = comp.result
    lower_better = "" if comp.higher_is_better else " (lower is better)"
    test = test_name(res.test)
    if res.test == "mcnemar_exact" and g.verdict != "REGRESSED" and g.type == "no_regression":
        test = "Tango score (paired proportions)"
    mde = f"{g.mde:.3g}" if math.isfinite(g.mde) else "not estimable"
    lead = (
        f"{g.verdict}: {comp.metric}{lower_better} on {comp.suite}, base -> {comp.candidate}: "
        f"{_g(res.base_mean)} -> {_g(res.candidate_mean)}, delta {_signed(res.statistic)} "
        f"[{_pct(g.ci_level)} CI {_signed(g.ci_low)}, {_signed(g.ci_high)}], {test} {_p(g.p_value)} "
        f"for {g.claim(comp.higher_is_better)}, n={res.n}, MDE {mde} (80% power, alpha {g.alpha:g})."
    )
    gate_text = f"min_delta {g.size:g}" if g.type == "improves" else f"margin {g.size:g}"
    parts = [lead, explain(comp, g, gate_text)]
    parts += [s for s in (_unscored(comp).strip(), _notes(comp), _slice_text(comp, g), _flip_text(comp)) if s]
    return " ".join(parts)


def explain(comp: Comparison, g: GateRecord, gate_text: str) -> str:
    n, needed, size = comp.result.n, g.n_needed, g.size
    if g.verdict == "IMPROVED":
        return f"The candidate is better by more than {size:g} at alpha {g.alpha:g}."
    if g.verdict == "NON_INFERIOR":
        if g.low_oriented > 0:
            return "The candidate is better than the base: no regression."
        return f"Any drop is smaller than the {gate_text}: no regression."
    if g.verdict == "REGRESSED":
        return (
            "The candidate is worse: the whole interval is below 0. "
            "Do not ship it; inspect the items named here and in the report."
        )
    if g.verdict == "INCOMPLETE":
        cov = comp.coverage
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
        if g.p_adjusted is not None and g.p_null < g.alpha <= g.p_adjusted:
            return (
                f"The raw p ({fmt_p(g.p_null)}) is below alpha {g.alpha:g}, but not after Holm's correction "
                "across this run's improvement claims: the improvement is not established."
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


def holm_sentence(n_claims: int, p_adjusted: float, alpha: float) -> str:
    return (
        f"After Holm's correction across {n_claims} improvement claims in this run, p = {fmt_p(p_adjusted)} "
        f">= alpha = {alpha:g}: the improvement is not established."
    )


def _notes(comp: Comparison) -> str:
    notes = getattr(comp.result, "notes", ()) or ()
    if isinstance(notes, str):
        notes = (notes,)
    return " ".join(str(n).rstrip(".") + "." for n in notes if n)


def _slice_text(comp: Comparison, g: GateRecord) -> str:
    if g.passed or not comp.slices:
        return ""
    worst = comp.ordered_slices()[0]
    if not (math.isfinite(worst.delta) and comp.sign * worst.delta < 0):
        return ""
    return (
        f"Worst slice: {worst.slice} (delta {_signed(worst.delta)}, n={worst.n}, {worst.verdict.lower()}, "
        f"{len(worst.failing_ids)} items worse, e.g. {', '.join(worst.failing_ids[:SHOWN_IDS]) or '-'})."
    )


def _flip_text(comp: Comparison) -> str:
    if comp.flips is None:
        return ""
    lost, won = comp.flips["base_only"], comp.flips["candidate_only"]
    if not lost and not won:
        return "No item changed between base and candidate."
    eg = f" (e.g. {', '.join(lost[:SHOWN_IDS])})" if lost else ""
    return f"{len(lost)} items went from right to wrong{eg}, {len(won)} from wrong to right."

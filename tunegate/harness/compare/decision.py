"""The decisions of a tunegate run, all in one place: the gate rule, Holm's correction across a
run's claims, the deciding gate of a comparison, each candidate's verdict and the run's.

Every verdict, at test time and after Holm, comes from :func:`decide`, a pure function of plain
numbers (so it decides the same on live objects and on results.json records). Semantics follow
the methods page (docs/statistics.md):

- ``improves`` (superiority, H0 delta <= min_delta): IMPROVED when p < alpha; REGRESSED when the
  whole interval is below 0; UNDERPOWERED when the test did not reject and the MDE exceeds
  ``min_delta`` (or cannot be estimated); else INCONCLUSIVE.
- ``no_regression`` (non-inferiority, H0 delta <= -margin): REGRESSED when the interval lies below
  0 and reaches -margin; NON_INFERIOR whenever the one-sided lower bound is above -margin (a
  shown result is never turned into UNDERPOWERED); UNDERPOWERED when not shown and the MDE exceeds
  the margin; else INCONCLUSIVE.
- Below the coverage floor (too many items unscored for reasons outside the candidate) a gate
  is INCOMPLETE unless a regression is shown anyway.

A candidate's verdict folds in every check of it (see :func:`candidate_verdict`); the run's is the
worst candidate's (:func:`run_verdict`). The verdict vocabulary is the record's ``Literal`` types
(``Verdict`` for a gate, ``RunStatus`` for a candidate or a run, tunegate/harness/record_sections.py);
their order and meaning (``SEVERITY``, ``BLOCKING``) are here; renderers map them to words and colours.

Bounds and p-values here are in the improvement direction (already sign-flipped for metrics where
lower is better).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, get_args

from tunegate.harness.record import (
    CandidateVerdict,
    ComparisonRecord,
    GateResult,
    GateSpec,
    ModelRecord,
    RunVerdict,
    TestRecord,
)
from tunegate.harness.record_sections import GateType, RunStatus, Verdict, pair_name
from tunegate.harness.stats import holm

RUN_STATUSES: tuple[str, ...] = get_args(RunStatus)
BLOCKING: frozenset[str] = frozenset({"FAIL", "NO_EFFECT", "NO_BINDING_GATES", "ERROR"})
"""Statuses that make pytest exit non-zero (and the candidate's junit case fail)."""
SEVERITY: tuple[str, ...] = ("ERROR", "NO_EFFECT", "FAIL", "NO_BINDING_GATES", "ADVISORY", "PASS")
"""Worst first: the run's verdict is its worst candidate's."""
COLLAPSE: frozenset[str] = frozenset({"REGRESSED", "INCOMPLETE"})
"""Gate verdicts that --allow-advisory never accepts from an advisory gate."""
PASSING: frozenset[str] = frozenset({"IMPROVED", "NON_INFERIOR", "NOT_GATED"})
VERDICTS: tuple[str, ...] = get_args(Verdict)


def decide(
    *,
    gate: GateType,
    size: float,
    alpha: float,
    p_claim: float,
    low: float,
    high: float,
    mde: float,
    coverage_ok: bool = True,
) -> Verdict:
    """The verdict of one gate.

    ``size``: min_delta (improves) or margin (no_regression); ``p_claim``: p of the gate's own
    null (Holm-adjusted for improvement claims once the run is complete); ``low``/``high``: the
    two-sided (1 - 2 alpha) interval, oriented so that positive is better; ``mde``: minimum
    detectable effect at ``alpha`` with 80% power.
    """
    underpowered = not math.isfinite(mde) or (size > 0 and mde > size)
    if gate == "improves":
        if not coverage_ok:
            return "REGRESSED" if high < 0 else "INCOMPLETE"
        if p_claim < alpha:
            return "IMPROVED"
        if high < 0:
            return "REGRESSED"
        return "UNDERPOWERED" if underpowered else "INCONCLUSIVE"
    if high < 0 and low <= -size:
        return "REGRESSED"
    if not coverage_ok:
        return "INCOMPLETE"
    if low > -size:
        return "NON_INFERIOR"
    return "UNDERPOWERED" if underpowered else "INCONCLUSIVE"


def shown_p(verdict: str, p_null: float | None, p_drop: float | None, p_adjusted: float | None) -> float | None:
    """The p of the claim that decided ``verdict``: the drop's for REGRESSED, else the gate's own
    null (Holm-adjusted once the run is complete)."""
    if verdict == "REGRESSED":
        return p_drop
    return p_null if p_adjusted is None else p_adjusted


def claim_text(
    gate: str,
    size: float,
    verdict: str,
    *,
    higher_is_better: bool,
    adjusted: bool,
    short: bool = False,
    relative: float | None = None,
) -> str:
    """The null hypothesis whose p :func:`shown_p` gives, in the measured direction (``short``:
    the terminal table's form, ``d>= 0``, ``d<= -0.05, Holm``; ``relative``: a margin as a share
    of the base's mean, ``c>= 1.1b``)."""
    op_le, op_ge = ("<=", ">=") if higher_is_better else (">=", "<=")
    if verdict == "REGRESSED":
        return f"d{op_ge} 0" if short else f"drop: H0 delta {op_ge} 0"
    if relative is not None:
        scale = 1.0 - relative if higher_is_better else 1.0 + relative
        return f"c{op_le} {scale:.3g}b" if short else f"H0 mean {op_le} {scale:.3g} x base mean"
    sign = 1.0 if higher_is_better else -1.0
    null = sign * (size if gate == "improves" else -size)
    if short:
        return f"d{op_le} {null:+.3g}" + (", Holm" if adjusted else "")
    return f"H0 delta {op_le} {null:+.3g}" + (" (Holm-adjusted)" if adjusted else "")


def apply_holm(gates: Sequence[GateResult]) -> list[GateResult]:
    """Holm across every improvement claim of a run, whatever the order the gates were called in.

    Returns the gates in the same order as new records (``model_copy``; the inputs are frozen):
    each ``improves`` gate with a p gets ``p_adjusted`` and ``holm_family`` and is re-decided with
    them (:func:`decide_gate`); the others are returned as they are.
    """
    claims = [k for k, g in enumerate(gates) if g.type == "improves" and g.p_null is not None]
    out = list(gates)
    if not claims:
        return out
    adjusted = holm([float(gates[k].p_null or 0.0) for k in claims])
    for k, p_adj in zip(claims, adjusted, strict=True):
        g = gates[k].model_copy(update={"p_adjusted": float(p_adj), "holm_family": len(claims)})
        verdict = decide_gate(g)
        out[k] = g.model_copy(update={"verdict": verdict, "passed": verdict in PASSING})
    return out


def _num(x: Any, default: float) -> float:
    if x is None:
        return default
    try:
        v = float(x)
    except (TypeError, ValueError):
        return default
    return v if not math.isnan(v) else default


# -- the deciding gate and Holm's finalisation -------------------------------------------------
def deciding_gate(gates: Sequence[GateResult]) -> GateResult | None:
    """The gate that gives a comparison its verdict: the first failing one, else the last."""
    if not gates:
        return None
    failing = [g for g in gates if not g.passed]
    return failing[0] if failing else gates[-1]


def decide_gate(g: GateResult) -> Verdict:
    """:func:`decide` on a gate of the run record."""
    p = g.p_null if g.p_adjusted is None else g.p_adjusted
    return decide(
        gate=g.type, size=g.size, alpha=g.alpha, p_claim=_num(p, 1.0), low=_num(g.low_oriented, -math.inf),
        high=_num(g.high_oriented, math.inf), mde=_num(g.mde, math.inf), coverage_ok=g.coverage_ok,
    )  # fmt: skip


GateMessage = Callable[[ComparisonRecord, GateResult], str]


def finalise_holm(
    comparisons: Sequence[ComparisonRecord], message: GateMessage
) -> tuple[list[ComparisonRecord], list[str]]:
    """Holm across every improvement claim of the run (:func:`apply_holm`), then each comparison's
    top-level fields from its deciding gate.

    Returns new comparisons (``model_copy``; the inputs are frozen records) and the ids of the
    comparisons with a claim lost after the correction; a lost claim gets its message written anew
    from its final verdict by ``message(comparison, gate)``.
    """
    flat = [(i, g) for i, c in enumerate(comparisons) for g in c.gates]
    adjusted = apply_holm([g for _, g in flat])
    gates: list[list[GateResult]] = [[] for _ in comparisons]
    lost: list[str] = []
    for (i, before), g in zip(flat, adjusted, strict=True):
        if before.verdict == "IMPROVED" and g.verdict != "IMPROVED":
            g = g.model_copy(update={"message": message(comparisons[i], g)})
            if comparisons[i].id not in lost:
                lost.append(comparisons[i].id)
        gates[i].append(g)
    out = []
    for c, gs in zip(comparisons, gates, strict=True):
        d = deciding_gate(gs)
        if d is None:
            out.append(c)
            continue
        k = next(i for i, x in enumerate(gs) if x is d)
        g = d.model_copy(update={
            "p_value": shown_p(d.verdict, d.p_null, d.p_drop, d.p_adjusted),
            "claim": claim_text(d.type, d.size, d.verdict, higher_is_better=c.higher_is_better,
                                adjusted=d.p_adjusted is not None, relative=d.relative_margin),
        })  # fmt: skip
        gs[k] = g
        out.append(c.model_copy(update={
            "gates": gs, "verdict": g.verdict, "passed": g.passed, "p_value": g.p_value, "p_claim": g.claim,
            "p_adjusted": g.p_adjusted, "ci_low": g.ci_low, "ci_high": g.ci_high, "ci_level": g.ci_level,
            "mde": g.mde, "n_needed": g.n_needed, "message": g.message,
            "gate": GateSpec(type=g.type, min_delta=g.min_delta, margin=g.margin, alpha=g.alpha,
                             relative_margin=g.relative_margin),
        }))  # fmt: skip
    return out, lost


# -- a candidate's verdict and the run's --------------------------------------------------------
def candidate_verdict(
    label: str,
    comparisons: Sequence[ComparisonRecord],
    tests: Sequence[TestRecord],
    *,
    model: ModelRecord | None = None,
    allow_advisory: bool = False,
) -> CandidateVerdict:
    """One candidate's verdict from every check of it.

    Checks: its comparisons' gates (binding ones; under --allow-advisory, advisory ones that are
    REGRESSED or INCOMPLETE too: accepting advisory evidence never hides a collapse), every collected test attributed to it (by its candidate
    parameter; a test of no candidate is every candidate's), and the adapter-effect probe (a no-op
    adapter is ``NO_EFFECT`` whatever its gates say). A setup error that stopped the run makes it
    ``ERROR``.
    """
    adapter = model.spec.adapter if model is not None else None
    mine = [c for c in comparisons if c.candidate == label]
    gated = [c for c in mine if c.gates]
    binding = [c for c in gated if c.binding]
    failed = [c for c in binding if not c.passed]
    # Advisory gates accepted as evidence (--allow-advisory) never hide a collapse.
    accepted = [c for c in gated if not c.binding] if allow_advisory else []
    collapsed = [c for c in accepted if c.verdict in COLLAPSE]
    covered = {c.nodeid for c in failed}
    ours = [t for t in tests if t.candidate in (label, None)]
    stopped = [t for t in ours if t.stopped]
    broken = [t for t in ours if t.outcome in ("failed", "error") and not (t.gate_failure and t.nodeid in covered)]
    pairs = any(c.against == "reference" for c in comparisons)  # a run with a reference names every pair
    problems = [_gate_reason(c, pairs) for c in failed]
    problems += [_gate_reason(c, pairs) + " (advisory, still failing)" for c in collapsed]
    problems += [_test_reason(t) for t in broken]
    failed_ids = [c.id for c in failed + collapsed] + [t.nodeid for t in broken]

    def out(status: RunStatus, reason: str) -> CandidateVerdict:
        return CandidateVerdict(status=status, reason=reason, failed=failed_ids)

    if stopped:
        t = stopped[0]
        return out("ERROR", f"the run stopped in {t.nodeid} (it could not be carried out): {_clip(t.message)}")
    if model is not None and model.adapter_effect is not None and model.adapter_effect.no_effect:
        also = f" Also {len(problems)} check(s) failed; first: {problems[0]}" if problems else ""
        return out("NO_EFFECT", no_effect_text(label, adapter) + also)
    if problems:
        return out("FAIL", f"{len(problems)} check(s) failed; first: {problems[0]}" + _more(problems))
    advisory_failed = [c for c in gated if not c.binding and not c.passed]
    if not binding:
        if gated and allow_advisory:
            return out("PASS", f"only advisory gates ({len(gated)}), accepted by --allow-advisory; "
                       f"{len(advisory_failed)} of them did not pass (none REGRESSED or INCOMPLETE).")
        if gated:
            return out("NO_BINDING_GATES", f"all {len(gated)} gate(s) are advisory (an unreliable judge cannot pass "
                       "or fail a run alone): there is no binding evidence to pass on. Calibrate the judge, add a "
                       "binding gate, or pass --allow-advisory.")
        ran = [t for t in ours if t.outcome == "passed"]
        if ran:
            return out("PASS", f"all {len(ran)} check(s) passed (no comparison gates).")
        return out("ERROR", "no gate was applied: the run has no evidence to pass on.")
    extra = f"; {len(advisory_failed)} advisory gate(s) did not pass" if advisory_failed else ""
    checks = [t for t in ours if t.outcome == "passed" and t.role != "gate"]
    more = f" and {len(checks)} other check(s)" if checks else ""
    split = ""
    if pairs:
        counts = {c.pair: 0 for c in binding}
        for c in binding:
            counts[c.pair] += 1
        split = " (" + ", ".join(f"{n} vs {name}" for name, n in counts.items()) + ")"
    return out("PASS", f"all {len(binding)} binding gate(s){split}{more} passed{extra}.")


def run_verdict(
    per: dict[str, CandidateVerdict],
    exitstatus: int,
    extra_failures: Sequence[str],
    *,
    notes: Sequence[str] = (),
    lost_after_holm: Sequence[str] = (),
) -> RunVerdict:
    """The run's verdict: its worst candidate's (``SEVERITY``); a run that did not complete is ERROR."""
    many = len(per) > 1
    worst = sorted(per.items(), key=lambda kv: SEVERITY.index(kv[1].status))
    bad = [(label, v) for label, v in worst if v.status in BLOCKING]
    failed = list(dict.fromkeys(x for _, v in bad for x in v.failed))

    def out(status: RunStatus, reason: str, failed: list[str]) -> RunVerdict:
        return RunVerdict(status=status, reason=reason, failed=failed, candidates=per, notes=list(notes),
                          lost_after_holm=list(lost_after_holm))

    if bad and (bad[0][1].status == "ERROR" or exitstatus in (0, 1)):
        label, v = bad[0]
        who = f"{label}: " if many else ""
        others = f" ({len(bad)} of {len(per)} candidates fail)" if many else ""
        return out(v.status, who + v.reason + others, failed)
    if exitstatus not in (0, 1):
        return out("ERROR", f"the run did not complete (pytest exit status {exitstatus}).", failed)
    if extra_failures:
        return out("FAIL", extra_failures[0], failed)
    if exitstatus == 1:
        return out("FAIL", "some tests failed or errored; see the pytest output.", failed)
    if not per:
        return out("ERROR", "no gate was applied: the run has no evidence to pass on.", [])
    if not many:
        return out("PASS", next(iter(per.values())).reason, [])
    return out("PASS", f"all {len(per)} candidates passed every check.", [])


def blocks(status: str | None) -> bool:
    """Whether a verdict must make pytest exit non-zero (anything unknown does)."""
    return status not in ("PASS", "ADVISORY")


def no_effect_text(label: str, adapter: str | None) -> str:
    where = f" ({adapter})" if adapter else ""
    return (
        f"ADAPTER HAS NO EFFECT: {label}{where} gives logits identical to the base: its LoRA weights are zero "
        "or were not applied, so every comparison measures the base against itself."
    )


def _gate_reason(c: ComparisonRecord, pairs: bool = False) -> str:
    """``support/category exact_match vs reference (task-only): REGRESSED, delta ...`` (the pair named
    in a run with a reference)."""
    pair = f" vs {pair_name(c.against, c.reference)}" if pairs or c.against == "reference" else ""
    return f"{c.suite} {c.metric}{pair}: {c.verdict}, delta {_signed(c.delta)} [{_signed(c.ci_low)}, {_signed(c.ci_high)}]"


def _test_reason(t: TestRecord) -> str:
    why = _clip(" ".join(t.message.split()))
    return f"{t.nodeid} ({t.outcome})" + (f": {why}" if why else "")


def _more(problems: list[str]) -> str:
    return f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""


def _signed(x: Any) -> str:
    return "n/a" if x is None else f"{float(x):+.3f}"


def _clip(text: str, limit: int = 600) -> str:
    """A check's message for the one-line reason: whole when it fits (it may end in a command to
    run, which must not be cut), else up to the last sentence that fits."""
    if len(text) <= limit:
        return text
    cut = text.rfind(". ", 0, limit)
    return text[: cut + 1] if cut > 0 else text[:limit] + "..."

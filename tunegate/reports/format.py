"""Formatting shared by every renderer: numbers, untrusted text, verdict names and colours.

Everything in results.json that came from a model, a suite file or a metric name is untrusted:
``clean`` makes a string safe to encode (no lone surrogates, no control characters) and
``clean_label`` additionally makes invisible or direction-changing characters visible, because an
identifier that renders differently from its bytes can pass for another one.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any

from tunegate.harness.numbers import fmt_ci, fmt_num, fmt_p, fmt_pct, fmt_signed
from tunegate.harness.record import (
    ComparisonRecord,
    GateResult,
    GateSpec,
    ModelRecord,
    RunRecord,
    SliceRecord,
    TestRecord,
)

# C0/C1 controls except tab/newline/CR, DEL, and lone surrogates (json.loads accepts "\udc80";
# such a string cannot be encoded to UTF-8 and would crash the writer).
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Bidi overrides/isolates/marks and zero-width characters: legitimate inside prose, spoofing in ids.
_INVISIBLE = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
# Bidi controls alone: they reorder the text around them, so shown text never keeps them.
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")

DASH = "—"

VERDICT_COLOURS = {
    "IMPROVED": "#1a7f37",
    "NON_INFERIOR": "#0969da",
    "UNDERPOWERED": "#9a6700",
    "REGRESSED": "#cf222e",
    "INCOMPLETE": "#bc4c00",
    "INCONCLUSIVE": "#6e7781",
    "NOT_GATED": "#8c959f",
}
STATUS_COLOURS = {
    "PASS": "#1a7f37",
    "FAIL": "#cf222e",
    "ADVISORY": "#9a6700",
    "NO_BINDING_GATES": "#9a6700",
    "NO_EFFECT": "#cf222e",
    "ERROR": "#6639ba",
}
STATUS_ICONS = {
    "PASS": "✅",
    "FAIL": "❌",
    "ADVISORY": "⚠️",
    "NO_BINDING_GATES": "⚠️",
    "NO_EFFECT": "🛑",
    "ERROR": "🛑",
}
STATUS_TEXT = {"NO_BINDING_GATES": "NO BINDING GATES", "NO_EFFECT": "NO EFFECT"}
"""How a status is written for people; NO_BINDING_GATES and NO_EFFECT are never shown as a pass."""


def status_text(status: str) -> str:
    return STATUS_TEXT.get(status, status)


def clean(value: object) -> str:
    """``str(value)`` with unencodable and control characters replaced by U+FFFD."""
    return _UNSAFE.sub("\ufffd", value if isinstance(value, str) else str(value))


def _visible(match: re.Match[str]) -> str:
    return f"<U+{ord(match.group()):04X}>"


def clean_text(value: object) -> str:
    """Like ``clean``, and bidi controls shown as ``<U+202E>``: shown text cannot reorder itself."""
    return _BIDI.sub(_visible, clean(value))


def clean_label(value: object) -> str:
    """Like ``clean``, and invisible/bidi characters shown as ``<U+202E>`` (for ids and names)."""
    return _INVISIBLE.sub(_visible, clean(value))


def sanitize(obj: Any) -> Any:
    """A JSON-safe deep copy: strings cleaned, non-finite floats -> None, keys made strings.

    ``json.dumps`` would otherwise emit ``NaN`` (which ``JSON.parse`` rejects, breaking the page)
    or raise on a lone surrogate when the file is encoded.
    """
    if isinstance(obj, str):
        return clean(obj)
    if isinstance(obj, bool) or obj is None or isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {clean(k): sanitize(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [sanitize(v) for v in obj]
    return clean(obj)


MAX_FIELD = 20_000
"""Characters of one text field (a key too) the reports show; longer ones are clipped, saying how much."""


def clip_text(text: str, limit: int = MAX_FIELD) -> str:
    """``text`` cut to at most ``limit`` characters, the cut said in its own last characters."""
    if len(text) <= limit:
        return text
    keep = limit - 48
    return f"{text[:keep]}… [{len(text) - keep:,} more characters not shown]"


def clip_fields(value: Any, limit: int = MAX_FIELD) -> Any:
    """``value`` with every string (dict keys included) longer than ``limit`` clipped, copying only
    what changes: a 50 MB suite name cannot make a 200 MB report."""
    if isinstance(value, str):
        return clip_text(value, limit)
    if isinstance(value, dict):
        return {clip_fields(k, limit) if isinstance(k, str) else k: clip_fields(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [clip_fields(v, limit) for v in value]
    return value


def clip_record(record: RunRecord, limit: int = MAX_FIELD) -> RunRecord:
    """``record`` with every text field (and key) longer than ``limit`` clipped; the same record
    when nothing is that long (the usual case)."""
    data = record.to_json()
    clipped = clip_fields(data, limit)
    return record if clipped == data else RunRecord.model_validate(clipped)


def obj(value: object) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (optional sections may be null)."""
    return value if isinstance(value, dict) else {}


def as_float(value: object) -> float | None:
    """A finite float, or None for null / NaN / inf / non-numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    x = float(value)
    return x if math.isfinite(x) else None


def _decimals(x: float) -> int:
    ax = abs(x)
    if ax >= 1000:
        return 0
    if ax >= 100:
        return 1
    if ax >= 10:
        return 2
    return 3


def num(value: object, decimals: int | None = None) -> str:
    """``0.812``; large values get fewer decimals; missing values are an em dash."""
    x = as_float(value)
    if x is None:
        return DASH
    return fmt_num(x, _decimals(x) if decimals is None else decimals)


def signed(value: object, decimals: int | None = None) -> str:
    """``+0.690`` / ``-0.080`` (ASCII minus, so it pastes into anything)."""
    x = as_float(value)
    if x is None:
        return DASH
    return fmt_signed(x, _decimals(x) if decimals is None else decimals)


def interval(low: object, high: object, decimals: int | None = None) -> str:
    """``[-0.120, +0.040]``, or "" when a bound is missing."""
    lo, hi = as_float(low), as_float(high)
    if lo is None or hi is None:
        return ""
    d = decimals if decimals is not None else max(_decimals(lo), _decimals(hi))
    return fmt_ci(lo, hi, d)


def delta_ci(x: ComparisonRecord | SliceRecord) -> str:
    """``-0.080 [-0.120, -0.040]`` for a comparison or a slice."""
    text = signed(x.delta)
    ci = interval(x.ci_low, x.ci_high)
    return f"{text} {ci}" if ci else text


def pval(value: object) -> str:
    """A p-value through the one formatter (``< 1e-16``, never ``0.0e+00``)."""
    return fmt_p(value, missing=DASH)


def pct(value: object, decimals: int = 1) -> str:
    return fmt_pct(value, decimals, missing=DASH)


def short_hash(value: object, n: int = 12) -> str:
    if not value:
        return DASH
    text = clean_label(value)
    if text.startswith("sha256:"):
        text = text[7:]
    return text[:n]


def pretty_json(value: object) -> str:
    """A reference that is a JSON object, shown as compact one-line JSON (it wraps in its cell)."""
    if isinstance(value, str):
        return value
    return json.dumps(sanitize(value), ensure_ascii=False)


def _one_gate(gate: GateSpec | GateResult) -> str:
    if gate.type == "improves":
        return f"improves by > {signed(gate.min_delta or 0.0)}"
    if gate.type == "no_regression":
        return f"no regression beyond {num(gate.margin)}"
    return "not gated"


def gate_text(comparison: ComparisonRecord) -> str:
    """The gate(s) in words, with thresholds: two gates on one metric are told apart by this.

    A comparison gated twice (``gates``: improves and no_regression) names both with their verdicts.
    """
    if len(comparison.gates) > 1:
        return " & ".join(f"{_one_gate(g)} ({g.verdict})" for g in comparison.gates)
    return _one_gate(comparison.gate)


def comparison_label(comparison: ComparisonRecord, *, with_candidate: bool, with_gate: bool = False) -> str:
    """``support/eval · exact_match[category]`` (plus ``· label`` when there are several candidates,
    ``· vs reference (label)`` for a comparison against the reference in production, and
    ``· improves by > +0.050`` when ``with_gate``)."""
    parts = [comparison.suite, comparison.metric, *([comparison.candidate] if with_candidate else [])]
    if comparison.against == "reference":
        parts.append(f"vs {comparison.pair}")
    text = " · ".join(clean_label(p) for p in parts)
    return f"{text} · {gate_text(comparison)}" if with_gate else text


def is_advisory(comparison: ComparisonRecord) -> bool:
    """Advisory (cannot fail the run alone): ``binding: false`` (or the older ``advisory: true``)."""
    return not comparison.binding or comparison.advisory


def coverage_text(comparison: ComparisonRecord) -> str:
    """``54 of 60 items scored (90.0%); unscored: base 0, candidate 54 ...; floor 90%. Why: ...``, or ""."""
    cov = comparison.coverage
    if cov is None:
        failed = comparison.n_failed
        return f"{failed} item(s) not scored" if failed else ""
    base, cand, infra = cov.unscored_base, cov.unscored_candidate, cov.infra
    if not (base or cand or infra) and cov.n_scored == cov.n_items:
        return ""
    share = cov.n_scored / cov.n_items if cov.n_items else None
    parts = [f"{cov.n_scored} of {cov.n_items} items scored" + (f" ({pct(share)})" if share is not None else "")]
    other = "reference" if comparison.against == "reference" else "base"
    parts.append(f"unscored: {other} {base}, candidate {cand}" + (f", infrastructure {infra}" if infra else ""))
    parts.append(f"floor {pct(cov.floor, 0)}")
    reasons = [clean_text(r) for r in cov.reasons if r]
    text = "; ".join(parts)
    return f"{text}. Why: {'; '.join(reasons[:5])}" if reasons else text


def p_text(comparison: ComparisonRecord) -> str:
    """``0.0011 (H0: delta <= -0.10)``: the p that decided the verdict, and its claim when named."""
    p = pval(comparison.p_value)
    return f"{p} ({clean_text(comparison.p_claim)})" if comparison.p_claim else p


def candidate_count(record: RunRecord) -> int:
    return len(record.models.candidates) or 1


def is_failing(comparison: ComparisonRecord) -> bool:
    return not comparison.passed


def failing_order(comparisons: Sequence[ComparisonRecord]) -> list[ComparisonRecord]:
    """Blocking failures first, then advisory failures, then the rest in their original order."""

    def rank(c: ComparisonRecord) -> int:
        if is_failing(c):
            return 1 if is_advisory(c) else 0
        return 2

    return sorted(comparisons, key=rank)


def no_effect_candidates(record: RunRecord) -> list[ModelRecord]:
    """Candidates whose adapter changes nothing (``adapter_effect.no_effect``): said before anything."""
    return [c for c in record.models.candidates if c.adapter_effect is not None and c.adapter_effect.no_effect]


def no_effect_text(candidate: ModelRecord) -> str:
    adapter = candidate.spec.adapter
    where = f" ({clean_label(adapter)})" if adapter else ""
    return (
        f"ADAPTER HAS NO EFFECT: candidate {clean_label(candidate.label)}{where} gives "
        "logits identical to the base on a probe batch; its weights are zero or were not applied, so every "
        "comparison of it measures the base against itself."
    )


def run_tests(record: RunRecord) -> list[TestRecord]:
    """The run's tests that are not comparison gates (leakage, drift, custom), failed and errored
    ones first; gate tests are shown as their comparisons."""
    order = {"error": 0, "failed": 1}
    return sorted((t for t in record.tests if t.role != "gate"), key=lambda t: order.get(t.outcome, 2))


def is_bad_test(test: TestRecord) -> bool:
    """A check that failed or errored by itself; a test that failed through a comparison gate is
    shown with its comparison, not twice."""
    return test.outcome in ("failed", "error") and not (test.gate_failure and test.role == "gate")


def bad_gate_tests(record: RunRecord) -> list[TestRecord]:
    """Comparison tests that failed or errored by themselves (not through their gate)."""
    return [t for t in record.tests if t.role == "gate" and is_bad_test(t)]

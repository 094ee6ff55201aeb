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
from typing import Any

from tunegate.harness.numbers import fmt_ci, fmt_num, fmt_p, fmt_pct, fmt_signed

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


def delta_ci(comparison: dict[str, Any]) -> str:
    """``-0.080 [-0.120, -0.040]`` for a comparison or slice dict."""
    text = signed(comparison.get("delta"))
    ci = interval(comparison.get("ci_low"), comparison.get("ci_high"))
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


def _one_gate(gate: dict[str, Any]) -> str:
    kind = gate.get("type")
    if kind == "improves":
        return f"improves by > {signed(gate.get('min_delta') or 0.0)}"
    if kind == "no_regression":
        return f"no regression beyond {num(gate.get('margin'))}"
    return "not gated"


def gate_text(comparison: dict[str, Any]) -> str:
    """The gate(s) in words, with thresholds: two gates on one metric are told apart by this.

    A comparison gated twice (``gates``: improves and no_regression) names both with their verdicts.
    """
    gates = [g for g in comparison.get("gates") or [] if isinstance(g, dict)]
    if len(gates) > 1:
        return " & ".join(f"{_one_gate(g)} ({clean_label(g.get('verdict') or '?')})" for g in gates)
    return _one_gate(obj(comparison.get("gate")) or (gates[0] if gates else {}))


def comparison_label(comparison: dict[str, Any], *, with_candidate: bool, with_gate: bool = False) -> str:
    """``support/eval · exact_match[category]`` (plus ``· label`` when there are several candidates,
    plus ``· improves by > +0.050`` when ``with_gate``)."""
    parts = [comparison.get("suite", "?"), comparison.get("metric", "?")]
    if with_candidate:
        parts.append(comparison.get("candidate", "?"))
    text = " · ".join(clean_label(p) for p in parts)
    return f"{text} · {gate_text(comparison)}" if with_gate else text


def is_advisory(comparison: dict[str, Any]) -> bool:
    """Advisory (cannot fail the run alone): ``binding: false`` or the older ``advisory: true``."""
    return comparison.get("binding") is False or bool(comparison.get("advisory"))


def coverage(comparison: dict[str, Any]) -> dict[str, Any]:
    """The comparison's coverage record, or {} when the run predates it."""
    return obj(comparison.get("coverage"))


def coverage_text(comparison: dict[str, Any]) -> str:
    """``54 of 60 items unscored (base 0, candidate 54; 54 infrastructure): judge API ...``, or ""."""
    cov = coverage(comparison)
    n_items = cov.get("n_items")
    if not isinstance(n_items, int) or isinstance(n_items, bool):
        failed = comparison.get("n_failed")
        return f"{failed} item(s) not scored" if isinstance(failed, int) and failed else ""
    scored = cov.get("n_scored")
    base, cand, infra = (cov.get(k) or 0 for k in ("unscored_base", "unscored_candidate", "infra"))
    if not (base or cand or infra) and scored == n_items:
        return ""
    share = scored / n_items if isinstance(scored, int) and not isinstance(scored, bool) and n_items else None
    parts = [f"{scored} of {n_items} items scored" + (f" ({pct(share)})" if share is not None else "")]
    parts.append(f"unscored: base {base}, candidate {cand}" + (f", infrastructure {infra}" if infra else ""))
    floor = as_float(cov.get("floor"))
    if floor is not None:
        parts.append(f"floor {pct(floor, 0)}")
    reasons = [clean_text(r) for r in cov.get("reasons") or [] if r]
    text = "; ".join(parts)
    return f"{text}. Why: {'; '.join(reasons[:5])}" if reasons else text


def p_text(comparison: dict[str, Any]) -> str:
    """``0.0011 (H0: delta <= -0.10)``: the p that decided the verdict, and its claim when named."""
    claim = comparison.get("p_claim")
    p = pval(comparison.get("p_value"))
    return f"{p} ({clean_text(claim)})" if claim else p


def candidate_count(results: dict[str, Any]) -> int:
    return len(obj(results.get("models")).get("candidates") or []) or 1


def is_failing(comparison: dict[str, Any]) -> bool:
    return comparison.get("passed") is False


def failing_order(comparisons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Blocking failures first, then advisory failures, then the rest in their original order."""

    def rank(c: dict[str, Any]) -> int:
        if is_failing(c):
            return 1 if is_advisory(c) else 0
        return 2

    return sorted(comparisons, key=rank)


def no_effect_candidates(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Candidates whose adapter changes nothing (``adapter_effect.no_effect``): said before anything."""
    cands = obj(results.get("models")).get("candidates") or []
    return [c for c in cands if isinstance(c, dict) and obj(c.get("adapter_effect")).get("no_effect") is True]


def no_effect_text(candidate: dict[str, Any]) -> str:
    spec = obj(candidate.get("spec"))
    where = f" ({clean_label(spec.get('adapter'))})" if spec.get("adapter") else ""
    return (
        f"ADAPTER HAS NO EFFECT: candidate {clean_label(candidate.get('label') or 'candidate')}{where} gives "
        "logits identical to the base on a probe batch; its weights are zero or were not applied, so every "
        "comparison of it measures the base against itself."
    )


def candidate_verdicts(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``verdict.candidates`` ({label: {status, reason, failed}}) as written by the run, or {}."""
    raw = obj(obj(results.get("verdict")).get("candidates"))
    return {str(k): v for k, v in raw.items() if isinstance(v, dict)}


def run_tests(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The run's tests that are not comparison gates (leakage, drift, custom), failed and errored
    ones first; gate tests are shown as their comparisons."""
    tests = [t for t in results.get("tests") or [] if isinstance(t, dict) and t.get("kind") != "gate"]
    order = {"error": 0, "failed": 1}
    return sorted(tests, key=lambda t: order.get(str(t.get("outcome")), 2))


def is_bad_test(test: dict[str, Any]) -> bool:
    """A check that failed or errored by itself; a test that failed through a comparison gate is
    shown with its comparison, not twice."""
    through_gate = bool(test.get("gate_failure")) and test.get("kind") == "gate"
    return str(test.get("outcome")) in ("failed", "error") and not through_gate


def bad_gate_tests(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Comparison tests that failed or errored by themselves (not through their gate)."""
    return [
        t for t in results.get("tests") or []
        if isinstance(t, dict) and t.get("kind") == "gate" and is_bad_test(t)
    ]

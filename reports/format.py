"""Formatting shared by every renderer: numbers, untrusted text, verdict names and colours.

Everything in results.json that came from a model, a suite file or a metric name is untrusted:
``clean`` makes a string safe to encode (no lone surrogates, no control characters) and
``clean_label`` additionally makes invisible or direction-changing characters visible, because an
identifier that renders differently from its bytes can pass for another one.
"""

from __future__ import annotations

import html
import json
import math
import re
from typing import Any

# C0/C1 controls except tab/newline/CR, DEL, and lone surrogates (json.loads accepts "\udc80";
# such a string cannot be encoded to UTF-8 and would crash the writer).
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Bidi overrides/isolates/marks and zero-width characters: legitimate inside prose, spoofing in ids.
_INVISIBLE = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")

DASH = "—"

VERDICT_COLOURS = {
    "IMPROVED": "#1a7f37",
    "NON_INFERIOR": "#0969da",
    "UNDERPOWERED": "#9a6700",
    "REGRESSED": "#cf222e",
    "INCONCLUSIVE": "#6e7781",
    "NOT_GATED": "#8c959f",
}
STATUS_COLOURS = {"PASS": "#1a7f37", "FAIL": "#cf222e", "ADVISORY": "#9a6700", "ERROR": "#6639ba"}
STATUS_ICONS = {"PASS": "✅", "FAIL": "❌", "ADVISORY": "⚠️", "ERROR": "🛑"}


def clean(value: object) -> str:
    """``str(value)`` with unencodable and control characters replaced by U+FFFD."""
    return _UNSAFE.sub("\ufffd", value if isinstance(value, str) else str(value))


def clean_label(value: object) -> str:
    """Like ``clean``, and invisible/bidi characters shown as ``<U+202E>`` (for ids and names)."""
    return _INVISIBLE.sub(lambda m: f"<U+{ord(m.group()):04X}>", clean(value))


def esc(value: object) -> str:
    """HTML-escape untrusted text (quotes included, so it is safe in attribute values too)."""
    return html.escape(clean(value), quote=True)


def esc_label(value: object) -> str:
    return html.escape(clean_label(value), quote=True)


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
    d = _decimals(x) if decimals is None else decimals
    return f"{x:,.{d}f}" if abs(x) >= 1000 else f"{x:.{d}f}"


def signed(value: object, decimals: int | None = None) -> str:
    """``+0.690`` / ``-0.080`` (ASCII minus, so it pastes into anything)."""
    x = as_float(value)
    if x is None:
        return DASH
    s = num(x, decimals)
    return s if s.startswith("-") else "+" + s


def interval(low: object, high: object, decimals: int | None = None) -> str:
    lo, hi = as_float(low), as_float(high)
    if lo is None or hi is None:
        return ""
    d = decimals if decimals is not None else max(_decimals(lo), _decimals(hi))
    return f"[{lo:.{d}f}, {hi:.{d}f}]"


def delta_ci(comparison: dict[str, Any]) -> str:
    """``-0.080 [-0.120, -0.040]`` for a comparison or slice dict."""
    text = signed(comparison.get("delta"))
    ci = interval(comparison.get("ci_low"), comparison.get("ci_high"))
    return f"{text} {ci}" if ci else text


def pval(value: object) -> str:
    x = as_float(value)
    if x is None:
        return DASH
    if x < 0.001:
        return f"{x:.1e}"
    return f"{x:.3f}"


def pct(value: object, decimals: int = 1) -> str:
    x = as_float(value)
    return DASH if x is None else f"{100 * x:.{decimals}f}%"


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


def comparison_label(comparison: dict[str, Any], *, with_candidate: bool) -> str:
    """``support/eval · exact_match[category]`` (plus ``· label`` when there are several candidates)."""
    parts = [comparison.get("suite", "?"), comparison.get("metric", "?")]
    if with_candidate:
        parts.append(comparison.get("candidate", "?"))
    return " · ".join(clean_label(p) for p in parts)


def candidate_count(results: dict[str, Any]) -> int:
    return len(obj(results.get("models")).get("candidates") or []) or 1


def is_failing(comparison: dict[str, Any]) -> bool:
    return comparison.get("passed") is False


def failing_order(comparisons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Blocking failures first, then advisory failures, then the rest in their original order."""

    def rank(c: dict[str, Any]) -> int:
        if is_failing(c):
            return 1 if c.get("advisory") else 0
        return 2

    return sorted(comparisons, key=rank)

"""The forest plot: every comparison's delta with its CI and its gate threshold, as inline SVG."""

from __future__ import annotations

import math
from typing import Any

from reports.format import VERDICT_COLOURS, as_float, comparison_label, delta_ci, esc, esc_label

WIDTH = 1040
LABEL_W = 330
PLOT_X0, PLOT_X1 = 345, 745
TEXT_X = 765
ROW_H = 26
TOP = 40
BOTTOM = 34
_LABEL_CHARS = 46


def nice_ticks(lo: float, hi: float, target: int = 8) -> list[float]:
    """Round tick values (1/2/5 x 10^k) covering [lo, hi]."""
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / max(target - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    t = first
    while t <= hi + 1e-9 * step:
        ticks.append(0.0 if abs(t) < step * 1e-9 else t)
        t += step
    return ticks


def gate_threshold(comparison: dict[str, Any]) -> float | None:
    """The delta a gate compares against: ``min_delta`` (improves) or ``-margin`` (no regression)."""
    gate = comparison.get("gate") or {}
    if gate.get("type") == "improves":
        return as_float(gate.get("min_delta"))
    if gate.get("type") == "no_regression":
        margin = as_float(gate.get("margin"))
        return None if margin is None else -margin
    return None


def _axis_range(comparisons: list[dict[str, Any]]) -> tuple[float, float]:
    values = [0.0]
    for c in comparisons:
        for key in ("delta", "ci_low", "ci_high"):
            x = as_float(c.get(key))
            if x is not None:
                values.append(x)
        g = gate_threshold(c)
        if g is not None:
            values.append(g)
    lo, hi = min(values), max(values)
    if hi - lo < 1e-9:
        lo, hi = lo - 1.0, hi + 1.0
    pad = 0.06 * (hi - lo)
    return lo - pad, hi + pad


def _fmt_tick(t: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step))) if step > 0 else 2
    return f"{t:+.{decimals}f}" if t else "0"


def forest_plot(comparisons: list[dict[str, Any]], *, with_candidate: bool = False) -> str:
    """SVG markup (escaped) for ``comparisons`` in the given order; rows link to ``#cmp-<index>``."""
    if not comparisons:
        return '<p class="muted">No comparisons in this run.</p>'
    lo, hi = _axis_range(comparisons)
    height = TOP + ROW_H * len(comparisons) + BOTTOM

    def x(v: float) -> float:
        return PLOT_X0 + (v - lo) / (hi - lo) * (PLOT_X1 - PLOT_X0)

    ticks = nice_ticks(lo, hi)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    parts = [
        f'<svg class="forest" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
        'aria-label="Forest plot of candidate minus base, with confidence intervals and gate thresholds" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<rect x="{PLOT_X0}" y="{TOP - 6}" width="{PLOT_X1 - PLOT_X0}" height="{ROW_H * len(comparisons) + 6}" '
        'fill="#f6f8fa"/>',
    ]
    # Legend above the plot.
    parts.append(
        f'<text x="{PLOT_X0}" y="16" font-size="11.5" fill="#59636e">delta = candidate − base '
        f"(● estimate, ○ advisory, ── {esc(_ci_level(comparisons))} CI)</text>"
        f'<line x1="{TEXT_X}" y1="12" x2="{TEXT_X}" y2="22" stroke="#24292f" stroke-width="2" stroke-dasharray="3 2"/>'
        f'<text x="{TEXT_X + 6}" y="20" font-size="11.5" fill="#59636e">gate threshold (min_delta or −margin)</text>'
    )
    for t in ticks:
        tx = x(t)
        parts.append(
            f'<line x1="{tx:.1f}" y1="{TOP - 6}" x2="{tx:.1f}" y2="{height - BOTTOM}" stroke="#d8dee4" stroke-width="1"/>'
            f'<text x="{tx:.1f}" y="{height - BOTTOM + 15}" font-size="11" fill="#59636e" text-anchor="middle">'
            f"{_fmt_tick(t, step)}</text>"
        )
    zx = x(0.0)
    parts.append(
        f'<line x1="{zx:.1f}" y1="{TOP - 6}" x2="{zx:.1f}" y2="{height - BOTTOM}" stroke="#57606a" stroke-width="1.4"/>'
    )
    for row, c in enumerate(comparisons):
        parts.append(_row(c, row, x, with_candidate))
    parts.append("</svg>")
    return "".join(parts)


def _ci_level(comparisons: list[dict[str, Any]]) -> str:
    levels = {as_float(c.get("ci_level")) for c in comparisons} - {None}
    if len(levels) == 1:
        (level,) = levels
        assert level is not None
        return f"{100 * level:g}%"
    return "confidence"


def _row(c: dict[str, Any], row: int, x: Any, with_candidate: bool) -> str:
    y = TOP + ROW_H * row + ROW_H / 2
    verdict = str(c.get("verdict") or "")
    colour = VERDICT_COLOURS.get(verdict, "#6e7781")
    label = comparison_label(c, with_candidate=with_candidate)
    short = label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"
    weight = "700" if c.get("passed") is False else "400"
    out = [f"<g><title>{esc(label)}: {esc(c.get('message') or verdict)}</title>"]
    if row % 2:
        out.append(
            f'<rect x="0" y="{y - ROW_H / 2:.1f}" width="{PLOT_X0 - 8}" height="{ROW_H}" fill="#fafbfc"/>'
        )
    out.append(
        f'<text x="{LABEL_W}" y="{y + 4:.1f}" font-size="12.5" text-anchor="end" font-weight="{weight}" '
        f'fill="#1f2328">{esc_label(short)}</text>'
    )
    gate = gate_threshold(c)
    if gate is not None:
        gx = x(gate)
        out.append(
            f'<line x1="{gx:.1f}" y1="{y - ROW_H / 2 + 3:.1f}" x2="{gx:.1f}" y2="{y + ROW_H / 2 - 3:.1f}" '
            'stroke="#24292f" stroke-width="2" stroke-dasharray="3 2"/>'
        )
    lo, hi, d = as_float(c.get("ci_low")), as_float(c.get("ci_high")), as_float(c.get("delta"))
    if lo is not None and hi is not None:
        out.append(
            f'<line x1="{x(lo):.1f}" y1="{y:.1f}" x2="{x(hi):.1f}" y2="{y:.1f}" stroke="{colour}" stroke-width="2.2"/>'
            f'<line x1="{x(lo):.1f}" y1="{y - 5:.1f}" x2="{x(lo):.1f}" y2="{y + 5:.1f}" stroke="{colour}" stroke-width="2"/>'
            f'<line x1="{x(hi):.1f}" y1="{y - 5:.1f}" x2="{x(hi):.1f}" y2="{y + 5:.1f}" stroke="{colour}" stroke-width="2"/>'
        )
    if d is not None:
        fill = "#ffffff" if c.get("advisory") else colour
        out.append(
            f'<circle cx="{x(d):.1f}" cy="{y:.1f}" r="5" fill="{fill}" stroke="{colour}" stroke-width="2"/>'
        )
    out.append(
        f'<text x="{TEXT_X}" y="{y + 4:.1f}" font-size="12" fill="#1f2328" font-family="ui-monospace, Menlo, monospace">'
        f"{esc(delta_ci(c))}</text>"
        f'<text x="{WIDTH - 4}" y="{y + 4:.1f}" font-size="11.5" font-weight="700" text-anchor="end" fill="{colour}">'
        f"{esc(verdict)}</text>"
    )
    out.append("</g>")
    return "".join(out)

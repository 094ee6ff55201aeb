"""The forest plot: every comparison's delta with its CI and its gate threshold, as inline SVG.

Metrics live on different scales (chrF 0-100, a judge's 1-5, proportions 0-1), and one shared
axis squashes the small ones to the zero line. So the plot is faceted by metric: one panel per
metric name, each with its own axis; rows are only compared within a panel. Each row has its label
on a line of its own above the interval, so the plot stays readable in a 760 px wide window.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from tunegate.harness.record import ComparisonRecord
from tunegate.reports.format import VERDICT_COLOURS, as_float, clean_label, delta_ci, gate_text, is_advisory
from tunegate.reports.markup import Html, frag, h

WIDTH = 720
PLOT_X0, PLOT_X1 = 10, 470
TEXT_X = 482
ROW_H = 42
TOP = 12
BOTTOM = 30
_LABEL_CHARS = 84


def nice_ticks(lo: float, hi: float, target: int = 6) -> list[float]:
    """Round tick values (1/2/5 x 10^k) covering [lo, hi].

    Ends that are not finite, or so far apart that their span overflows a float (a CI of
    +-1e308), get the two ends alone as ticks (no OverflowError)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [t for t in (lo, hi) if math.isfinite(t)] or [0.0]
    span = hi - lo
    if not math.isfinite(span):
        return [lo, hi]
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


def gate_threshold(comparison: ComparisonRecord) -> float | None:
    """The delta a gate compares against: ``min_delta`` (improves) or ``-margin`` (no regression)."""
    gate = comparison.gate
    if gate.type == "improves":
        return as_float(gate.min_delta)
    if gate.type == "no_regression":
        margin = as_float(gate.margin)
        return None if margin is None else -margin
    return None


def _axis_range(comparisons: list[ComparisonRecord]) -> tuple[float, float]:
    values = [0.0]
    for c in comparisons:
        for x in (as_float(c.delta), as_float(c.ci_low), as_float(c.ci_high)):
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


def facets(ordered: list[tuple[int, ComparisonRecord]]) -> dict[str, list[tuple[int, ComparisonRecord]]]:
    """Comparisons grouped by metric name, in the order the metrics first appear."""
    out: dict[str, list[tuple[int, ComparisonRecord]]] = {}
    for k, c in ordered:
        out.setdefault(c.metric, []).append((k, c))
    return out


def forest_plot(ordered: list[tuple[int, ComparisonRecord]], *, with_candidate: bool = False) -> Html:
    """One panel per metric for ``ordered`` ((comparison index, comparison) in table order)."""
    if not ordered:
        return h("p", "No comparisons in this run.", class_="muted")
    panels = []
    for metric, rows in facets(ordered).items():
        comparisons = [c for _, c in rows]
        lo, hi = _axis_range(comparisons)
        panels.append(
            h(
                "figure",
                h(
                    "figcaption",
                    h("code", metric),
                    f" — delta in {metric} units, axis {lo:+.3g} to {hi:+.3g} ({_ci_level(comparisons)} CI)",
                ),
                _panel(rows, lo, hi, with_candidate),
                class_="facet",
            )
        )
    legend = h(
        "p",
        "● estimate (○ advisory gate), line: confidence interval, dashed tick: the gate's threshold "
        "(min_delta for improves, −margin for no regression), grey line: no change.",
        class_="note",
    )
    return frag(legend, panels)


def _panel(rows: list[tuple[int, ComparisonRecord]], lo: float, hi: float, with_candidate: bool) -> Html:
    height = TOP + ROW_H * len(rows) + BOTTOM

    def x(v: float) -> float:
        return PLOT_X0 + (v - lo) / (hi - lo) * (PLOT_X1 - PLOT_X0)

    ticks = nice_ticks(lo, hi)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    bottom = height - BOTTOM
    parts: list[Html] = [
        h("rect", x=PLOT_X0, y=TOP, width=PLOT_X1 - PLOT_X0, height=ROW_H * len(rows), fill="#f6f8fa")
    ]
    for t in ticks:
        tx = f"{x(t):.1f}"
        parts.append(
            frag(
                h("line", x1=tx, y1=TOP, x2=tx, y2=bottom, stroke="#d8dee4", stroke_width=1),
                h("text", _fmt_tick(t, step), x=tx, y=bottom + 15, font_size=11, fill="#59636e", text_anchor="middle"),
            )
        )
    zx = f"{x(0.0):.1f}"
    parts.append(h("line", x1=zx, y1=TOP, x2=zx, y2=bottom, stroke="#57606a", stroke_width=1.4))
    parts += [_row(c, row, x, with_candidate) for row, (_, c) in enumerate(rows)]
    return h(
        "svg",
        parts,
        class_="forest",
        viewBox=f"0 0 {WIDTH} {height}",
        width=WIDTH,
        height=height,
        role="img",
        aria_label="Forest plot panel: candidate minus base (or reference) with confidence intervals and gate thresholds",
        xmlns="http://www.w3.org/2000/svg",
    )


def _ci_level(comparisons: list[ComparisonRecord]) -> str:
    levels = {as_float(c.ci_level) for c in comparisons} - {None}
    if len(levels) == 1:
        (level,) = levels
        assert level is not None
        return f"{100 * level:g}%"
    return "confidence"


def row_label(c: ComparisonRecord, with_candidate: bool) -> str:
    """The row's name inside its metric panel: suite (· candidate) · gate and threshold."""
    parts = [clean_label(c.suite)]
    if with_candidate:
        parts.append(clean_label(c.candidate))
    if c.against == "reference":
        parts.append(f"vs {clean_label(c.pair)}")
    parts.append(gate_text(c))
    return " · ".join(parts)


def _row(c: ComparisonRecord, row: int, x: Callable[[float], float], with_candidate: bool) -> Html:
    top = TOP + ROW_H * row
    y = top + 28
    verdict = c.verdict
    colour = VERDICT_COLOURS.get(verdict, "#6e7781")
    label = row_label(c, with_candidate)
    short = label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"
    out: list[Html] = [
        h("title", f"{c.metric} · {label}: {c.message or verdict}"),
        # The label line is kept clear of grid lines so the text stays readable.
        h("rect", x=0, y=top + 1, width=WIDTH, height=16, fill="#ffffff"),
    ]
    out.append(
        h("text", short, x=PLOT_X0, y=top + 13, font_size=12.5, fill="#1f2328", font_weight=700 if not c.passed else 400)
    )
    out.append(h("text", verdict, x=WIDTH - 4, y=top + 13, font_size=11.5, font_weight=700, text_anchor="end", fill=colour))
    gate = gate_threshold(c)
    if gate is not None:
        gx = f"{x(gate):.1f}"
        out.append(h("line", x1=gx, y1=y - 8, x2=gx, y2=y + 8, stroke="#24292f", stroke_width=2, stroke_dasharray="3 2"))
    lo, hi, d = as_float(c.ci_low), as_float(c.ci_high), as_float(c.delta)
    if lo is not None and hi is not None:
        xl, xh = f"{x(lo):.1f}", f"{x(hi):.1f}"
        out += [
            h("line", x1=xl, y1=y, x2=xh, y2=y, stroke=colour, stroke_width=2.2),
            h("line", x1=xl, y1=y - 5, x2=xl, y2=y + 5, stroke=colour, stroke_width=2),
            h("line", x1=xh, y1=y - 5, x2=xh, y2=y + 5, stroke=colour, stroke_width=2),
        ]
    if d is not None:
        fill = "#ffffff" if is_advisory(c) else colour
        out.append(h("circle", cx=f"{x(d):.1f}", cy=y, r=5, fill=fill, stroke=colour, stroke_width=2))
    out.append(
        h("text", delta_ci(c), x=TEXT_X, y=y + 4, font_size=12, fill="#1f2328", font_family="ui-monospace, Menlo, monospace")
    )
    return h("g", out)

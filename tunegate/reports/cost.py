"""The cost table: per model, mean answer tokens, mean request tokens (prompt + answer) and, where
the backend timed requests, p50/p95 latency as this machine measured it.

Rendered from the record's ``cost`` section (``tunegate.harness.cost``) for the HTML report and
summary.md; a run without one (older results.json, a run that generated nothing) has no table.
Latency cells say why a figure is absent instead of showing a number nobody measured.
"""

from __future__ import annotations

from tunegate.harness.record import RunRecord
from tunegate.harness.record_sections import CostRecord, ModelCost
from tunegate.reports.format import DASH
from tunegate.reports.markup import Html, frag, h

HEADER = ("model", "items", "answer tokens (mean)", "request tokens (mean)", "latency p50", "latency p95")


def _tokens(x: float | None) -> str:
    return DASH if x is None else f"{x:,.1f}"


def _seconds(x: float | None) -> str:
    if x is None:
        return DASH
    return f"{1000 * x:,.0f} ms" if x < 1 else f"{x:,.2f} s"


def _request(m: ModelCost) -> str:
    if m.request_tokens_mean is not None:
        return _tokens(m.request_tokens_mean)
    if m.n_prompt_counted < m.n:
        return f"{DASH} ({m.n - m.n_prompt_counted} prompts not counted)"
    return DASH


def cells(m: ModelCost) -> list[str]:
    """One row of the table as plain text (escaped by the renderer that places it)."""
    return [m.model, str(m.n), _tokens(m.answer_tokens_mean), _request(m), _seconds(m.latency_p50_s), _seconds(m.latency_p95_s)]


def notes(cost: CostRecord) -> list[str]:
    """What the figures are: the token unit, and per model what its latency cells mean."""
    out = [f"Tokens are {cost.token_unit}." if cost.token_unit else ""]
    timed = [m for m in cost.models if m.n_timed]
    if timed:
        out.append(f"Latency measured on {cost.measured_on}: wall-clock per request, send to full reply.")
    seen: set[str] = set()
    for m in cost.models:
        if m.latency_note and m.latency_note not in seen:
            seen.add(m.latency_note)
            who = m.model if sum(x.latency_note == m.latency_note for x in cost.models) == 1 else "all models"
            out.append(f"Latency ({who}): {m.latency_note}.")
    return [n for n in out if n]


def cost_html(record: RunRecord) -> Html:
    """The HTML report's cost section (a muted line when the run recorded no costs)."""
    cost = record.cost
    if cost is None or not cost.models:
        return h("p", "This run recorded no costs (results.json has no cost section).", class_="muted")
    head = h("tr", *(h("th", c) for c in HEADER))
    rows = [h("tr", *(h("td", c) for c in cells(m))) for m in cost.models]
    return frag(
        h("table", h("thead", head), h("tbody", *rows), class_="cost"),
        *(h("p", n, class_="muted") for n in notes(cost)),
    )


def cost_table(record: RunRecord) -> tuple[list[list[str]], list[str]] | None:
    """The table's rows (plain text; the header is ``HEADER``) and its notes; None when the run
    recorded no costs. summary.md escapes and places them (``tunegate.reports.markdown``)."""
    cost = record.cost
    if cost is None or not cost.models:
        return None
    return [cells(m) for m in cost.models], notes(cost)


__all__ = ["HEADER", "cells", "cost_html", "cost_table", "notes"]

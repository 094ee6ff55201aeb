"""results.json -> one self-contained, offline HTML report (verdict first).

The page has no external resource: CSS is inline, charts are inline SVG, and the only script is
inline and pinned by its sha256 in a strict Content-Security-Policy, so even an escaping bug
could neither run injected script nor load anything remote. Item-level data (thousands of
items) is embedded as escaped JSON and paginated client-side (see reports/items.py).
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from functools import cache
from importlib import resources
from typing import Any

from reports.files import check_results
from reports.format import (
    DASH,
    STATUS_COLOURS,
    as_float,
    candidate_count,
    clean_label,
    comparison_label,
    delta_ci,
    esc,
    esc_label,
    failing_order,
    interval,
    is_failing,
    num,
    obj,
    pval,
    signed,
)
from reports.items import page_data, script_json
from reports.sections import (
    forgetting_section,
    judges_section,
    leakage_section,
    provenance_section,
    scalar,
    verdict_badge,
)
from reports.svg import forest_plot

PAGE_SIZE = 50
MAX_SLICE_ROWS = 100
MAX_FAILING_IDS = 10

NAV = (
    ("verdict", "Verdict"),
    ("forest", "Forest plot"),
    ("comparisons", "Comparisons"),
    ("slices", "Slices"),
    ("flips", "Flips"),
    ("leakage", "Leakage"),
    ("forgetting", "Forgetting"),
    ("judges", "Judges"),
    ("items", "Items"),
    ("provenance", "Provenance"),
)


@cache
def template(name: str) -> str:
    """A file of reports/templates (the page's CSS and script), read once per process."""
    return (resources.files("reports") / "templates" / name).read_text(encoding="utf-8")


def csp(script: str) -> str:
    """The page's Content-Security-Policy: nothing but its own inline script and inline style."""
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return (
        f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )


def _verdict(results: dict[str, Any]) -> tuple[str, str, list[str]]:
    verdict = obj(results.get("verdict"))
    status = str(verdict.get("status") or "ERROR").upper()
    if status not in STATUS_COLOURS:
        status = "ERROR"
    reason = str(verdict.get("reason") or "results.json has no verdict; the run did not finish.")
    failed = [str(f) for f in verdict.get("failed") or []]
    return status, reason, failed


def _ordered(comparisons: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """(original index, comparison), grouped by suite; suites and rows with failures first."""
    index = {id(c): k for k, c in enumerate(comparisons)}
    by_failing = failing_order(comparisons)
    suites: dict[str, list[dict[str, Any]]] = {}
    for c in by_failing:
        suites.setdefault(str(c.get("suite", "")), []).append(c)
    return [(index[id(c)], c) for group in suites.values() for c in group]


def _counts(comparisons: list[dict[str, Any]]) -> str:
    counts = Counter(str(c.get("verdict") or "?") for c in comparisons)
    order = ["REGRESSED", "INCONCLUSIVE", "UNDERPOWERED", "IMPROVED", "NON_INFERIOR", "NOT_GATED"]
    keys = [k for k in order if k in counts] + sorted(k for k in counts if k not in order)
    return " · ".join(f"{counts[k]} {k.lower().replace('_', '-')}" for k in keys)


def _models_line(results: dict[str, Any]) -> str:
    models = obj(results.get("models"))
    base = obj(models.get("base"))
    base_name = obj(base.get("spec")).get("base") or base.get("label") or "base"
    names = []
    for c in models.get("candidates") or []:
        if isinstance(c, dict):
            spec = obj(c.get("spec"))
            adapter = spec.get("adapter")
            label = clean_label(c.get("label") or "candidate")
            names.append(f"<b>{esc(label)}</b>" + (f" ({esc(adapter)})" if adapter else ""))
    cands = ", ".join(names) or "<b>candidate</b>"
    return f"{cands} vs base <b>{esc(base_name)}</b>"


def _banner(results: dict[str, Any], ordered: list[tuple[int, dict[str, Any]]], multi: bool) -> str:
    status, reason, failed = _verdict(results)
    comparisons = [c for _, c in ordered]
    run = obj(results.get("run"))
    when = esc(run.get("started_at") or "")
    duration = as_float(run.get("duration_s"))
    took = (
        f", {duration / 60:.1f} min"
        if duration is not None and duration >= 60
        else (f", {duration:.1f} s" if duration is not None else "")
    )
    parts = [_models_line(results)] if results.get("models") else []
    parts.append(
        f"{len(comparisons)} comparison(s): {esc(_counts(comparisons))}" if comparisons else "no comparisons"
    )
    if when:
        parts.append(f"run {when}{took}")
    sub = " · ".join(parts)
    out = [
        f'<div class="banner {status}" role="status"><div class="status" id="verdict-status">{status}</div>'
        f'<div><div class="reason">{esc(reason)}</div><div class="sub">{sub}</div></div></div>'
    ]
    failing = [(k, c) for k, c in ordered if is_failing(c)]
    known = {str(c.get("id")) for c in comparisons}
    if failing or failed:
        items = []
        for k, c in failing:
            tag = " <span class='badge soft'>advisory</span>" if c.get("advisory") else ""
            items.append(
                f'<li><a href="#cmp-{k}"><b>{comparison_label(c, with_candidate=multi)}</b></a>{tag}: '
                f"{verdict_badge(c.get('verdict'))} delta <code>{esc(delta_ci(c))}</code>"
                f"<div class='note'>{esc(c.get('message') or '')}</div></li>"
            )
        items += [
            f"<li>{esc_label(f)} <span class='muted'>(not in comparisons)</span></li>"
            for f in failed
            if f not in known
        ]
        out.append(f"<h3>Why</h3><ul class='why'>{''.join(items)}</ul>")
    return "".join(out)


def _gate_text(c: dict[str, Any]) -> str:
    gate = obj(c.get("gate"))
    kind = gate.get("type")
    if kind == "improves":
        return f"improves by &gt; {esc(signed(gate.get('min_delta') or 0.0))}"
    if kind == "no_regression":
        return f"no regression beyond {esc(num(gate.get('margin')))}"
    return DASH


def _comparisons_table(
    ordered: list[tuple[int, dict[str, Any]]], results: dict[str, Any], multi: bool
) -> str:
    if not ordered:
        return '<p class="muted">No comparisons in this run.</p>'
    suites = {str(s.get("name")): s for s in results.get("suites") or [] if isinstance(s, dict)}
    head = (
        "<th>metric</th>"
        + ("<th>candidate</th>" if multi else "")
        + '<th class="num">base</th><th class="num">candidate</th><th class="num">delta [CI]</th>'
        '<th class="num">p</th><th class="num">p adj.</th><th>verdict</th><th>gate</th>'
        '<th class="num">MDE</th><th class="num">n</th><th>test</th>'
    )
    ncols = 12 if multi else 11
    rows, current = [], None
    for k, c in ordered:
        suite = str(c.get("suite", ""))
        if suite != current:
            current = suite
            info = suites.get(suite, {})
            extra = f" <span class='muted'>· {scalar(info.get('n_items'))} items</span>" if info else ""
            rows.append(f'<tr class="group"><td colspan="{ncols}">{esc_label(suite)}{extra}</td></tr>')
        cls = (
            "failing advisory"
            if is_failing(c) and c.get("advisory")
            else ("failing" if is_failing(c) else "")
        )
        adv = " <span class='badge soft'>advisory</span>" if c.get("advisory") else ""
        n_needed = c.get("n_needed")
        mde_title = f' title="about {esc(scalar(n_needed))} items needed"' if n_needed else ""
        n_failed = c.get("n_failed") or 0
        n_text = scalar(c.get("n")) + (
            f" <span class='muted' title='items not scored'>(−{scalar(n_failed)})</span>" if n_failed else ""
        )
        rows.append(
            f'<tr id="cmp-{k}" class="{cls}" title="{esc(c.get("message") or "")}">'
            f"<td><code>{esc_label(c.get('metric', DASH))}</code>{adv}</td>"
            + (f"<td>{esc_label(c.get('candidate', DASH))}</td>" if multi else "")
            + f'<td class="num">{num(c.get("base_mean"))}</td><td class="num">{num(c.get("candidate_mean"))}</td>'
            f'<td class="num"><b>{esc(signed(c.get("delta")))}</b> {esc(interval(c.get("ci_low"), c.get("ci_high")))}</td>'
            f'<td class="num">{pval(c.get("p_value"))}</td><td class="num">{pval(c.get("p_adjusted"))}</td>'
            f"<td>{verdict_badge(c.get('verdict'))}</td><td>{_gate_text(c)}</td>"
            f'<td class="num"{mde_title}>{num(c.get("mde"))}</td><td class="num">{n_text}</td>'
            f"<td>{esc(c.get('test') or DASH)}</td></tr>"
        )
    return (
        '<div class="table-wrap"><table class="data comparisons">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        '<p class="note">p adj.: Holm-adjusted across the run\'s improvement claims. MDE: the smallest '
        "change this many items can detect (alpha one-sided, power 0.8). Hover a row for its full message.</p>"
    )


def _slice_order(slices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def key(s: dict[str, Any]) -> tuple[int, float]:
        d = as_float(s.get("delta"))
        if s.get("verdict") == "REGRESSED":
            return (0, d if d is not None else 0.0)
        return (1, 0.0)

    return sorted(slices, key=key)  # stable: the writer's order is kept within each group


def _slices(ordered: list[tuple[int, dict[str, Any]]], multi: bool) -> str:
    blocks = []
    for _, c in ordered:
        slices = [s for s in c.get("slices") or [] if isinstance(s, dict)]
        if not slices:
            continue
        slices = _slice_order(slices)
        driving = slices[0]
        summary = f"{comparison_label(c, with_candidate=multi)} — {len(slices)} slices"
        if driving.get("verdict") == "REGRESSED":
            summary += (
                f"; driving slice <code>{esc_label(driving.get('slice'))}</code> {esc(delta_ci(driving))}"
            )
        rows = []
        for s in slices[:MAX_SLICE_ROWS]:
            ids = [esc_label(i) for i in s.get("failing_ids") or []]
            shown = ", ".join(ids[:MAX_FAILING_IDS]) + (
                f" … {len(ids) - MAX_FAILING_IDS:,} more" if len(ids) > MAX_FAILING_IDS else ""
            )
            cls = ' class="failing"' if s.get("verdict") == "REGRESSED" else ""
            rows.append(
                f"<tr{cls}><td><code>{esc_label(s.get('slice', DASH))}</code></td><td class='num'>{scalar(s.get('n'))}</td>"
                f"<td class='num'>{num(s.get('base_mean'))}</td><td class='num'>{num(s.get('candidate_mean'))}</td>"
                f"<td class='num'>{esc(delta_ci(s))}</td><td class='num'>{pval(s.get('p_value'))}</td>"
                f"<td class='num'>{pval(s.get('p_adjusted'))}</td><td>{verdict_badge(s.get('verdict'))}</td>"
                f"<td class='ids'>{shown or DASH}</td></tr>"
            )
        more = (
            f"<p class='note'>{MAX_SLICE_ROWS} of {len(slices)} slices shown.</p>"
            if len(slices) > MAX_SLICE_ROWS
            else ""
        )
        blocks.append(
            f"<details class='block'{' open' if is_failing(c) else ''}><summary>{summary}</summary>"
            "<div class='table-wrap'><table class='data'><thead><tr><th>slice</th><th class='num'>n</th>"
            "<th class='num'>base</th><th class='num'>candidate</th><th class='num'>delta [CI]</th>"
            "<th class='num'>p</th><th class='num'>p adj.</th><th>verdict</th><th>items that got worse</th>"
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>{more}</details>"
        )
    if not blocks:
        return '<p class="muted">No slices: the suites have no tags.</p>'
    return (
        '<p class="lead">Per-tag breakdowns. The driving slice (the worst regression) comes first; '
        "slice p-values are corrected within each comparison.</p>" + "".join(blocks)
    )


def _flips(results: dict[str, Any], flips: list[dict[str, Any]], multi: bool) -> str:
    comparisons = results.get("comparisons") or []
    blocks = []
    for idx, block in enumerate(flips):
        c = comparisons[block["cmp"]]
        summary = (
            f"{comparison_label(c, with_candidate=multi)} — {len(block['base_only']):,} base-only right, "
            f"{len(block['candidate_only']):,} candidate-only right"
        )
        blocks.append(
            f"<details class='block'{' open' if is_failing(c) else ''}><summary>{summary}</summary>"
            f"<div data-flip='{idx}'><p class='muted'>Loading…</p></div></details>"
        )
    if not blocks:
        return '<p class="muted">No item flipped between base and candidate on a binary metric.</p>'
    return (
        '<p class="lead">Items one model got right and the other got wrong, with the reference and a '
        "word-level diff of the two outputs (<del>only in base</del> / <ins>only in candidate</ins>).</p>"
        + "".join(blocks)
    )


def render_html(results: dict[str, Any], *, page_size: int = PAGE_SIZE) -> str:
    """The complete report page for ``results`` (a parsed results.json)."""
    check_results(results)
    comparisons = [c for c in results.get("comparisons") or [] if isinstance(c, dict)]
    multi = candidate_count(results) > 1
    ordered = _ordered(comparisons)
    status, reason, _ = _verdict(results)
    data = page_data(results, page_size=page_size)
    script = template("report.js")
    nav = "".join(f'<a href="#{anchor}">{title}</a>' for anchor, title in NAV)
    tool = obj(results.get("tool"))
    sections = [
        ("verdict", "Verdict", _banner(results, ordered, multi)),
        (
            "forest",
            "Forest plot",
            '<p class="lead">Each row: candidate minus base with its confidence interval; the dashed tick is '
            "the gate's threshold. Rows are in the table's order.</p>"
            + forest_plot([c for _, c in ordered], with_candidate=multi),
        ),
        ("comparisons", "Comparisons by suite", _comparisons_table(ordered, results, multi)),
        ("slices", "Slices", _slices(ordered, multi)),
        ("flips", "Flips", _flips(results, data["flips"], multi)),
        ("leakage", "Leakage", leakage_section(results.get("leakage"))),
        (
            "forgetting",
            "Forgetting",
            forgetting_section(results.get("forgetting"), comparisons, with_candidate=multi),
        ),
        ("judges", "Judge health", judges_section(results.get("judges"))),
        (
            "items",
            "Items",
            '<div id="tg-items"><noscript><p class="muted">The item browser needs JavaScript; every item is '
            "in results.json.</p></noscript></div>",
        ),
        ("provenance", "Provenance", provenance_section(results)),
    ]
    body = "".join(
        f'<section id="{anchor}"><h2>{title}</h2>{content}</section>'
        if anchor != "verdict"
        else f'<section id="{anchor}">{content}</section>'
        for anchor, title, content in sections
    )
    title = f"tunegate {status}: {clean_label(reason)}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(csp(script))}">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title[:200])}</title>"
        f"<style>{template('report.css')}</style></head><body>"
        f'<nav class="top"><span class="brand">tunegate</span>{nav}</nav>'
        '<main><div id="tg-script-error" class="script-error" hidden></div>'
        f"{body}"
        f"<footer>Generated by {esc(tool.get('name') or 'tunegate')} {esc(tool.get('version') or '')} from results.json "
        f"(schema version {esc(results.get('schema_version'))}). Self-contained: no network access needed.</footer>"
        "</main>"
        f'<script type="application/json" id="tg-data">{script_json(data)}</script>'
        f"<script>{script}</script>"
        "</body></html>\n"
    )

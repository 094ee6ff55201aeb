"""The run record -> one self-contained, offline HTML report (verdict first).

The page has no external resource: CSS is inline, charts are inline SVG, and the only script is
inline and pinned by its sha256 in a strict Content-Security-Policy, so even an escaping bug
could neither run injected script nor load anything remote. Every element is built with
``tunegate.reports.markup.h``, which escapes all data (see that module). Item-level data (thousands of
items) is embedded as escaped JSON and paginated client-side (see tunegate/reports/items.py).
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from importlib import resources
from typing import Any

from tunegate.harness.record import ComparisonRecord, RunRecord, SliceRecord
from tunegate.reports.banner import Ordered, banner, ordered_comparisons, verdict_parts
from tunegate.reports.cost import cost_html
from tunegate.reports.format import (
    DASH,
    as_float,
    bad_gate_tests,
    candidate_count,
    comparison_label,
    coverage_text,
    delta_ci,
    gate_text,
    interval,
    is_advisory,
    is_failing,
    num,
    pval,
    run_tests,
    signed,
    status_text,
)
from tunegate.reports.items import page_data, script_json
from tunegate.reports.leakage import leakage_section
from tunegate.reports.markup import Html, document, frag, h, raw_block
from tunegate.reports.sections import (
    forgetting_section,
    judges_section,
    provenance_section,
    scalar,
    tests_section,
    verdict_badge,
)
from tunegate.reports.svg import forest_plot

PAGE_SIZE = 50
MAX_SLICE_ROWS = 100
MAX_FAILING_IDS = 10

NAV = (
    ("verdict", "Verdict"),
    ("forest", "Forest plot"),
    ("comparisons", "Comparisons"),
    ("tests", "Tests"),
    ("slices", "Slices"),
    ("flips", "Flips"),
    ("leakage", "Leakage"),
    ("forgetting", "Forgetting"),
    ("judges", "Judges"),
    ("cost", "Cost"),
    ("items", "Items"),
    ("provenance", "Provenance"),
)


@cache
def template(name: str) -> str:
    """A file of tunegate/reports/templates (the page's CSS and script), read once per process."""
    return (resources.files("tunegate.reports") / "templates" / name).read_text(encoding="utf-8")


def csp(script: str) -> str:
    """The page's Content-Security-Policy: nothing but its own inline script and inline style."""
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return (
        f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )


def _mde_cell(c: ComparisonRecord) -> Html:
    return h("td", num(c.mde), class_="num", title=f"about {c.n_needed} items needed" if c.n_needed else None)


def _n_cell(c: ComparisonRecord) -> Html:
    cov = c.coverage
    text = coverage_text(c)
    if cov is not None and text:
        shown = f"{scalar(cov.n_scored)}/{scalar(cov.n_items)}"
        return h("td", h("span", shown, class_="cov-bad"), class_="num", title=text)
    n_failed = c.n_failed
    return h(
        "td",
        scalar(c.n),
        frag(" ", h("span", f"(−{n_failed})", class_="muted", title="items not scored")) if n_failed else None,
        class_="num",
    )


def _p_cell(c: ComparisonRecord) -> Html:
    claim = c.p_claim
    return h("td", pval(c.p_value), h("div", claim, class_="claim") if claim else None, class_="num")


def _comparisons_table(ordered: Ordered, record: RunRecord, multi: bool) -> Html:
    if not ordered:
        return h("p", "No comparisons in this run.", class_="muted")
    suites = {s.name: s for s in record.suites}
    reference = record.reference_label
    titles = ["metric", *(["candidate"] if multi else []), *(["vs"] if reference else []), "gate", "verdict"]
    titles += ["delta [CI]", "p (claim)", "p adj.", "base", *(["ref."] if reference else []), "cand.", "MDE", "n", "test"]
    numeric = {"delta [CI]", "p (claim)", "p adj.", "base", "ref.", "cand.", "MDE", "n"}
    head = h("tr", *(h("th", t, class_="num" if t in numeric else None) for t in titles))
    rows: list[Html] = []
    current = None
    for k, c in ordered:
        suite = c.suite
        if suite != current:
            current = suite
            info = suites.get(suite)
            extra = h("span", f" · {scalar(info.n_items)} items", class_="muted") if info else None
            rows.append(h("tr", h("td", suite, extra, colspan=len(titles)), class_="group"))
        cls = "failing advisory" if is_failing(c) and is_advisory(c) else ("failing" if is_failing(c) else None)
        cells = [
            h("td", h("code", c.metric), frag(" ", h("span", "advisory", class_="badge soft")) if is_advisory(c) else None),
            *([h("td", c.candidate)] if multi else []),
            *([h("td", h("b", c.pair), class_="pair")] if reference else []),
            h("td", gate_text(c), class_="gate"),
            h("td", verdict_badge(c.verdict)),
            h("td", h("b", signed(c.delta)), " ", interval(c.ci_low, c.ci_high), class_="num"),
            _p_cell(c),
            h("td", pval(c.p_adjusted), class_="num"),
            *_mean_cells(c, bool(reference)),
            _mde_cell(c),
            _n_cell(c),
            h("td", c.test or DASH),
        ]
        rows.append(h("tr", cells, id=f"cmp-{k}", class_=cls, title=c.message or None))
    return frag(
        h("div", h("table", h("thead", head), h("tbody", rows), class_="data comparisons"), class_="table-wrap"),
        h(
            "p",
            *(
                [
                    f"vs: the pair the gate is about, the candidate against the reference in production ({reference}) "
                    "or against the base; delta is the candidate minus that model, whose mean is in bold. The other "
                    "mean is shown on the same items, not tested. "
                ]
                if reference
                else []
            ),
            "p (claim): the p-value of the claim that decided the verdict, and that claim. p adj.: Holm-adjusted "
            "across the run's improvement claims. MDE: the smallest change this many items can detect (alpha "
            "one-sided, power 0.8). n: items scored; a red n/N means items went unscored (hover for why). Hover "
            "a row for its full message.",
            class_="note",
        ),
    )


def _mean_cells(c: ComparisonRecord, reference: bool) -> list[Html]:
    """The means of a comparison: base and candidate, or base / reference / candidate in a run with a
    reference (the three-column view), the model the candidate is paired with in bold."""
    if not reference:
        return [h("td", num(c.base_mean), class_="num"), h("td", num(c.candidate_mean), class_="num")]

    def cell(side: str, value: float | None) -> Html:
        paired = c.against == side
        return h(
            "td", h("b", num(value)) if paired else num(value), class_="num paired" if paired else "num",
            title=f"the pair: candidate vs {c.pair}" if paired else "shown on the same items, not tested",
        )  # fmt: skip

    return [cell("base", c.base_mean), cell("reference", c.reference_mean), h("td", num(c.candidate_mean), class_="num")]


def _coverage_block(ordered: Ordered, multi: bool) -> Html:
    """Every comparison with unscored items: how many on each side and why."""
    rows = []
    for k, c in ordered:
        cov = c.coverage
        if cov is None or not coverage_text(c):
            continue
        reasons = [r for r in cov.reasons if r]
        rows.append(
            h(
                "tr",
                h("td", h("a", comparison_label(c, with_candidate=multi, with_gate=True), href=f"#cmp-{k}"), class_="col-name"),
                h("td", verdict_badge(c.verdict)),
                h("td", f"{scalar(cov.n_scored)} / {scalar(cov.n_items)}", class_="num"),
                h("td", scalar(cov.unscored_base), class_="num", title=f"unscored items of the {c.pair}"),
                h("td", scalar(cov.unscored_candidate), class_="num"),
                h("td", scalar(cov.infra), class_="num"),
                h("td", scalar(cov.floor), class_="num"),
                h("td", h("div", "\n".join(reasons[:10]), class_="cell-text") if reasons else DASH, class_="col-text"),
                class_="failing" if c.verdict == "INCOMPLETE" else None,
            )
        )
    if not rows:
        return frag("")
    titles = ("comparison", "verdict", "scored / items", "unscored base (or reference)", "unscored candidate", "infrastructure", "floor", "why")
    return frag(
        h("h3", "Coverage: items that could not be scored", id="coverage"),
        h(
            "p",
            "An unscored candidate item counts against the candidate; an item lost to infrastructure (a judge API "
            "that failed) lowers coverage, and a gate below its coverage floor is INCOMPLETE, which fails.",
            class_="lead",
        ),
        h(
            "div",
            h("table", h("thead", h("tr", *(h("th", t) for t in titles))), h("tbody", rows), class_="data"),
            class_="table-wrap",
        ),
    )


def _slice_order(slices: list[SliceRecord]) -> list[SliceRecord]:
    def key(s: SliceRecord) -> tuple[int, float]:
        d = as_float(s.delta)
        if s.verdict == "REGRESSED":
            return (0, d if d is not None else 0.0)
        return (1, 0.0)

    return sorted(slices, key=key)  # stable: the writer's order is kept within each group


def _slice_row(s: SliceRecord) -> Html:
    ids = s.failing_ids
    more = f" … {len(ids) - MAX_FAILING_IDS:,} more" if len(ids) > MAX_FAILING_IDS else ""
    shown = ", ".join(ids[:MAX_FAILING_IDS]) + more
    return h(
        "tr",
        h("td", h("code", s.slice)),
        h("td", scalar(s.n), class_="num"),
        h("td", num(s.base_mean), class_="num"),
        h("td", num(s.candidate_mean), class_="num"),
        h("td", delta_ci(s), class_="num"),
        h("td", pval(s.p_value), class_="num"),
        h("td", pval(s.p_adjusted), class_="num"),
        h("td", verdict_badge(s.verdict)),
        h("td", shown or DASH, class_="ids"),
        class_="failing" if s.verdict == "REGRESSED" else None,
    )


def _slices(ordered: Ordered, multi: bool) -> Html:
    blocks = []
    titles = ("slice", "n", "base", "candidate", "delta [CI]", "p", "p adj.", "verdict", "items that got worse")
    for _, c in ordered:
        if not c.slices:
            continue
        slices = _slice_order(c.slices)
        driving = slices[0]
        summary: list[object] = [f"{comparison_label(c, with_candidate=multi, with_gate=True)} — {len(slices)} slices"]
        if driving.verdict == "REGRESSED":
            summary += ["; driving slice ", h("code", driving.slice), f" {delta_ci(driving)}"]
        more = (
            h("p", f"{MAX_SLICE_ROWS} of {len(slices)} slices shown.", class_="note")
            if len(slices) > MAX_SLICE_ROWS
            else None
        )
        head = h("tr", *(h("th", t, class_="num" if t in ("n", "base", "candidate", "delta [CI]", "p", "p adj.") else None) for t in titles))
        blocks.append(
            h(
                "details",
                h("summary", summary),
                h(
                    "div",
                    h("table", h("thead", head), h("tbody", [_slice_row(s) for s in slices[:MAX_SLICE_ROWS]]), class_="data"),
                    class_="table-wrap",
                ),
                more,
                class_="block",
                open=is_failing(c),
            )
        )
    if not blocks:
        return h("p", "No slices: the suites have no tags.", class_="muted")
    return frag(
        h(
            "p",
            "Per-tag breakdowns. The driving slice (the worst regression) comes first; slice p-values are "
            "corrected within each comparison.",
            class_="lead",
        ),
        blocks,
    )


def _flips(record: RunRecord, flips: list[dict[str, Any]], multi: bool) -> Html:
    comparisons = record.comparisons
    blocks = []
    for idx, block in enumerate(flips):
        c = comparisons[block["cmp"]]
        summary = (
            f"{comparison_label(c, with_candidate=multi, with_gate=True)} — {len(block['base_only']):,} {c.pair}-only "
            f"right, {len(block['candidate_only']):,} candidate-only right"
        )
        blocks.append(
            h(
                "details",
                h("summary", summary),
                h("div", h("p", "Loading…", class_="muted"), data_flip=idx),
                class_="block",
                open=is_failing(c),
            )
        )
    if not blocks:
        return h("p", "No item flipped between a candidate and the model it is paired with on a binary metric.", class_="muted")
    return frag(
        h(
            "p",
            "Items one model of a pair got right and the other got wrong (the base, or the reference in production "
            "in a comparison against it, and the candidate), with the expected answer and a word-level diff of "
            "the two outputs (",
            h("del", "only in base or reference"),
            " / ",
            h("ins", "only in candidate"),
            ").",
            class_="lead",
        ),
        blocks,
    )


FOREST_LEAD = (
    "Each row: candidate minus the model it is paired with (the base, or the reference in production) with its "
    "confidence interval; the dashed tick is the gate's threshold. "
    "Metrics have different scales (a 0-100 chrF, a 1-5 judge, 0-1 proportions), so each metric gets its "
    "own panel and axis (faceted by metric, not standardised): compare rows within a panel, not across."
)


def render_html(record: RunRecord, *, page_size: int = PAGE_SIZE) -> str:
    """The complete report page for ``record`` (a run record, read by ``RunRecord.from_json``)."""
    comparisons = record.comparisons
    multi = candidate_count(record) > 1
    ordered = ordered_comparisons(comparisons)
    status, reason, _ = verdict_parts(record)
    data = page_data(record, page_size=page_size)
    script = template("report.js")
    sections: list[tuple[str, str, Html]] = [
        ("verdict", "Verdict", banner(record, ordered, multi)),
        ("forest", "Forest plot", frag(h("p", FOREST_LEAD, class_="lead"), forest_plot(ordered, with_candidate=multi))),
        (
            "comparisons",
            "Comparisons by suite",
            frag(_comparisons_table(ordered, record, multi), _coverage_block(ordered, multi)),
        ),
        ("tests", "Other tests (leakage, drift, custom)", tests_section([*bad_gate_tests(record), *run_tests(record)])),
        ("slices", "Slices", _slices(ordered, multi)),
        ("flips", "Flips", _flips(record, data["flips"], multi)),
        ("leakage", "Leakage", leakage_section(record.leakage)),
        ("forgetting", "Forgetting", forgetting_section(record.forgetting, comparisons, with_candidate=multi)),
        ("judges", "Judge health", judges_section(record.judges)),
        ("cost", "Cost", cost_html(record)),
        (
            "items",
            "Items",
            h(
                "div",
                h("noscript", h("p", "The item browser needs JavaScript; every item is in results.json.", class_="muted")),
                id="tg-items",
            ),
        ),
        ("provenance", "Provenance", provenance_section(record)),
    ]
    body = [
        h("section", content, id=anchor) if anchor == "verdict" else h("section", h("h2", title), content, id=anchor)
        for anchor, title, content in sections
    ]
    title = f"tunegate {status_text(status)}: {reason}"
    footer = (
        f"Generated by {record.tool.name} {record.tool.version} from results.json (schema "
        f"version {record.schema_version}). Self-contained: no network access needed."
    )
    head = frag(
        h("meta", charset="utf-8"),
        h("meta", http_equiv="Content-Security-Policy", content=csp(script)),
        h("meta", name="referrer", content="no-referrer"),
        h("meta", name="viewport", content="width=device-width, initial-scale=1"),
        h("title", title[:200]),
        raw_block("style", template("report.css")),
    )
    page = h(
        "html",
        h("head", head),
        h(
            "body",
            h("nav", h("span", "tunegate", class_="brand"), *(h("a", t, href=f"#{a}") for a, t in NAV), class_="top"),
            h("main", h("div", id="tg-script-error", class_="script-error", hidden=True), body, h("footer", footer)),
            raw_block("script", script_json(data), type="application/json", id="tg-data"),
            raw_block("script", script),
        ),
        lang="en",
    )
    return document(page)

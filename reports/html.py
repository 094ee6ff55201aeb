"""results.json -> one self-contained, offline HTML report (verdict first).

The page has no external resource: CSS is inline, charts are inline SVG, and the only script is
inline and pinned by its sha256 in a strict Content-Security-Policy, so even an escaping bug
could neither run injected script nor load anything remote. Every element is built with
``reports.markup.h``, which escapes all data (see that module). Item-level data (thousands of
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
    candidate_verdicts,
    comparison_label,
    coverage,
    coverage_text,
    delta_ci,
    failing_order,
    gate_text,
    interval,
    is_advisory,
    is_bad_test,
    is_failing,
    no_effect_candidates,
    no_effect_text,
    num,
    obj,
    pval,
    run_tests,
    short_hash,
    signed,
    status_text,
)
from reports.items import page_data, script_json
from reports.markup import Html, document, frag, h, join, raw_block
from reports.sections import (
    forgetting_section,
    judges_section,
    leakage_section,
    provenance_section,
    scalar,
    status_badge,
    tests_section,
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
    ("tests", "Tests"),
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


def run_status(results: dict[str, Any]) -> str:
    """The run's status as written; anything unknown (or missing) is ERROR, never a pass."""
    status = str(obj(results.get("verdict")).get("status") or "ERROR").upper()
    return status if status in STATUS_COLOURS else "ERROR"


def _verdict(results: dict[str, Any]) -> tuple[str, str, list[str]]:
    verdict = obj(results.get("verdict"))
    reason = str(verdict.get("reason") or "results.json has no verdict; the run did not finish.")
    failed = [str(f) for f in verdict.get("failed") or []]
    return run_status(results), reason, failed


def _ordered(comparisons: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """(original index, comparison), grouped by suite; suites and rows with failures first."""
    index = {id(c): k for k, c in enumerate(comparisons)}
    suites: dict[str, list[dict[str, Any]]] = {}
    for c in failing_order(comparisons):
        suites.setdefault(str(c.get("suite", "")), []).append(c)
    return [(index[id(c)], c) for group in suites.values() for c in group]


def _counts(comparisons: list[dict[str, Any]]) -> str:
    counts = Counter(str(c.get("verdict") or "?") for c in comparisons)
    order = ["REGRESSED", "INCOMPLETE", "INCONCLUSIVE", "UNDERPOWERED", "IMPROVED", "NON_INFERIOR", "NOT_GATED"]
    keys = [k for k in order if k in counts] + sorted(k for k in counts if k not in order)
    return " · ".join(f"{counts[k]} {k.lower().replace('_', '-')}" for k in keys)


def _models_line(results: dict[str, Any]) -> Html:
    models = obj(results.get("models"))
    base = obj(models.get("base"))
    base_name = obj(base.get("spec")).get("base") or base.get("label") or "base"
    names = []
    for c in models.get("candidates") or []:
        if isinstance(c, dict):
            adapter = obj(c.get("spec")).get("adapter")
            names.append(frag(h("b", c.get("label") or "candidate"), f" ({adapter})" if adapter else None))
    cands = join(", ", names) if names else h("b", "candidate")
    return frag(cands, " vs base ", h("b", base_name))


def _took(run: dict[str, Any]) -> str:
    duration = as_float(run.get("duration_s"))
    if duration is None:
        return ""
    return f", {duration / 60:.1f} min" if duration >= 60 else f", {duration:.1f} s"


def _why_item(k: int, c: dict[str, Any], multi: bool) -> Html:
    cov = coverage_text(c) if c.get("verdict") == "INCOMPLETE" or coverage(c) else ""
    return h(
        "li",
        h("a", h("b", comparison_label(c, with_candidate=multi, with_gate=True)), href=f"#cmp-{k}"),
        frag(" ", h("span", "advisory", class_="badge soft")) if is_advisory(c) else None,
        ": ",
        verdict_badge(c.get("verdict")),
        " delta ",
        h("code", delta_ci(c)),
        h("div", "Coverage: ", cov, class_="note cov") if cov else None,
        h("div", c.get("message") or "", class_="note"),
    )


def _candidate_table(results: dict[str, Any], comparisons: list[tuple[int, dict[str, Any]]]) -> Html:
    """One row per candidate: its own verdict, so one FAIL never covers a candidate that passed."""
    verdicts = candidate_verdicts(results)
    cands = [c for c in obj(results.get("models")).get("candidates") or [] if isinstance(c, dict)]
    if not verdicts and len(cands) < 2:
        return frag("")
    rows = []
    for cand in cands or [{"label": label} for label in verdicts]:
        label = str(cand.get("label") or "candidate")
        v = verdicts.get(label, {})
        mine = [(k, c) for k, c in comparisons if str(c.get("candidate")) == label]
        failing = [(k, c) for k, c in mine if is_failing(c)]
        status = str(v.get("status") or "").upper()
        links = join(", ", (h("a", comparison_label(c, with_candidate=False), href=f"#cmp-{k}") for k, c in failing))
        rows.append(
            h(
                "tr",
                h("td", h("b", label), h("div", obj(cand.get("spec")).get("adapter") or "", class_="note")),
                h("td", status_badge(status) if status else h("span", "not recorded", class_="muted")),
                h("td", v.get("reason") or DASH),
                h("td", f"{len(mine) - len(failing)} of {len(mine)} passed", class_="num"),
                h("td", links if failing else DASH),
                h("td", h("code", short_hash(cand.get("fingerprint"), 12))),
                id=f"cand-{label}",
            )
        )
    head = h(
        "tr",
        *(h("th", t) for t in ("candidate", "verdict", "reason", "comparisons", "failing", "fingerprint")),
    )
    return frag(
        h("h3", "Verdict per candidate"),
        h("div", h("table", h("thead", head), h("tbody", rows), class_="data candidates"), class_="table-wrap"),
    )


def _banner(results: dict[str, Any], ordered: list[tuple[int, dict[str, Any]]], multi: bool) -> Html:
    status, reason, failed = _verdict(results)
    comparisons = [c for _, c in ordered]
    run = obj(results.get("run"))
    parts: list[object] = [_models_line(results)] if results.get("models") else []
    parts.append(
        f"{len(comparisons)} comparison(s): {_counts(comparisons)}" if comparisons else "no comparisons"
    )
    tests = run_tests(results)
    bad_tests = [t for t in tests if is_bad_test(t)]
    if tests:
        parts.append(f"{len(tests)} other test(s), {len(bad_tests)} failed or errored")
    if run.get("started_at"):
        parts.append(f"run {run.get('started_at')}{_took(run)}")
    notices = [
        h("div", h("b", "⚠ "), no_effect_text(c), class_="notice no-effect", role="alert")
        for c in no_effect_candidates(results)
    ]
    out: list[object] = [
        *notices,
        h(
            "div",
            h("div", status_text(status), class_="status", id="verdict-status"),
            h("div", h("div", reason, class_="reason"), h("div", join(" · ", parts), class_="sub")),
            class_=f"banner {status}",
            role="status",
        ),
    ]
    if status == "NO_BINDING_GATES":
        out.append(
            h(
                "p",
                "Not a pass: every gate in this run is advisory (for example an uncalibrated judge), so nothing "
                "binding was shown. Add a binding gate, or calibrate the judge.",
                class_="warn",
            )
        )
    notes = [
        str(n)
        for n in obj(results.get("verdict")).get("notes") or []
        if isinstance(n, str) and not n.startswith("ADAPTER HAS NO EFFECT")
    ]
    if notes:
        out.append(h("ul", [h("li", n) for n in notes], class_="notes"))
    out.append(_candidate_table(results, ordered))
    failing = [(k, c) for k, c in ordered if is_failing(c)]
    known = {str(c.get("id")) for c in comparisons} | {str(t.get("nodeid")) for t in tests}
    items = [_why_item(k, c, multi) for k, c in failing]
    items += [
        h(
            "li",
            h("a", h("b", t.get("nodeid") or "?"), href="#tests"),
            " ",
            status_badge(str(t.get("outcome") or "?").upper()),
            " ",
            t.get("kind") or "",
            h("div", t.get("message") or "(no message)", class_="note"),
        )
        for t in bad_tests
    ]
    items += [
        h("li", f, " ", h("span", "(not in comparisons)", class_="muted"))
        for f in dict.fromkeys(failed)
        if f not in known
    ]
    if items:
        out.append(frag(h("h3", "Why"), h("ul", items, class_="why")))
    return frag(out)


def _mde_cell(c: dict[str, Any]) -> Html:
    n_needed = c.get("n_needed")
    return h("td", num(c.get("mde")), class_="num", title=f"about {n_needed} items needed" if n_needed else None)


def _n_cell(c: dict[str, Any]) -> Html:
    cov = coverage(c)
    text = coverage_text(c)
    if isinstance(cov.get("n_items"), int) and text:
        shown = f"{scalar(cov.get('n_scored'))}/{scalar(cov.get('n_items'))}"
        return h("td", h("span", shown, class_="cov-bad"), class_="num", title=text)
    n_failed = c.get("n_failed") or 0
    return h(
        "td",
        scalar(c.get("n")),
        frag(" ", h("span", f"(−{n_failed})", class_="muted", title="items not scored")) if n_failed else None,
        class_="num",
    )


def _p_cell(c: dict[str, Any]) -> Html:
    claim = c.get("p_claim")
    return h("td", pval(c.get("p_value")), h("div", claim, class_="claim") if claim else None, class_="num")


def _comparisons_table(ordered: list[tuple[int, dict[str, Any]]], results: dict[str, Any], multi: bool) -> Html:
    if not ordered:
        return h("p", "No comparisons in this run.", class_="muted")
    suites = {str(s.get("name")): s for s in results.get("suites") or [] if isinstance(s, dict)}
    titles = ["metric", *(["candidate"] if multi else []), "gate", "verdict", "delta [CI]", "p (claim)"]
    titles += ["p adj.", "base", "cand.", "MDE", "n", "test"]
    numeric = {"delta [CI]", "p (claim)", "p adj.", "base", "cand.", "MDE", "n"}
    head = h("tr", *(h("th", t, class_="num" if t in numeric else None) for t in titles))
    rows: list[Html] = []
    current = None
    for k, c in ordered:
        suite = str(c.get("suite", ""))
        if suite != current:
            current = suite
            info = suites.get(suite)
            extra = h("span", f" · {scalar(info.get('n_items'))} items", class_="muted") if info else None
            rows.append(h("tr", h("td", suite, extra, colspan=len(titles)), class_="group"))
        cls = "failing advisory" if is_failing(c) and is_advisory(c) else ("failing" if is_failing(c) else None)
        cells = [
            h("td", h("code", c.get("metric", DASH)), frag(" ", h("span", "advisory", class_="badge soft")) if is_advisory(c) else None),
            *([h("td", c.get("candidate", DASH))] if multi else []),
            h("td", gate_text(c), class_="gate"),
            h("td", verdict_badge(c.get("verdict"))),
            h("td", h("b", signed(c.get("delta"))), " ", interval(c.get("ci_low"), c.get("ci_high")), class_="num"),
            _p_cell(c),
            h("td", pval(c.get("p_adjusted")), class_="num"),
            h("td", num(c.get("base_mean")), class_="num"),
            h("td", num(c.get("candidate_mean")), class_="num"),
            _mde_cell(c),
            _n_cell(c),
            h("td", c.get("test") or DASH),
        ]
        rows.append(h("tr", cells, id=f"cmp-{k}", class_=cls, title=c.get("message") or None))
    return frag(
        h("div", h("table", h("thead", head), h("tbody", rows), class_="data comparisons"), class_="table-wrap"),
        h(
            "p",
            "p (claim): the p-value of the claim that decided the verdict, and that claim. p adj.: Holm-adjusted "
            "across the run's improvement claims. MDE: the smallest change this many items can detect (alpha "
            "one-sided, power 0.8). n: items scored; a red n/N means items went unscored (hover for why). Hover "
            "a row for its full message.",
            class_="note",
        ),
    )


def _coverage_block(ordered: list[tuple[int, dict[str, Any]]], multi: bool) -> Html:
    """Every comparison with unscored items: how many on each side and why."""
    rows = []
    for k, c in ordered:
        cov = coverage(c)
        if not cov or not coverage_text(c):
            continue
        reasons = [r for r in cov.get("reasons") or [] if r]
        rows.append(
            h(
                "tr",
                h("td", h("a", comparison_label(c, with_candidate=multi, with_gate=True), href=f"#cmp-{k}"), class_="col-name"),
                h("td", verdict_badge(c.get("verdict"))),
                h("td", f"{scalar(cov.get('n_scored'))} / {scalar(cov.get('n_items'))}", class_="num"),
                h("td", scalar(cov.get("unscored_base")), class_="num"),
                h("td", scalar(cov.get("unscored_candidate")), class_="num"),
                h("td", scalar(cov.get("infra")), class_="num"),
                h("td", scalar(cov.get("floor")), class_="num"),
                h("td", h("div", "\n".join(str(r) for r in reasons[:10]), class_="cell-text") if reasons else DASH, class_="col-text"),
                class_="failing" if c.get("verdict") == "INCOMPLETE" else None,
            )
        )
    if not rows:
        return frag("")
    titles = ("comparison", "verdict", "scored / items", "unscored base", "unscored candidate", "infrastructure", "floor", "why")
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


def _slice_order(slices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def key(s: dict[str, Any]) -> tuple[int, float]:
        d = as_float(s.get("delta"))
        if s.get("verdict") == "REGRESSED":
            return (0, d if d is not None else 0.0)
        return (1, 0.0)

    return sorted(slices, key=key)  # stable: the writer's order is kept within each group


def _slice_row(s: dict[str, Any]) -> Html:
    ids = [str(i) for i in s.get("failing_ids") or []]
    more = f" … {len(ids) - MAX_FAILING_IDS:,} more" if len(ids) > MAX_FAILING_IDS else ""
    shown = ", ".join(ids[:MAX_FAILING_IDS]) + more
    return h(
        "tr",
        h("td", h("code", s.get("slice", DASH))),
        h("td", scalar(s.get("n")), class_="num"),
        h("td", num(s.get("base_mean")), class_="num"),
        h("td", num(s.get("candidate_mean")), class_="num"),
        h("td", delta_ci(s), class_="num"),
        h("td", pval(s.get("p_value")), class_="num"),
        h("td", pval(s.get("p_adjusted")), class_="num"),
        h("td", verdict_badge(s.get("verdict"))),
        h("td", shown or DASH, class_="ids"),
        class_="failing" if s.get("verdict") == "REGRESSED" else None,
    )


def _slices(ordered: list[tuple[int, dict[str, Any]]], multi: bool) -> Html:
    blocks = []
    titles = ("slice", "n", "base", "candidate", "delta [CI]", "p", "p adj.", "verdict", "items that got worse")
    for _, c in ordered:
        slices = [s for s in c.get("slices") or [] if isinstance(s, dict)]
        if not slices:
            continue
        slices = _slice_order(slices)
        driving = slices[0]
        summary: list[object] = [f"{comparison_label(c, with_candidate=multi, with_gate=True)} — {len(slices)} slices"]
        if driving.get("verdict") == "REGRESSED":
            summary += ["; driving slice ", h("code", driving.get("slice")), f" {delta_ci(driving)}"]
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


def _flips(results: dict[str, Any], flips: list[dict[str, Any]], multi: bool) -> Html:
    comparisons = results.get("comparisons") or []
    blocks = []
    for idx, block in enumerate(flips):
        c = comparisons[block["cmp"]]
        summary = (
            f"{comparison_label(c, with_candidate=multi, with_gate=True)} — {len(block['base_only']):,} base-only "
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
        return h("p", "No item flipped between base and candidate on a binary metric.", class_="muted")
    return frag(
        h(
            "p",
            "Items one model got right and the other got wrong, with the reference and a word-level diff of the "
            "two outputs (",
            h("del", "only in base"),
            " / ",
            h("ins", "only in candidate"),
            ").",
            class_="lead",
        ),
        blocks,
    )


FOREST_LEAD = (
    "Each row: candidate minus base with its confidence interval; the dashed tick is the gate's threshold. "
    "Metrics have different scales (a 0-100 chrF, a 1-5 judge, 0-1 proportions), so each metric gets its "
    "own panel and axis (faceted by metric, not standardised): compare rows within a panel, not across."
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
    tool = obj(results.get("tool"))
    sections: list[tuple[str, str, Html]] = [
        ("verdict", "Verdict", _banner(results, ordered, multi)),
        ("forest", "Forest plot", frag(h("p", FOREST_LEAD, class_="lead"), forest_plot(ordered, with_candidate=multi))),
        (
            "comparisons",
            "Comparisons by suite",
            frag(_comparisons_table(ordered, results, multi), _coverage_block(ordered, multi)),
        ),
        ("tests", "Other tests (leakage, drift, custom)", tests_section(run_tests(results))),
        ("slices", "Slices", _slices(ordered, multi)),
        ("flips", "Flips", _flips(results, data["flips"], multi)),
        ("leakage", "Leakage", leakage_section(results.get("leakage"))),
        ("forgetting", "Forgetting", forgetting_section(results.get("forgetting"), comparisons, with_candidate=multi)),
        ("judges", "Judge health", judges_section(results.get("judges"))),
        (
            "items",
            "Items",
            h(
                "div",
                h("noscript", h("p", "The item browser needs JavaScript; every item is in results.json.", class_="muted")),
                id="tg-items",
            ),
        ),
        ("provenance", "Provenance", provenance_section(results)),
    ]
    body = [
        h("section", content, id=anchor) if anchor == "verdict" else h("section", h("h2", title), content, id=anchor)
        for anchor, title, content in sections
    ]
    title = f"tunegate {status_text(status)}: {reason}"
    footer = (
        f"Generated by {tool.get('name') or 'tunegate'} {tool.get('version') or ''} from results.json (schema "
        f"version {results.get('schema_version')}). Self-contained: no network access needed."
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

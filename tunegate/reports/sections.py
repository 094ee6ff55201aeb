"""HTML for the secondary sections: forgetting, judge health, provenance (leakage: ``leakage.py``).

These sections carry free-form dicts (the leakage report, the adapter's training manifest, a
backend's ``describe()``), so they go through one generic, escaping renderer rather than
templates that would silently drop fields they did not expect.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from tunegate.harness.record import (
    ComparisonRecord,
    ForgettingRecord,
    JudgeRecord,
    ModelRecord,
    RunRecord,
    TestRecord,
)
from tunegate.reports.format import (
    DASH,
    STATUS_COLOURS,
    VERDICT_COLOURS,
    as_float,
    comparison_label,
    delta_ci,
    is_bad_test,
    num,
    pct,
    pval,
    short_hash,
    status_text,
)
from tunegate.reports.markup import Html, frag, h, join

MAX_ROWS = 200
"""Rows shown for a list inside a free-form section (the rest are counted, not rendered)."""
MAX_COLUMNS = 12


def scalar(value: object) -> Html:
    """One escaped cell for a JSON scalar."""
    if value is None:
        return frag(DASH)
    if isinstance(value, bool):
        return frag("yes" if value else "no")
    if isinstance(value, int):
        return frag(f"{value:,}" if abs(value) >= 10_000 else str(value))
    if isinstance(value, float):
        x = as_float(value)
        if x is None:
            return frag(DASH)
        return frag(f"{x:.3g}" if 0 < abs(x) < 0.001 else num(x))
    text = str(value)
    if len(text) == 64 and all(ch in "0123456789abcdef" for ch in text):
        return h("code", f"{text[:16]}…", title=text)
    return frag(text)


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def render_value(value: object, depth: int = 0) -> Html:
    """Any JSON value as escaped HTML: key/value tables, row tables for lists of objects."""
    if _is_scalar(value):
        return scalar(value)
    if isinstance(value, dict):
        return _render_dict(value, depth)
    if isinstance(value, list):
        return _render_list(value, depth)
    return frag(str(value))


def _render_dict(value: dict[Any, Any], depth: int) -> Html:
    if not value:
        return h("span", "(empty)", class_="muted")
    flat: list[tuple[Any, Any]] = []
    nested: list[tuple[Any, Any]] = []
    for k, v in value.items():
        simple = _is_scalar(v) or (isinstance(v, list) and all(map(_is_scalar, v)))
        (flat if simple else nested).append((k, v))
    out: list[Html] = []
    if flat:
        out.append(kv_table((str(k), _kv_value(str(k), v, depth)) for k, v in flat))
    for k, v in nested:
        body = h("code", str(v)) if depth >= 3 else render_value(v, depth + 1)
        out.append(frag(h("h4", str(k)), body))
    return frag(out)


def _kv_value(key: str, value: object, depth: int) -> Html:
    """A value in a key/value table; p-values (``p``, ``p_value``, ``p_adjusted``...) via fmt_p."""
    if (key == "p" or key.startswith("p_")) and isinstance(value, int | float) and not isinstance(value, bool):
        return frag(pval(value))
    return render_value(value, depth + 1)


def _render_list(value: list[Any], depth: int) -> Html:
    if not value:
        return h("span", "none", class_="muted")
    if all(_is_scalar(v) for v in value):
        more = h("span", f" … {len(value) - 50:,} more", class_="muted") if len(value) > 50 else None
        return frag(join(", ", (scalar(v) for v in value[:50])), more)
    if all(isinstance(v, dict) for v in value):
        columns: dict[str, None] = {}
        for row in value[:MAX_ROWS]:
            columns.update(dict.fromkeys(str(k) for k in row))
        cols = list(columns)[:MAX_COLUMNS]
        head = h("tr", *(h("th", c) for c in cols))
        body = [h("tr", *(h("td", _cell(row.get(c))) for c in cols)) for row in value[:MAX_ROWS]]
        more = (
            h("p", f"{MAX_ROWS:,} of {len(value):,} rows shown; all are in results.json.", class_="note")
            if len(value) > MAX_ROWS
            else None
        )
        return frag(data_table(head, body), more)
    return h("ul", [h("li", render_value(v, depth + 1)) for v in value[:MAX_ROWS]])


def kv_table(pairs: Iterable[tuple[str, object]]) -> Html:
    """A two-column table of names and values (already rendered, or text to escape)."""
    return h("table", [h("tr", h("th", k), h("td", v)) for k, v in pairs], class_="kv")


def data_table(head: Sequence[str] | Html, rows: Sequence[Html] | Html, class_: str = "data") -> Html:
    """A scrollable table: ``head`` as column titles (or a ready ``<tr>``), then the rows."""
    titles = head if isinstance(head, Html) else h("tr", *(h("th", t) for t in head))
    return h("div", h("table", h("thead", titles), h("tbody", rows), class_=class_), class_="table-wrap")


def _cell(value: object) -> Html:
    if _is_scalar(value):
        return scalar(value)
    return h("span", str(value), class_="ids")


def badge(text: str, colour: str) -> Html:
    return h("span", text, class_="badge", style=f"background:{colour}")


def verdict_badge(verdict: object) -> Html:
    text = str(verdict or DASH)
    return badge(text, VERDICT_COLOURS.get(text, "#6e7781"))


def status_badge(status: str) -> Html:
    """A run or candidate status (PASS, FAIL, NO_BINDING_GATES, ...) or a test outcome."""
    colours = {**STATUS_COLOURS, "FAILED": STATUS_COLOURS["FAIL"], "PASSED": STATUS_COLOURS["PASS"]}
    colour = colours.get(status, "#6e7781" if status != "SKIPPED" else "#8c959f")
    return badge(status_text(status), colour)


def tests_section(tests: list[TestRecord]) -> Html:
    """The run's tests that are not comparisons: failed and errored first, each with its reason."""
    if not tests:
        return h("p", "No other tunegate tests (leakage, drift, custom assertions) in this run.", class_="muted")
    bad = [t for t in tests if is_bad_test(t)]
    rows = [
        h(
            "tr",
            h("td", status_badge(t.outcome.upper())),
            h("td", t.role),
            h("td", h("code", t.nodeid or DASH)),
            h("td", h("div", t.message or DASH, class_="cell-text")),
            class_="failing" if is_bad_test(t) else None,
        )
        for t in tests
    ]
    lead = (
        f"{len(bad)} of {len(tests)} failed or errored; they are part of the verdict."
        if bad
        else f"All {len(tests)} passed or were skipped."
    )
    head = h("tr", *(h("th", t) for t in ("outcome", "kind", "test", "reason")))
    return frag(
        h("p", lead, class_="lead"),
        data_table(head, rows, "data tests"),
    )


def forgetting_section(
    forgetting: ForgettingRecord | None, comparisons: list[ComparisonRecord], *, with_candidate: bool
) -> Html:
    intro = h(
        "p",
        "General capability the adapter was not trained for: paired non-inferiority on general suites, and "
        "drift of the next-token distribution (KL, perplexity) on general text.",
        class_="lead",
    )
    if forgetting is None:
        return frag(intro, h("p", "No forgetting check ran in this run.", class_="muted"))
    out: list[Html] = [intro]
    if forgetting.suites:
        index = {c.id: k for k, c in enumerate(comparisons)}
        rows = []
        for cid in forgetting.suites:
            k = index.get(cid)
            if k is None:
                rows.append(h("tr", h("td", cid, " ", h("span", "(not in comparisons)", class_="muted"), colspan=3)))
                continue
            c = comparisons[k]
            rows.append(
                h(
                    "tr",
                    h("td", h("a", comparison_label(c, with_candidate=with_candidate, with_gate=True), href=f"#cmp-{k}")),
                    h("td", delta_ci(c), class_="num"),
                    h("td", verdict_badge(c.verdict)),
                )
            )
        head = h("tr", h("th", "comparison"), h("th", "delta [CI]", class_="num"), h("th", "verdict"))
        out.append(
            frag(
                h("h3", "General suites"),
                data_table(head, rows),
            )
        )
    titles = {"kl": "KL divergence (base ‖ candidate) per token", "perplexity": "Perplexity shift"}
    fields = {"summary": forgetting.summary} if forgetting.summary else {}
    for key, value in {**fields, **forgetting.extras()}.items():
        out.append(frag(h("h3", titles.get(key, key)), render_value(value)))
    return frag(out)


def _health(reliable: bool | None) -> Html:
    if reliable:
        return badge("reliable", "#1a7f37")
    if reliable is False:
        return badge("advisory only", "#9a6700")
    return badge("not calibrated", "#6e7781")


def judges_section(judges: list[JudgeRecord]) -> Html:
    if not judges:
        return h("p", "No LLM judge was used in this run.", class_="muted")
    rows = [
        h(
            "tr",
            h("td", j.name or DASH),
            h("td", j.provider or DASH),
            h("td", j.model or DASH),
            h("td", j.rubric or DASH, " ", h("code", short_hash(j.rubric_hash, 8), title=j.rubric_hash or "")),
            h("td", num(j.kappa), class_="num"),
            h("td", _health(j.reliable)),
            h("td", pct(j.position_consistency), class_="num"),
            h("td", scalar(j.n_judgments), class_="num"),
            h("td", scalar(j.n_failed), class_="num"),
            h("td", scalar(j.cache_hits), class_="num"),
        )
        for j in judges
    ]
    titles = ("judge", "provider", "model", "rubric", "kappa", "health", "position consistency", "judgments", "failed", "cache hits")
    numeric = {"kappa", "position consistency", "judgments", "failed", "cache hits"}
    head = h("tr", *(h("th", t, class_="num" if t in numeric else None) for t in titles))
    return frag(
        h(
            "p",
            "A judge whose agreement with gold labels (Cohen's kappa) is below 0.6 is reported as unreliable: its "
            "comparisons are advisory and cannot fail the gate alone. Position consistency is the share of pairwise "
            "judgments that agree when the two answers swap places. Each judged item's rationale is under its "
            "score in the Items browser.",
            class_="lead",
        ),
        data_table(head, rows),
    )


def _model_row(role: str, model: ModelRecord) -> Html:
    spec, fp = model.spec, model.fingerprint
    return h(
        "tr",
        h("td", role),
        h("td", model.label),
        h("td", spec.base or DASH),
        h("td", spec.adapter or DASH),
        h("td", spec.backend or DASH),
        h("td", spec.dtype or DASH),
        h("td", h("code", short_hash(fp, 16), title=fp or "")),
    )


def provenance_section(record: RunRecord) -> Html:
    base, cands = record.models.base, record.models.candidates
    reference = record.models.reference
    rows = [_model_row("base", base), *(_model_row("candidate", c) for c in cands)]
    if reference is not None:
        rows.append(_model_row("reference (production)", reference))
    head = h("tr", *(h("th", t) for t in ("role", "label", "base", "adapter", "backend", "dtype", "fingerprint")))
    out: list[Html] = [
        h("h3", "Models"),
        data_table(head, rows),
    ]
    for c in cands:
        body = (
            render_value(c.provenance)
            if c.provenance is not None
            else h("p", "No training manifest (tunegate.json) next to this adapter.", class_="muted")
        )
        out.append(h("details", h("summary", f"Training manifest: {c.label}"), body, class_="block", open=True))
    for m in [base, *cands]:
        if m.describe:
            out.append(h("details", h("summary", f"Model details: {m.label}"), render_value(m.describe), class_="block"))
    run_kv = record.run.model_dump(mode="json", exclude={"libraries"})
    run_kv["tool"] = f"{record.tool.name} {record.tool.version}".strip()
    run_kv["schema_version"] = record.schema_version
    cache_view = record.cache.model_dump(mode="json")
    cache_view["hit_rate"] = pct(record.cache.hit_rate)
    out.append(
        h(
            "div",
            h("div", h("h3", "Run"), render_value(run_kv)),
            h("div", h("h3", "Response cache"), render_value(cache_view)),
            h("div", h("h3", "Library versions"), render_value(record.run.libraries)),
            class_="grid",
        )
    )
    if record.suites:
        srows = [
            h(
                "tr",
                h("td", s.name),
                h("td", h("code", s.path or DASH)),
                h("td", scalar(s.n_items), class_="num"),
                h("td", scalar(s.sampled), class_="num"),
                h("td", h("code", short_hash(s.version, 16), title=s.version or "")),
            )
            for s in record.suites
        ]
        titles = ("suite", "file", "items", "sampled", "version (sha256)")
        shead = h("tr", *(h("th", t, class_="num" if t in ("items", "sampled") else None) for t in titles))
        out.append(
            frag(
                h("h3", "Suites"),
                data_table(shead, srows),
            )
        )
    return frag(out)

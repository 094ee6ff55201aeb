"""The top of the report: the verdict banner (per candidate, no-effect adapters first) and the
run line under it. Built with ``tunegate.reports.markup.h`` like the rest of the page."""

from __future__ import annotations

from collections import Counter

from tunegate.harness.record import ComparisonRecord, ModelRecord, RunInfo, RunRecord
from tunegate.reports.format import (
    DASH,
    STATUS_COLOURS,
    as_float,
    bad_gate_tests,
    comparison_label,
    coverage_text,
    delta_ci,
    failing_order,
    is_advisory,
    is_bad_test,
    is_failing,
    no_effect_candidates,
    no_effect_text,
    run_tests,
    short_hash,
    status_text,
)
from tunegate.reports.markup import Html, frag, h, join
from tunegate.reports.sections import (
    status_badge,
    verdict_badge,
)


def verdict_parts(record: RunRecord) -> tuple[str, str, list[str]]:
    verdict = record.verdict
    return verdict.status, verdict.reason or "results.json has no verdict; the run did not finish.", verdict.failed


Ordered = list[tuple[int, ComparisonRecord]]


def ordered_comparisons(comparisons: list[ComparisonRecord]) -> Ordered:
    """(original index, comparison), grouped by suite; suites and rows with failures first."""
    index = {id(c): k for k, c in enumerate(comparisons)}
    suites: dict[str, list[ComparisonRecord]] = {}
    for c in failing_order(comparisons):
        suites.setdefault(c.suite, []).append(c)
    return [(index[id(c)], c) for group in suites.values() for c in group]


def _counts(comparisons: list[ComparisonRecord]) -> str:
    counts: Counter[str] = Counter(c.verdict for c in comparisons)
    order = ["REGRESSED", "INCOMPLETE", "INCONCLUSIVE", "UNDERPOWERED", "IMPROVED", "NON_INFERIOR", "NOT_GATED"]
    keys = [k for k in order if k in counts] + sorted(k for k in counts if k not in order)
    return " · ".join(f"{counts[k]} {k.lower().replace('_', '-')}" for k in keys)


def models_line(record: RunRecord) -> Html:
    base = record.models.base
    names = [
        frag(h("b", c.label), f" ({c.spec.adapter})" if c.spec.adapter else None) for c in record.models.candidates
    ]
    cands = join(", ", names) if names else h("b", "candidate")
    ref = record.run.reference
    production = frag(" vs reference ", h("b", ref.label), f" ({ref.path})" if ref.path else None, " and") if ref else None
    return frag(cands, production, " vs base ", h("b", base.spec.base or base.label))


def took(run: RunInfo) -> str:
    duration = as_float(run.duration_s)
    if duration is None:
        return ""
    return f", {duration / 60:.1f} min" if duration >= 60 else f", {duration:.1f} s"


def _why_item(k: int, c: ComparisonRecord, multi: bool) -> Html:
    cov = coverage_text(c) if c.verdict == "INCOMPLETE" or c.coverage is not None else ""
    return h(
        "li",
        h("a", h("b", comparison_label(c, with_candidate=multi, with_gate=True)), href=f"#cmp-{k}"),
        frag(" ", h("span", "advisory", class_="badge soft")) if is_advisory(c) else None,
        ": ",
        verdict_badge(c.verdict),
        " delta ",
        h("code", delta_ci(c)),
        h("div", "Coverage: ", cov, class_="note cov") if cov else None,
        h("div", c.message, class_="note"),
    )


def _candidate_table(record: RunRecord, comparisons: Ordered) -> Html:
    """One row per candidate: its own verdict, so one FAIL never covers a candidate that passed."""
    verdicts = record.verdict.candidates
    cands = record.models.candidates or [ModelRecord(label=label) for label in verdicts]
    if not verdicts and len(cands) < 2:
        return frag("")
    rows = []
    for cand in cands:
        label = cand.label
        v = verdicts.get(label)
        mine = [(k, c) for k, c in comparisons if c.candidate == label]
        failing = [(k, c) for k, c in mine if is_failing(c)]
        links = join(", ", (h("a", comparison_label(c, with_candidate=False), href=f"#cmp-{k}") for k, c in failing))
        rows.append(
            h(
                "tr",
                h("td", h("b", label), h("div", cand.spec.adapter or "", class_="note")),
                h("td", status_badge(v.status) if v is not None else h("span", "not recorded", class_="muted")),
                h("td", (v.reason if v is not None else "") or DASH),
                h("td", f"{len(mine) - len(failing)} of {len(mine)} passed", class_="num"),
                h("td", links if failing else DASH),
                h("td", h("code", short_hash(cand.fingerprint, 12))),
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


def banner(record: RunRecord, ordered: Ordered, multi: bool) -> Html:
    status, reason, failed = verdict_parts(record)
    comparisons = [c for _, c in ordered]
    run = record.run
    parts: list[object] = [models_line(record)]
    parts.append(
        f"{len(comparisons)} comparison(s): {_counts(comparisons)}" if comparisons else "no comparisons"
    )
    tests = run_tests(record)
    bad_tests = [t for t in tests if is_bad_test(t)] + bad_gate_tests(record)
    if tests:
        parts.append(f"{len(tests)} other test(s), {len([t for t in tests if is_bad_test(t)])} failed or errored")
    if run.started_at:
        parts.append(f"run {run.started_at}{took(run)}")
    notices = [
        h("div", h("b", "⚠ "), no_effect_text(c), class_="notice no-effect", role="alert")
        for c in no_effect_candidates(record)
    ]
    out: list[object] = [
        *notices,
        h(
            "div",
            h("div", status_text(status), class_="status", id="verdict-status"),
            h("div", h("div", reason, class_="reason"), h("div", join(" · ", parts), class_="sub")),
            class_=f"banner {status}",
            style=f"background:{STATUS_COLOURS[status]}",
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
    notes = [n for n in record.verdict.notes if not n.startswith("ADAPTER HAS NO EFFECT")]
    if notes:
        out.append(h("ul", [h("li", n) for n in notes], class_="notes"))
    out.append(_candidate_table(record, ordered))
    failing = [(k, c) for k, c in ordered if is_failing(c)]
    known = {c.id for c in comparisons} | {t.nodeid for t in [*tests, *bad_tests]}
    items = [_why_item(k, c, multi) for k, c in failing]
    items += [
        h(
            "li",
            h("a", h("b", t.nodeid or "?"), href="#tests"),
            " ",
            status_badge(t.outcome.upper()),
            " ",
            t.role,
            h("div", t.message or "(no message)", class_="note"),
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

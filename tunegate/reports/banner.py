"""The top of the report: the verdict banner (per candidate, no-effect adapters first) and the
run line under it. Built with ``tunegate.reports.markup.h`` like the rest of the page."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tunegate.reports.format import (
    DASH,
    STATUS_COLOURS,
    as_float,
    bad_gate_tests,
    candidate_verdicts,
    comparison_label,
    coverage,
    coverage_text,
    delta_ci,
    failing_order,
    is_advisory,
    is_bad_test,
    is_failing,
    no_effect_candidates,
    no_effect_text,
    obj,
    run_tests,
    short_hash,
    status_text,
)
from tunegate.reports.markup import Html, frag, h, join
from tunegate.reports.sections import (
    status_badge,
    verdict_badge,
)


def run_status(results: dict[str, Any]) -> str:
    """The run's status as written; anything unknown (or missing) is ERROR, never a pass."""
    status = str(obj(results.get("verdict")).get("status") or "ERROR").upper()
    return status if status in STATUS_COLOURS else "ERROR"


def verdict_parts(results: dict[str, Any]) -> tuple[str, str, list[str]]:
    verdict = obj(results.get("verdict"))
    reason = str(verdict.get("reason") or "results.json has no verdict; the run did not finish.")
    failed = [str(f) for f in verdict.get("failed") or []]
    return run_status(results), reason, failed


def ordered_comparisons(comparisons: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
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


def models_line(results: dict[str, Any]) -> Html:
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


def took(run: dict[str, Any]) -> str:
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


def banner(results: dict[str, Any], ordered: list[tuple[int, dict[str, Any]]], multi: bool) -> Html:
    status, reason, failed = verdict_parts(results)
    comparisons = [c for _, c in ordered]
    run = obj(results.get("run"))
    parts: list[object] = [models_line(results)] if results.get("models") else []
    parts.append(
        f"{len(comparisons)} comparison(s): {_counts(comparisons)}" if comparisons else "no comparisons"
    )
    tests = run_tests(results)
    bad_tests = [t for t in tests if is_bad_test(t)] + bad_gate_tests(results)
    if tests:
        parts.append(f"{len(tests)} other test(s), {len([t for t in tests if is_bad_test(t)])} failed or errored")
    if run.get("started_at"):
        parts.append(f"run {run.get('started_at')}{took(run)}")
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
    known = {str(c.get("id")) for c in comparisons} | {str(t.get("nodeid")) for t in [*tests, *bad_tests]}
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



"""The run record -> summary.md: short enough for a PR comment or ``$GITHUB_STEP_SUMMARY``.

The first line is the whole story for a failing gate (it is what a notification shows):
``❌ FAIL — support/eval exact_match[category]: REGRESSED, delta -0.080 [-0.120, -0.040]``.
Names reach GitHub's Markdown renderer, which links URLs and @mentions: a name made only of
harmless characters is written as is, anything else goes into a code span where nothing renders.
"""

from __future__ import annotations

import re

from tunegate.harness.record import ComparisonRecord, RunRecord
from tunegate.reports.cost import HEADER as COST_HEADER
from tunegate.reports.cost import cost_table
from tunegate.reports.format import (
    STATUS_ICONS,
    as_float,
    bad_gate_tests,
    candidate_count,
    clean_label,
    coverage_text,
    delta_ci,
    failing_order,
    gate_text,
    is_advisory,
    is_bad_test,
    is_failing,
    no_effect_candidates,
    no_effect_text,
    num,
    p_text,
    pval,
    run_tests,
    status_text,
)

MAX_ROWS = 40
MAX_SLICES = 5
_PLAIN = re.compile(r"[A-Za-z0-9 /._\[\]=,+\-]+")
# What GitHub turns into a link by itself (GFM autolinks): www.host, scheme://, user@host.
_AUTOLINK = re.compile(r"(?i)\bwww\.|://|@")


def no_autolinks(text: str) -> str:
    """``text`` with every GitHub autolink broken by a zero-width space (``www\u200b.``,
    ``:\u200b//``, ``@\u200b``): data cannot plant a link in the summary; it reads the same."""
    text = re.sub(r"(?i)\b(www)\.", "\\1\u200b.", text)
    return text.replace("@", "@\u200b").replace("://", ":\u200b//")


def md_name(value: object, *, in_table: bool = False) -> str:
    """A suite/metric/slice name safe in GitHub Markdown (and inside a table when ``in_table``)."""
    text = " ".join(clean_label(value).split())
    if text and _PLAIN.fullmatch(text) and not _AUTOLINK.search(text):
        return text
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    if in_table:
        text = text.replace("|", "\\|")
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_text(value: object) -> str:
    """Free prose (the verdict reason) with Markdown and HTML syntax neutralised."""
    text = " ".join(clean_label(value).split())
    text = re.sub(r"([\\`*<|~])", r"\\\1", text)
    text = re.sub(r"(?<!\w)_|_(?!\w)", r"\\_", text)  # intra-word underscores never emphasise
    text = text.replace("](", "]\\(").replace("![", "!\\[").replace("]:", "]\\:")
    text = re.sub(r"^([#>+=-])", r"\\\1", text)  # no heading, quote or list at the start
    text = re.sub(r"^(\d+)([.)])", r"\1\\\2", text)
    return no_autolinks(text)


def row_icon(c: ComparisonRecord) -> str:
    if is_failing(c):
        return "⚠️" if is_advisory(c) else "❌"
    if c.verdict == "NOT_GATED":
        return "➖"
    return "✅"


def _name(c: ComparisonRecord, multi: bool, pairs: bool = False) -> str:
    """``support/eval exact_match`` (``(candidate)`` with several; ``vs reference (label)`` or ``vs base``
    in a run with a reference)."""
    text = f"{md_name(c.suite)} {md_name(c.metric)}"
    text = f"{text} ({md_name(c.candidate)})" if multi else text
    return f"{text} vs {md_pair(c)}" if pairs or c.against == "reference" else text


def md_pair(c: ComparisonRecord) -> str:
    """``base`` or ``reference (label)``, the label made safe for GitHub Markdown."""
    return f"reference ({md_name(c.reference)})" if c.against == "reference" and c.reference else c.pair


def headline(record: RunRecord) -> str:
    """The summary's first line: a no-effect adapter if there is one, else the verdict."""
    no_effect = no_effect_candidates(record)
    if no_effect:
        extra = f" (+{len(no_effect) - 1} more)" if len(no_effect) > 1 else ""
        return f"🛑 {md_text(no_effect_text(no_effect[0]))}{extra}"
    return verdict_line(record)


def verdict_line(record: RunRecord) -> str:
    """``❌ FAIL — support/eval exact_match[category]: REGRESSED, delta ...`` or the verdict's reason."""
    verdict = record.verdict
    status = verdict.status
    icon = STATUS_ICONS[status]
    multi = candidate_count(record) > 1
    failing = [c for c in failing_order(record.comparisons) if is_failing(c)]
    by_id = {c.id: c for c in failing}
    # The decision names its failures in order, deciding one first; older files have no list.
    lead = [by_id[f] for f in verdict.failed if f in by_id]
    if status in ("FAIL", "ADVISORY") and failing and (lead or not verdict.failed):
        first = lead[0] if lead else ([c for c in failing if not is_advisory(c)] or failing)[0]
        pairs = record.reference_label is not None
        line = f"{icon} {status} — {_name(first, multi, pairs)}: {first.verdict}, delta {delta_ci(first)}"
        if is_advisory(first):
            line += " (advisory)"
        if len(failing) > 1:
            line += f" (+{len(failing) - 1} more failing)"
        return line
    return f"{icon} {status_text(status)} — {md_text(verdict.reason or status)}"


def _table(comparisons: list[ComparisonRecord], multi: bool, reference: bool = False) -> list[str]:
    head = (
        "| | suite | metric |"
        + (" candidate |" if multi else "")
        + (" vs | gate | base | ref. |" if reference else " gate | base |")
        + " cand. | delta [CI] | p (claim) | p adj. | n | verdict |"
    )
    align = "|---|---|---|" + ("---|" if multi else "") + ("---|---|---:|---:|" if reference else "---|---:|")
    align += "---:|---:|---:|---:|---:|---|"
    lines = [head, align]
    for c in failing_order(comparisons)[:MAX_ROWS]:
        cov = c.coverage
        n = f"{cov.n_scored}/{cov.n_items}" if cov is not None and cov.n_scored != cov.n_items else str(c.n)
        lines.append(
            f"| {row_icon(c)} | {md_name(c.suite, in_table=True)} | {md_name(c.metric, in_table=True)} |"
            + (f" {md_name(c.candidate, in_table=True)} |" if multi else "")
            + (f" {md_name(c.against, in_table=True)} |" if reference else "")
            + f" {md_name(gate_text(c), in_table=True)} | {num(c.base_mean)} |"
            + (f" {num(c.reference_mean)} |" if reference else "")
            + f" {num(c.candidate_mean)} |"
            f" {delta_ci(c)} | {md_text(p_text(c))} | {pval(c.p_adjusted)} | {md_name(n, in_table=True)} |"
            f" {md_name(c.verdict, in_table=True)}"
            + (" (advisory)" if is_advisory(c) else "")
            + " |"
        )
    if len(comparisons) > MAX_ROWS:
        lines.append(f"\n_{len(comparisons) - MAX_ROWS} more comparisons in the HTML report._")
    return lines


def _candidates(record: RunRecord) -> list[str]:
    """One line per candidate with its own verdict (one FAIL never covers a passing candidate)."""
    verdicts = record.verdict.candidates
    labels = [c.label for c in record.models.candidates] or list(verdicts)
    reference = record.reference_label
    if not verdicts and len(labels) < 2 and reference is None:
        return []
    lines = ["**Verdict per candidate**", ""]
    for label in labels:
        v = verdicts.get(label)
        mine = [c for c in record.comparisons if c.candidate == label]
        failing = [c for c in mine if is_failing(c)]
        head = f"{STATUS_ICONS[v.status]} {status_text(v.status)}" if v is not None else "❔ not recorded"
        if reference is not None:
            lines.append(f"- {md_name(label)} — {head} — {pair_line(mine, reference)}")
            continue
        reason = f": {md_text(v.reason)}" if v is not None and v.reason else ""
        lines.append(
            f"- {md_name(label)} — {head}{reason} ({len(mine) - len(failing)} of {len(mine)} comparisons passed)"
        )
    return [*lines, ""]


def pair_line(comparisons: list[ComparisonRecord], reference: str) -> str:
    """``vs production (task-only): 3 of 3 gates passed; vs base: 1 of 2 passed (REGRESSED: ...)``."""
    parts = []
    for pair, name in (("reference", f"vs production ({md_name(reference)})"), ("base", "vs base")):
        mine = [c for c in comparisons if c.against == pair]
        if not mine:
            parts.append(f"{name}: no gates")
            continue
        failing = [c for c in mine if is_failing(c)]
        text = f"{name}: {len(mine) - len(failing)} of {len(mine)} passed"
        if failing:
            shown = ", ".join(f"{md_name(c.suite)} {md_name(c.metric)} {c.verdict}" for c in failing[:3])
            text += f" ({shown}{', ...' if len(failing) > 3 else ''})"
        parts.append(text)
    return "; ".join(parts)


def _coverage(comparisons: list[ComparisonRecord], multi: bool) -> list[str]:
    found = []
    for c in failing_order(comparisons):
        text = coverage_text(c) if c.coverage is not None else ""
        if text:
            found.append(f"- {_name(c, multi)} ({md_name(c.verdict)}): {md_text(text)}")
    return ["**Coverage (items not scored)**", "", *found[:MAX_ROWS], ""] if found else []


def tests_lines(record: RunRecord) -> list[str]:
    """The run's checks that are not comparisons: one line when all passed, else every failed one.

    "all passed" is said only when no test of the run failed or errored by itself (a check or a
    comparison test that broke outside its gate)."""
    tests = run_tests(record)
    bad = [t for t in tests if is_bad_test(t)] + bad_gate_tests(record)
    if not tests and not bad:
        return []
    if not bad:
        return [f"Other tests (leakage, drift, custom): all {len(tests)} passed or skipped.", ""]
    lines = [f"**Failed tests (not comparisons): {len(bad)} of {len(tests) + len(bad_gate_tests(record))}**", ""]
    for t in bad[:MAX_ROWS]:
        lines.append(
            f"- {'🛑' if t.outcome == 'error' else '❌'} {md_name(t.outcome.upper())} {md_name(t.role)} "
            f"{md_name(t.nodeid or '?')}: {md_text(t.message or '(no message)')}"
        )
    return [*lines, ""]


def _worst_slices(comparisons: list[ComparisonRecord], multi: bool) -> list[str]:
    found = []
    for c in comparisons:
        if not is_failing(c):
            continue
        for s in c.slices:
            d = as_float(s.delta)
            if d is not None and (s.verdict == "REGRESSED" or d < 0):
                found.append((s.verdict != "REGRESSED", d, c, s))
    found.sort(key=lambda t: (t[0], t[1]))
    return [
        f"- {_name(c, multi)} · {md_name(s.slice)} (n={s.n}): {delta_ci(s)}, {md_name(s.verdict)}"
        for _, _, c, s in found[:MAX_SLICES]
    ]


def _context(record: RunRecord) -> str:
    base = record.models.base
    cands = [md_name(c.spec.adapter or c.label) for c in record.models.candidates]
    info = record.run.reference
    production = f"reference {md_name(info.path or info.label)} and " if info is not None else ""
    parts = [f"{', '.join(cands) or 'candidate'} vs {production}base {md_name(base.spec.base or base.label)}"]
    n_items = sum(s.n_items or 0 for s in record.suites)
    if n_items:
        parts.append(f"{n_items:,} items")
    if record.run.seed is not None:
        parts.append(f"seed {md_name(record.run.seed)}")
    duration = as_float(record.run.duration_s)
    if duration is not None:
        parts.append(f"{duration:.0f} s")
    return " · ".join(parts)


def render_markdown(record: RunRecord, *, report_href: str | None = "report.html") -> str:
    """summary.md for ``record``; ``report_href`` is the link to the HTML report (None: no link)."""
    comparisons = record.comparisons
    multi = candidate_count(record) > 1
    verdict = record.verdict
    lines = [headline(record), ""]
    no_effect = no_effect_candidates(record)
    if no_effect:
        lines += [*(f"🛑 {md_text(no_effect_text(c))}" for c in no_effect[1:]), verdict_line(record), ""]
    first = "\n".join(lines)
    if verdict.reason and md_text(verdict.reason) not in first:
        lines += [md_text(verdict.reason), ""]
    if verdict.status == "NO_BINDING_GATES":
        lines += ["Not a pass: every gate in this run is advisory, so nothing binding was shown.", ""]
    notes = [n for n in verdict.notes if not n.startswith("ADAPTER HAS NO EFFECT")]
    if notes:
        lines += [*(f"- {md_text(n)}" for n in notes), ""]
    lines += [_context(record), ""]
    lines += _candidates(record)
    lines += tests_lines(record)
    if comparisons:
        lines += [*_table(comparisons, multi, record.reference_label is not None), ""]
    lines += _coverage(comparisons, multi)
    slices = _worst_slices(comparisons, multi)
    if slices:
        lines += ["**Worst slices of the failing comparisons**", "", *slices, ""]
    flips = [
        f"- {_name(c, multi)}: {len(c.flips.base_only):,} items the {md_pair(c)} "
        "got right and the candidate got wrong"
        for c in failing_order(comparisons)
        if is_failing(c) and c.flips is not None and c.flips.base_only
    ]
    if flips:
        lines += ["**Flips**", "", *flips[:MAX_SLICES], ""]
    lines += _cost(record)
    notes = _notes(record)
    if notes:
        lines += [*notes, ""]
    if report_href:
        href = report_href.replace(" ", "%20").replace(")", "%29").replace("(", "%28")
        lines.append(f"[Full HTML report]({href}) — forest plot, slices, flips, every item.")
    return "\n".join(lines).rstrip() + "\n"


def _cost(record: RunRecord) -> list[str]:
    """The cost table (tunegate/reports/cost.py), escaped for Markdown."""
    table = cost_table(record)
    if table is None:
        return []
    rows, notes = table
    lines = ["**Cost**", "", "| " + " | ".join(COST_HEADER) + " |", "|---|" + "---:|" * (len(COST_HEADER) - 1)]
    # The model's label is untrusted text; the other cells are figures this module formatted.
    lines += ["| " + " | ".join([md_name(r[0], in_table=True), *r[1:]]) + " |" for r in rows]
    return [*lines, "", *(f"- {md_text(n)}" for n in notes), ""]


def _notes(record: RunRecord) -> list[str]:
    notes = []
    leakage = record.leakage
    if leakage is not None and leakage.status:
        extra = f", {leakage.n_flagged} item(s) flagged" if leakage.n_flagged is not None else ""
        notes.append(f"- Leakage check: {md_name(leakage.status.upper())}{extra}")
    for j in record.judges:
        if j.reliable is False:
            notes.append(
                f"- Judge {md_name(j.name or '?')} is advisory (kappa {num(j.kappa)} < 0.6): "
                "its comparisons cannot fail the gate alone"
            )
    return notes

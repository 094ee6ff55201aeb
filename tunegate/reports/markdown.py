"""results.json -> summary.md: short enough for a PR comment or ``$GITHUB_STEP_SUMMARY``.

The first line is the whole story for a failing gate (it is what a notification shows):
``❌ FAIL — support/eval exact_match[category]: REGRESSED, delta -0.080 [-0.120, -0.040]``.
Names reach GitHub's Markdown renderer, which links URLs and @mentions: a name made only of
harmless characters is written as is, anything else goes into a code span where nothing renders.
"""

from __future__ import annotations

import re
from typing import Any

from tunegate.reports.files import check_results
from tunegate.reports.format import (
    STATUS_ICONS,
    as_float,
    bad_gate_tests,
    candidate_count,
    candidate_verdicts,
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
    obj,
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


def row_icon(c: dict[str, Any]) -> str:
    if is_failing(c):
        return "⚠️" if is_advisory(c) else "❌"
    if c.get("verdict") == "NOT_GATED":
        return "➖"
    return "✅"


def _name(c: dict[str, Any], multi: bool) -> str:
    text = f"{md_name(c.get('suite', '?'))} {md_name(c.get('metric', '?'))}"
    return f"{text} ({md_name(c.get('candidate', '?'))})" if multi else text


def headline(results: dict[str, Any]) -> str:
    """The summary's first line: a no-effect adapter if there is one, else the verdict."""
    no_effect = no_effect_candidates(results)
    if no_effect:
        extra = f" (+{len(no_effect) - 1} more)" if len(no_effect) > 1 else ""
        return f"🛑 {md_text(no_effect_text(no_effect[0]))}{extra}"
    return verdict_line(results)


def verdict_line(results: dict[str, Any]) -> str:
    """``❌ FAIL — support/eval exact_match[category]: REGRESSED, delta ...`` or the verdict's reason."""
    verdict = obj(results.get("verdict"))
    status = str(verdict.get("status") or "ERROR").upper()
    if status not in STATUS_ICONS:
        status = "ERROR"
    icon = STATUS_ICONS[status]
    comparisons = [c for c in results.get("comparisons") or [] if isinstance(c, dict)]
    multi = candidate_count(results) > 1
    decided = [str(f) for f in verdict.get("failed") or []]
    failing = [c for c in failing_order(comparisons) if is_failing(c)]
    by_id = {str(c.get("id")): c for c in failing}
    # The decision names its failures in order, deciding one first; older files have no list.
    lead = [by_id[f] for f in decided if f in by_id]
    if status in ("FAIL", "ADVISORY") and failing and (lead or not decided):
        first = lead[0] if lead else ([c for c in failing if not is_advisory(c)] or failing)[0]
        line = (
            f"{icon} {status} — {_name(first, multi)}: {first.get('verdict', '?')}, delta {delta_ci(first)}"
        )
        if is_advisory(first):
            line += " (advisory)"
        if len(failing) > 1:
            line += f" (+{len(failing) - 1} more failing)"
        return line
    reason = verdict.get("reason") or ("results.json has no verdict" if not verdict else status)
    return f"{icon} {status_text(status)} — {md_text(reason)}"


def _table(comparisons: list[dict[str, Any]], multi: bool) -> list[str]:
    head = (
        "| | suite | metric |"
        + (" candidate |" if multi else "")
        + " gate | base | cand. | delta [CI] | p (claim) | p adj. | n | verdict |"
    )
    align = "|---|---|---|" + ("---|" if multi else "") + "---|---:|---:|---:|---:|---:|---:|---|"
    lines = [head, align]
    for c in failing_order(comparisons)[:MAX_ROWS]:
        cov = obj(c.get("coverage"))
        n = (
            f"{cov.get('n_scored')}/{cov.get('n_items')}"
            if isinstance(cov.get("n_items"), int) and cov.get("n_scored") != cov.get("n_items")
            else str(c.get("n", "?"))
        )
        lines.append(
            f"| {row_icon(c)} | {md_name(c.get('suite', '?'), in_table=True)} | {md_name(c.get('metric', '?'), in_table=True)} |"
            + (f" {md_name(c.get('candidate', '?'), in_table=True)} |" if multi else "")
            + f" {md_name(gate_text(c), in_table=True)} | {num(c.get('base_mean'))} | {num(c.get('candidate_mean'))} |"
            f" {delta_ci(c)} | {md_text(p_text(c))} | {pval(c.get('p_adjusted'))} | {md_name(n, in_table=True)} |"
            f" {md_name(c.get('verdict', '?'), in_table=True)}"
            + (" (advisory)" if is_advisory(c) else "")
            + " |"
        )
    if len(comparisons) > MAX_ROWS:
        lines.append(f"\n_{len(comparisons) - MAX_ROWS} more comparisons in the HTML report._")
    return lines


def _candidates(results: dict[str, Any], comparisons: list[dict[str, Any]]) -> list[str]:
    """One line per candidate with its own verdict (one FAIL never covers a passing candidate)."""
    verdicts = candidate_verdicts(results)
    cands = [c for c in obj(results.get("models")).get("candidates") or [] if isinstance(c, dict)]
    if not verdicts and len(cands) < 2:
        return []
    lines = ["**Verdict per candidate**", ""]
    for cand in cands or [{"label": label} for label in verdicts]:
        label = str(cand.get("label") or "candidate")
        v = verdicts.get(label, {})
        status = str(v.get("status") or "").upper()
        mine = [c for c in comparisons if str(c.get("candidate")) == label]
        failing = [c for c in mine if is_failing(c)]
        head = f"{STATUS_ICONS.get(status, '❔')} {status_text(status) if status else 'not recorded'}"
        reason = f": {md_text(v.get('reason'))}" if v.get("reason") else ""
        lines.append(
            f"- {md_name(label)} — {head}{reason} ({len(mine) - len(failing)} of {len(mine)} comparisons passed)"
        )
    return [*lines, ""]


def _coverage(comparisons: list[dict[str, Any]], multi: bool) -> list[str]:
    found = []
    for c in failing_order(comparisons):
        text = coverage_text(c) if obj(c.get("coverage")) else ""
        if text:
            found.append(f"- {_name(c, multi)} ({md_name(c.get('verdict', '?'))}): {md_text(text)}")
    return ["**Coverage (items not scored)**", "", *found[:MAX_ROWS], ""] if found else []


def _tests(results: dict[str, Any]) -> list[str]:
    tests = run_tests(results)
    bad = [t for t in tests if is_bad_test(t)] + bad_gate_tests(results)
    if not tests and not bad:
        return []
    if not bad:
        return [f"Other tests (leakage, drift, custom): all {len(tests)} passed or skipped.", ""]
    lines = [f"**Failed tests (not comparisons): {len(bad)} of {len(tests) + len(bad_gate_tests(results))}**", ""]
    for t in bad[:MAX_ROWS]:
        lines.append(
            f"- {'🛑' if t.get('outcome') == 'error' else '❌'} {md_name(str(t.get('outcome', '?')).upper())} {md_name(t.get('kind') or 'test')} "
            f"{md_name(t.get('nodeid') or '?')}: {md_text(t.get('message') or '(no message)')}"
        )
    return [*lines, ""]


def _worst_slices(comparisons: list[dict[str, Any]], multi: bool) -> list[str]:
    found = []
    for c in comparisons:
        if not is_failing(c):
            continue
        for s in c.get("slices") or []:
            d = as_float(s.get("delta")) if isinstance(s, dict) else None
            if d is not None and (s.get("verdict") == "REGRESSED" or d < 0):
                found.append((s.get("verdict") != "REGRESSED", d, c, s))
    found.sort(key=lambda t: (t[0], t[1]))
    return [
        f"- {_name(c, multi)} · {md_name(s.get('slice', '?'))} (n={s.get('n', '?')}): "
        f"{delta_ci(s)}, {md_name(s.get('verdict', '?'))}"
        for _, _, c, s in found[:MAX_SLICES]
    ]


def _context(results: dict[str, Any]) -> str:
    models = obj(results.get("models"))
    base = obj(models.get("base"))
    base_name = obj(base.get("spec")).get("base") or base.get("label") or "base"
    cands = []
    for c in models.get("candidates") or []:
        if isinstance(c, dict):
            adapter = obj(c.get("spec")).get("adapter")
            cands.append(md_name(adapter or c.get("label") or "candidate"))
    run = obj(results.get("run"))
    parts = [f"{', '.join(cands) or 'candidate'} vs base {md_name(base_name)}"]
    n_items = sum(int(s.get("n_items") or 0) for s in results.get("suites") or [] if isinstance(s, dict))
    if n_items:
        parts.append(f"{n_items:,} items")
    if run.get("seed") is not None:
        parts.append(f"seed {md_name(run.get('seed'))}")
    duration = as_float(run.get("duration_s"))
    if duration is not None:
        parts.append(f"{duration:.0f} s")
    return " · ".join(parts)


def render_markdown(results: dict[str, Any], *, report_href: str | None = "report.html") -> str:
    """summary.md for ``results``; ``report_href`` is the link to the HTML report (None: no link)."""
    check_results(results)
    comparisons = [c for c in results.get("comparisons") or [] if isinstance(c, dict)]
    multi = candidate_count(results) > 1
    verdict = obj(results.get("verdict"))
    lines = [headline(results), ""]
    if no_effect_candidates(results):
        lines += [*(f"🛑 {md_text(no_effect_text(c))}" for c in no_effect_candidates(results)[1:]), verdict_line(results), ""]
    first = "\n".join(lines)
    reason = verdict.get("reason")
    if reason and md_text(reason) not in first:
        lines += [md_text(reason), ""]
    status = str(verdict.get("status") or "").upper()
    if status == "NO_BINDING_GATES":
        lines += ["Not a pass: every gate in this run is advisory, so nothing binding was shown.", ""]
    notes = [n for n in verdict.get("notes") or [] if isinstance(n, str) and not n.startswith("ADAPTER HAS NO EFFECT")]
    if notes:
        lines += [*(f"- {md_text(n)}" for n in notes), ""]
    lines += [_context(results), ""]
    lines += _candidates(results, comparisons)
    lines += _tests(results)
    if comparisons:
        lines += [*_table(comparisons, multi), ""]
    lines += _coverage(comparisons, multi)
    slices = _worst_slices(comparisons, multi)
    if slices:
        lines += ["**Worst slices of the failing comparisons**", "", *slices, ""]
    flips = [
        f"- {_name(c, multi)}: {len(obj(c.get('flips')).get('base_only') or []):,} items base got right and the candidate got wrong"
        for c in failing_order(comparisons)
        if is_failing(c) and obj(c.get("flips")).get("base_only")
    ]
    if flips:
        lines += ["**Flips**", "", *flips[:MAX_SLICES], ""]
    notes = _notes(results)
    if notes:
        lines += [*notes, ""]
    if report_href:
        href = report_href.replace(" ", "%20").replace(")", "%29").replace("(", "%28")
        lines.append(f"[Full HTML report]({href}) — forest plot, slices, flips, every item.")
    return "\n".join(lines).rstrip() + "\n"


def _notes(results: dict[str, Any]) -> list[str]:
    notes = []
    leakage = results.get("leakage")
    if isinstance(leakage, dict) and leakage.get("status"):
        flagged = leakage.get("n_flagged")
        extra = f", {flagged} item(s) flagged" if flagged is not None else ""
        notes.append(f"- Leakage check: {md_name(str(leakage.get('status')).upper())}{extra}")
    for j in results.get("judges") or []:
        if isinstance(j, dict) and j.get("reliable") is False:
            notes.append(
                f"- Judge {md_name(j.get('name', '?'))} is advisory (kappa {num(j.get('kappa'))} < 0.6): "
                "its comparisons cannot fail the gate alone"
            )
    return notes

"""What changed between two runs (two adapter versions gated against the same base).

``tunegate report --compare old/results.json new/results.json`` matches comparisons by
(suite, metric, candidate label) and shows, per comparison, the old and new candidate means, how
the delta moved and whether the verdict changed. Deltas are only comparable when both runs used
the same base and the same eval data, so differing fingerprints or suite versions are warned about
first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reports.files import check_results
from reports.format import (
    DASH,
    STATUS_COLOURS,
    STATUS_ICONS,
    as_float,
    clean_label,
    esc,
    esc_label,
    num,
    obj,
    short_hash,
    signed,
)
from reports.html import template
from reports.markdown import md_name, md_text
from reports.sections import verdict_badge

_RANK = {
    "REGRESSED": 0,
    "INCONCLUSIVE": 1,
    "UNDERPOWERED": 1,
    "NOT_GATED": 2,
    "NON_INFERIOR": 3,
    "IMPROVED": 4,
}


@dataclass(frozen=True)
class ComparisonChange:
    """One comparison in the old run, the new run, or both."""

    suite: str
    metric: str
    candidate: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None

    @property
    def status(self) -> str:
        """``added``, ``removed``, ``better``, ``worse`` (verdict moved) or ``same``."""
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        before = _RANK.get(str(self.old.get("verdict")), 1)
        after = _RANK.get(str(self.new.get("verdict")), 1)
        if after > before:
            return "better"
        if after < before:
            return "worse"
        return "same"

    @property
    def delta_change(self) -> float | None:
        if self.old is None or self.new is None:
            return None
        a, b = as_float(self.old.get("delta")), as_float(self.new.get("delta"))
        return None if a is None or b is None else b - a

    def value(self, side: str, key: str) -> object:
        run = self.old if side == "old" else self.new
        return None if run is None else run.get(key)


@dataclass(frozen=True)
class RunComparison:
    old_status: str
    new_status: str
    old_name: str
    new_name: str
    changes: tuple[ComparisonChange, ...]
    warnings: tuple[str, ...]


def _status(results: dict[str, Any]) -> str:
    verdict = obj(results.get("verdict"))
    return str(verdict.get("status") or "ERROR").upper()


def _models(results: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    models = obj(results.get("models"))
    base = obj(models.get("base"))
    return base, [c for c in models.get("candidates") or [] if isinstance(c, dict)]


def _run_name(results: dict[str, Any], fallback: str) -> str:
    _, cands = _models(results)
    names = []
    for c in cands:
        spec = obj(c.get("spec"))
        names.append(str(spec.get("adapter") or c.get("label") or fallback))
    return clean_label(", ".join(names) or fallback)


def _warnings(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out = []
    old_base, old_cands = _models(old)
    new_base, new_cands = _models(new)
    fa, fb = old_base.get("fingerprint"), new_base.get("fingerprint")
    if fa and fb and fa != fb:
        out.append(
            f"base model fingerprints differ (old {short_hash(fa)}, new {short_hash(fb)}): the two runs were not "
            "gated against the same base, so their deltas are not directly comparable"
        )
    elif not fa or not fb:
        out.append("a base fingerprint is missing: cannot confirm both runs used the same base")
    old_suites = {s.get("name"): s.get("version") for s in old.get("suites") or [] if isinstance(s, dict)}
    for s in new.get("suites") or []:
        if not isinstance(s, dict):
            continue
        before = old_suites.get(s.get("name"))
        if before and s.get("version") and before != s.get("version"):
            out.append(
                f"suite {clean_label(s.get('name'))} changed between the runs (version {short_hash(before)} -> "
                f"{short_hash(s.get('version'))}): scores are on different items"
            )
    same = {c.get("fingerprint") for c in old_cands} & {c.get("fingerprint") for c in new_cands} - {None}
    if same:
        out.append("old and new share a candidate fingerprint: the adapter did not change")
    return out


def _key(c: dict[str, Any], with_candidate: bool) -> tuple[str, ...]:
    base = (str(c.get("suite", "")), str(c.get("metric", "")))
    return (*base, str(c.get("candidate", ""))) if with_candidate else base


def compare_runs(old: dict[str, Any], new: dict[str, Any]) -> RunComparison:
    """Match ``old`` and ``new`` comparisons and collect what changed (worst news first)."""
    check_results(old, "old results")
    check_results(new, "new results")
    old_cmp = [c for c in old.get("comparisons") or [] if isinstance(c, dict)]
    new_cmp = [c for c in new.get("comparisons") or [] if isinstance(c, dict)]
    with_candidate = True
    if not {_key(c, True) for c in old_cmp} & {_key(c, True) for c in new_cmp}:
        # Two single-adapter runs whose candidates got different labels still line up by suite+metric.
        with_candidate = (
            len({c.get("candidate") for c in old_cmp}) > 1 or len({c.get("candidate") for c in new_cmp}) > 1
        )
    old_by = {_key(c, with_candidate): c for c in old_cmp}
    new_by = {_key(c, with_candidate): c for c in new_cmp}
    keys = list(dict.fromkeys([*old_by, *new_by]))
    changes = []
    for key in keys:
        ref = new_by.get(key) or old_by[key]
        changes.append(
            ComparisonChange(
                suite=str(ref.get("suite", "")),
                metric=str(ref.get("metric", "")),
                candidate=str(ref.get("candidate", "")),
                old=old_by.get(key),
                new=new_by.get(key),
            )
        )
    order = {"worse": 0, "removed": 1, "better": 2, "added": 3, "same": 4}
    changes.sort(key=lambda ch: order[ch.status])
    return RunComparison(
        old_status=_status(old),
        new_status=_status(new),
        old_name=_run_name(old, "old"),
        new_name=_run_name(new, "new"),
        changes=tuple(changes),
        warnings=tuple(_warnings(old, new)),
    )


_ARROWS = {"worse": "⬇ worse", "better": "⬆ better", "same": "", "added": "new", "removed": "removed"}


def _verdicts(ch: ComparisonChange) -> tuple[str, str]:
    return str(ch.value("old", "verdict") or DASH), str(ch.value("new", "verdict") or DASH)


def render_compare_markdown(result: RunComparison) -> str:
    """Markdown (also readable as terminal text)."""
    icon_old = STATUS_ICONS.get(result.old_status, "")
    icon_new = STATUS_ICONS.get(result.new_status, "")
    lines = [
        f"{icon_old} {result.old_status} → {icon_new} {result.new_status} — "
        f"{md_name(result.old_name)} → {md_name(result.new_name)}",
        "",
    ]
    lines += [f"⚠️ {md_text(w)}" for w in result.warnings]
    if result.warnings:
        lines.append("")
    lines += [
        "| suite | metric | old cand. | new cand. | old delta | new delta | delta change | verdict |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for ch in result.changes:
        before, after = _verdicts(ch)
        verdict = md_name(before, in_table=True)
        if before != after:
            verdict += f" → {md_name(after, in_table=True)}"
        arrow = _ARROWS[ch.status]
        lines.append(
            f"| {md_name(ch.suite, in_table=True)} | {md_name(ch.metric, in_table=True)} | "
            f"{num(ch.value('old', 'candidate_mean'))} | {num(ch.value('new', 'candidate_mean'))} | "
            f"{signed(ch.value('old', 'delta'))} | {signed(ch.value('new', 'delta'))} | {signed(ch.delta_change)} | "
            f"{verdict}{' ' + arrow if arrow else ''} |"
        )
    if not result.changes:
        lines.append("| — | no comparisons in either run | | | | | | |")
    return "\n".join(lines) + "\n"


def compare_section(result: RunComparison) -> str:
    """The comparison as an HTML ``<section>`` (escaped; no script)."""

    def status_badge(status: str) -> str:
        return f'<span class="badge" style="background:{STATUS_COLOURS.get(status, "#6e7781")}">{esc(status)}</span>'

    rows = []
    for ch in result.changes:
        before, after = _verdicts(ch)
        cls = {"worse": "failing", "removed": "failing advisory"}.get(ch.status, "")
        rows.append(
            f'<tr class="{cls}"><td>{esc_label(ch.suite)}</td><td><code>{esc_label(ch.metric)}</code></td>'
            f'<td class="num">{num(ch.value("old", "candidate_mean"))}</td>'
            f'<td class="num">{num(ch.value("new", "candidate_mean"))}</td>'
            f'<td class="num">{esc(signed(ch.value("old", "delta")))}</td>'
            f'<td class="num">{esc(signed(ch.value("new", "delta")))}</td>'
            f'<td class="num"><b>{esc(signed(ch.delta_change))}</b></td>'
            f"<td>{verdict_badge(before)}{'' if before == after else ' → ' + verdict_badge(after)}</td>"
            f"<td>{esc(_ARROWS[ch.status])}</td></tr>"
        )
    warnings = "".join(f'<p class="warn">⚠️ {esc(w)}</p>' for w in result.warnings)
    return (
        '<section id="compare"><h2>Compared with the previous run</h2>'
        f"<p>{status_badge(result.old_status)} <code>{esc(result.old_name)}</code> → "
        f"{status_badge(result.new_status)} <code>{esc(result.new_name)}</code></p>{warnings}"
        '<div class="table-wrap"><table class="data"><thead><tr><th>suite</th><th>metric</th>'
        '<th class="num">old cand.</th><th class="num">new cand.</th><th class="num">old delta</th>'
        '<th class="num">new delta</th><th class="num">delta change</th><th>verdict</th><th></th>'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div></section>"
    )


def render_compare_html(result: RunComparison) -> str:
    """A standalone page holding ``compare_section`` (no script at all, so CSP forbids every script)."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "base-uri 'none'; form-action 'none'\">"
        '<meta name="referrer" content="no-referrer">'
        f"<title>tunegate: {esc(result.old_status)} → {esc(result.new_status)}</title>"
        f"<style>{template('report.css')}</style></head><body><main>{compare_section(result)}</main></body></html>\n"
    )

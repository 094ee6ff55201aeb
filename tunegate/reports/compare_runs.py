"""What changed between two runs (two adapter versions gated against the same base).

``tunegate report --compare old/results.json new/results.json`` matches comparisons by suite,
metric, gate (type and threshold) and candidate — candidates by their **fingerprint** (adapter
content), so the same adapter lines up whatever its label and however many other candidates shared
its run; a candidate without a fingerprint falls back to its label. It shows, per comparison, the
old and new candidate means, how the delta moved and whether the verdict changed. Deltas are only
comparable when both runs used the same base and the same eval data, so differing fingerprints or
suite versions are warned about first.
"""

from __future__ import annotations

from dataclasses import dataclass

from tunegate.harness.record import ComparisonRecord, RunRecord
from tunegate.reports.format import (
    DASH,
    STATUS_ICONS,
    as_float,
    clean_label,
    gate_text,
    num,
    short_hash,
    signed,
    status_text,
)
from tunegate.reports.html import template
from tunegate.reports.markdown import md_name, md_text
from tunegate.reports.markup import Html, document, frag, h, raw_block
from tunegate.reports.sections import status_badge, verdict_badge

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
    old: ComparisonRecord | None
    new: ComparisonRecord | None

    @property
    def status(self) -> str:
        """``added``, ``removed``, ``better``, ``worse`` (verdict moved) or ``same``."""
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        before, after = _RANK.get(self.old.verdict, 1), _RANK.get(self.new.verdict, 1)
        if after > before:
            return "better"
        if after < before:
            return "worse"
        return "same"

    @property
    def delta_change(self) -> float | None:
        if self.old is None or self.new is None:
            return None
        a, b = as_float(self.old.delta), as_float(self.new.delta)
        return None if a is None or b is None else b - a


@dataclass(frozen=True)
class RunComparison:
    old_status: str
    new_status: str
    old_name: str
    new_name: str
    changes: tuple[ComparisonChange, ...]
    warnings: tuple[str, ...]
    notes: tuple[str, ...] = ()


def _run_name(record: RunRecord, fallback: str) -> str:
    return clean_label(", ".join(c.spec.adapter or c.label for c in record.models.candidates) or fallback)


def candidate_keys(record: RunRecord) -> dict[str, str]:
    """{candidate label: match key}: ``fp:<fingerprint>``, or ``label:<label>`` without one."""
    return {c.label: f"fp:{c.fingerprint}" if c.fingerprint else f"label:{c.label}" for c in record.models.candidates}


def _warnings(old: RunRecord, new: RunRecord) -> tuple[list[str], list[str]]:
    """(warnings, notes): what makes deltas incomparable, and which candidates are the same adapter."""
    out: list[str] = []
    fa, fb = old.models.base.fingerprint, new.models.base.fingerprint
    if fa and fb and fa != fb:
        out.append(
            f"base model fingerprints differ (old {short_hash(fa)}, new {short_hash(fb)}): the two runs were not "
            "gated against the same base, so their deltas are not directly comparable"
        )
    elif not fa or not fb:
        out.append("a base fingerprint is missing: cannot confirm both runs used the same base")
    old_suites = {s.name: s.version for s in old.suites}
    for s in new.suites:
        before = old_suites.get(s.name)
        if before and s.version and before != s.version:
            out.append(
                f"suite {clean_label(s.name)} changed between the runs (version {short_hash(before)} -> "
                f"{short_hash(s.version)}): scores are on different items"
            )
    old_cands, new_cands = old.models.candidates, new.models.candidates
    old_fp = {c.fingerprint: c for c in old_cands if c.fingerprint}
    new_fp = {c.fingerprint: c for c in new_cands if c.fingerprint}
    notes = []
    if old_fp and set(old_fp) == set(new_fp) and len(old_fp) == len(old_cands) == len(new_cands):
        out.append("old and new share a candidate fingerprint: the adapter did not change")
    else:
        for fp in old_fp.keys() & new_fp.keys():
            notes.append(
                f'new candidate "{clean_label(new_fp[fp].label)}" is the same adapter as old candidate '
                f'"{clean_label(old_fp[fp].label)}": fingerprint {short_hash(fp)}'
            )
    return out, notes


def _key(c: ComparisonRecord, cand: dict[str, str] | None) -> tuple[str, ...]:
    base: tuple[str, ...] = (c.suite, c.metric, c.gate.type, num(c.gate.margin, 6), num(c.gate.min_delta, 6))
    if c.against == "reference":  # a gate against production is another row than the same gate against the base
        base = (*base, f"vs {c.pair}")
    return base if cand is None else (*base, cand.get(c.candidate, f"label:{c.candidate}"))


def compare_runs(old: RunRecord, new: RunRecord) -> RunComparison:
    """Match ``old`` and ``new`` comparisons and collect what changed (worst news first)."""
    old_cmp, new_cmp = old.comparisons, new.comparisons
    old_keys, new_keys = candidate_keys(old), candidate_keys(new)
    keyed: tuple[dict[str, str] | None, dict[str, str] | None] = (old_keys, new_keys)
    single = len({c.candidate for c in old_cmp}) <= 1 and len({c.candidate for c in new_cmp}) <= 1
    if single and not {_key(c, old_keys) for c in old_cmp} & {_key(c, new_keys) for c in new_cmp}:
        keyed = (None, None)  # two single-adapter runs of different adapters still line up by suite+metric+gate
    old_by = {_key(c, keyed[0]): c for c in old_cmp}
    new_by = {_key(c, keyed[1]): c for c in new_cmp}
    changes = []
    for key in dict.fromkeys([*old_by, *new_by]):
        ref = new_by.get(key) or old_by[key]
        changes.append(
            ComparisonChange(
                suite=ref.suite, metric=ref.metric if ref.against == "base" else f"{ref.metric} vs {ref.pair}",
                candidate=ref.candidate, old=old_by.get(key), new=new_by.get(key),
            )
        )
    order = {"worse": 0, "removed": 1, "better": 2, "added": 3, "same": 4}
    changes.sort(key=lambda ch: order[ch.status])
    warnings, notes = _warnings(old, new)
    return RunComparison(
        old_status=old.verdict.status,
        new_status=new.verdict.status,
        old_name=_run_name(old, "old"),
        new_name=_run_name(new, "new"),
        changes=tuple(changes),
        warnings=tuple(warnings),
        notes=tuple(notes),
    )


_ARROWS = {"worse": "⬇ worse", "better": "⬆ better", "same": "", "added": "new", "removed": "removed"}


def _verdicts(ch: ComparisonChange) -> tuple[str, str]:
    return (ch.old.verdict if ch.old else DASH), (ch.new.verdict if ch.new else DASH)


def _gate(ch: ComparisonChange) -> str:
    ref = ch.new or ch.old
    return gate_text(ref) if ref is not None else DASH


def _cells(ch: ComparisonChange) -> tuple[str, str, str, str]:
    """old and new candidate means, old and new deltas."""
    o, n = ch.old, ch.new
    return (
        num(o.candidate_mean if o else None),
        num(n.candidate_mean if n else None),
        signed(o.delta if o else None),
        signed(n.delta if n else None),
    )


def render_compare_markdown(result: RunComparison) -> str:
    """Markdown (also readable as terminal text)."""
    icon_old = STATUS_ICONS.get(result.old_status, "")
    icon_new = STATUS_ICONS.get(result.new_status, "")
    lines = [
        f"{icon_old} {status_text(result.old_status)} → {icon_new} {status_text(result.new_status)} — "
        f"{md_name(result.old_name)} → {md_name(result.new_name)}",
        "",
    ]
    lines += [f"⚠️ {md_text(w)}" for w in result.warnings]
    lines += [f"- {md_text(n)}" for n in result.notes]
    if result.warnings or result.notes:
        lines.append("")
    lines += [
        "| suite | metric | gate | candidate | old cand. | new cand. | old delta | new delta | delta change | verdict |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for ch in result.changes:
        before, after = _verdicts(ch)
        verdict = md_name(before, in_table=True)
        if before != after:
            verdict += f" → {md_name(after, in_table=True)}"
        arrow = _ARROWS[ch.status]
        old_mean, new_mean, old_delta, new_delta = _cells(ch)
        lines.append(
            f"| {md_name(ch.suite, in_table=True)} | {md_name(ch.metric, in_table=True)} | "
            f"{md_name(_gate(ch), in_table=True)} | {md_name(ch.candidate or DASH, in_table=True)} | "
            f"{old_mean} | {new_mean} | {old_delta} | {new_delta} | {signed(ch.delta_change)} | "
            f"{verdict}{' ' + arrow if arrow else ''} |"
        )
    if not result.changes:
        lines.append("| — | no comparisons in either run | | | | | | | | |")
    return "\n".join(lines) + "\n"


def compare_section(result: RunComparison) -> Html:
    """The comparison as an HTML ``<section>`` (escaped; no script)."""
    rows = []
    for ch in result.changes:
        before, after = _verdicts(ch)
        cls = {"worse": "failing", "removed": "failing advisory"}.get(ch.status)
        old_mean, new_mean, old_delta, new_delta = _cells(ch)
        rows.append(
            h(
                "tr",
                h("td", ch.suite),
                h("td", h("code", ch.metric)),
                h("td", _gate(ch)),
                h("td", ch.candidate or DASH),
                h("td", old_mean, class_="num"),
                h("td", new_mean, class_="num"),
                h("td", old_delta, class_="num"),
                h("td", new_delta, class_="num"),
                h("td", h("b", signed(ch.delta_change)), class_="num"),
                h("td", verdict_badge(before), None if before == after else frag(" → ", verdict_badge(after))),
                h("td", _ARROWS[ch.status]),
                class_=cls,
            )
        )
    titles = ("suite", "metric", "gate", "candidate", "old cand.", "new cand.", "old delta", "new delta", "delta change", "verdict", "")
    numeric = {"old cand.", "new cand.", "old delta", "new delta", "delta change"}
    head = h("tr", *(h("th", t, class_="num" if t in numeric else None) for t in titles))
    return h(
        "section",
        h("h2", "Compared with the previous run"),
        h(
            "p",
            status_badge(result.old_status),
            " ",
            h("code", result.old_name),
            " → ",
            status_badge(result.new_status),
            " ",
            h("code", result.new_name),
        ),
        [h("p", "⚠️ ", w, class_="warn") for w in result.warnings],
        [h("p", n, class_="note") for n in result.notes],
        h("div", h("table", h("thead", head), h("tbody", rows), class_="data"), class_="table-wrap"),
        id="compare",
    )


def render_compare_html(result: RunComparison) -> str:
    """A standalone page holding ``compare_section`` (no script at all, so CSP forbids every script)."""
    head = h(
        "head",
        h("meta", charset="utf-8"),
        h(
            "meta",
            http_equiv="Content-Security-Policy",
            content="default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'",
        ),
        h("meta", name="referrer", content="no-referrer"),
        h("meta", name="viewport", content="width=device-width, initial-scale=1"),
        h("title", f"tunegate: {status_text(result.old_status)} → {status_text(result.new_status)}"),
        raw_block("style", template("report.css")),
    )
    return document(h("html", head, h("body", h("main", compare_section(result))), lang="en"))

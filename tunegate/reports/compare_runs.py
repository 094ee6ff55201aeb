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
from typing import Any

from tunegate.reports.files import check_results
from tunegate.reports.format import (
    DASH,
    STATUS_ICONS,
    as_float,
    clean_label,
    gate_text,
    num,
    obj,
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
    notes: tuple[str, ...] = ()


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


def candidate_keys(results: dict[str, Any]) -> dict[str, str]:
    """{candidate label: match key}: ``fp:<fingerprint>``, or ``label:<label>`` without one."""
    _, cands = _models(results)
    out = {}
    for c in cands:
        label = str(c.get("label") or "candidate")
        fp = c.get("fingerprint")
        out[label] = f"fp:{fp}" if isinstance(fp, str) and fp else f"label:{label}"
    return out


def _warnings(old: dict[str, Any], new: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(warnings, notes): what makes deltas incomparable, and which candidates are the same adapter."""
    out: list[str] = []
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
    old_fp = {c.get("fingerprint"): c for c in old_cands if c.get("fingerprint")}
    new_fp = {c.get("fingerprint"): c for c in new_cands if c.get("fingerprint")}
    notes = []
    if old_fp and set(old_fp) == set(new_fp) and len(old_fp) == len(old_cands) == len(new_cands):
        out.append("old and new share a candidate fingerprint: the adapter did not change")
    else:
        for fp in old_fp.keys() & new_fp.keys():
            notes.append(
                f'new candidate "{clean_label(new_fp[fp].get("label"))}" is the same adapter as old candidate '
                f'"{clean_label(old_fp[fp].get("label"))}": fingerprint {short_hash(fp)}'
            )
    return out, notes


def _gate_key(c: dict[str, Any]) -> tuple[str, ...]:
    gate = obj(c.get("gate"))
    return (str(gate.get("type") or "none"), num(gate.get("margin"), 6), num(gate.get("min_delta"), 6))


def _key(c: dict[str, Any], cand: dict[str, str] | None) -> tuple[str, ...]:
    base = (str(c.get("suite", "")), str(c.get("metric", "")), *_gate_key(c))
    if cand is None:
        return base
    label = str(c.get("candidate", ""))
    return (*base, cand.get(label, f"label:{label}"))


def compare_runs(old: dict[str, Any], new: dict[str, Any]) -> RunComparison:
    """Match ``old`` and ``new`` comparisons and collect what changed (worst news first)."""
    check_results(old, "old results")
    check_results(new, "new results")
    old_cmp = [c for c in old.get("comparisons") or [] if isinstance(c, dict)]
    new_cmp = [c for c in new.get("comparisons") or [] if isinstance(c, dict)]
    old_keys, new_keys = candidate_keys(old), candidate_keys(new)
    keyed: tuple[dict[str, str] | None, dict[str, str] | None] = (old_keys, new_keys)
    if not {_key(c, old_keys) for c in old_cmp} & {_key(c, new_keys) for c in new_cmp}:
        # Two single-adapter runs of different adapters still line up by suite+metric+gate.
        single = len({c.get("candidate") for c in old_cmp}) <= 1 and len({c.get("candidate") for c in new_cmp}) <= 1
        if single:
            keyed = (None, None)
    old_by = {_key(c, keyed[0]): c for c in old_cmp}
    new_by = {_key(c, keyed[1]): c for c in new_cmp}
    changes = []
    for key in dict.fromkeys([*old_by, *new_by]):
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
    warnings, notes = _warnings(old, new)
    return RunComparison(
        old_status=_status(old),
        new_status=_status(new),
        old_name=_run_name(old, "old"),
        new_name=_run_name(new, "new"),
        changes=tuple(changes),
        warnings=tuple(warnings),
        notes=tuple(notes),
    )


_ARROWS = {"worse": "⬇ worse", "better": "⬆ better", "same": "", "added": "new", "removed": "removed"}


def _verdicts(ch: ComparisonChange) -> tuple[str, str]:
    return str(ch.value("old", "verdict") or DASH), str(ch.value("new", "verdict") or DASH)


def _gate(ch: ComparisonChange) -> str:
    return gate_text(ch.new or ch.old or {})


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
        lines.append(
            f"| {md_name(ch.suite, in_table=True)} | {md_name(ch.metric, in_table=True)} | "
            f"{md_name(_gate(ch), in_table=True)} | {md_name(ch.candidate or DASH, in_table=True)} | "
            f"{num(ch.value('old', 'candidate_mean'))} | {num(ch.value('new', 'candidate_mean'))} | "
            f"{signed(ch.value('old', 'delta'))} | {signed(ch.value('new', 'delta'))} | {signed(ch.delta_change)} | "
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
        rows.append(
            h(
                "tr",
                h("td", ch.suite),
                h("td", h("code", ch.metric)),
                h("td", _gate(ch)),
                h("td", ch.candidate or DASH),
                h("td", num(ch.value("old", "candidate_mean")), class_="num"),
                h("td", num(ch.value("new", "candidate_mean")), class_="num"),
                h("td", signed(ch.value("old", "delta")), class_="num"),
                h("td", signed(ch.value("new", "delta")), class_="num"),
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

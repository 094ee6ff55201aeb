"""The report's leakage section, written for a release manager.

results.json's ``leakage`` holds, per checked candidate (``candidates``), the leakage check as
``LeakageSection.to_dict()`` writes it (and, at the top, a copy of the failing or last one, for
readers of one candidate). This section shows each candidate once:

1. the verdict and its reason in one line;
2. the counts: eval items checked and flagged, per suite and kind of evidence;
3. the flagged items, each with the training line it matched (``path:line``) and what matched;
4. the memorisation probe's result: how many flagged training examples the candidate reproduced;
5. the check's settings and training files, collapsed in a ``<details>`` block.

Every value goes through the markup boundary (``h``/``esc``); nothing is shown as a Python or
JSON literal. Unknown or malformed fields are left out, never a reason to fail the report.
"""

from __future__ import annotations

from tunegate.harness.record import LeakageCheck, LeakageRecord
from tunegate.reports.format import DASH, STATUS_COLOURS, as_float, num, pct
from tunegate.reports.markup import Html, frag, h
from tunegate.reports.sections import data_table, kv_table

FLAG_TEXT = {
    "exact": "exact duplicate",
    "near_duplicate": "near duplicate",
    "ngram": "shared 13-gram",
    "paraphrase": "paraphrase",
}
"""Kinds of evidence, strongest first, as the section names them (``clean`` is not shown)."""
MAX_ITEMS = 200
"""Flagged items listed per candidate (the rest are counted)."""
EXCERPT = 160


def _text(value: object) -> str:
    """A scalar as plain words; a list as a comma-separated list; anything else as a dash."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        x = as_float(value)
        return DASH if x is None else (str(value) if isinstance(value, int) else num(x))
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value) or DASH
    return DASH


def _short(text: object, limit: int = EXCERPT) -> str:
    s = text if isinstance(text, str) else ""
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _verdict(data: LeakageCheck) -> Html:
    status = data.status
    if status is None:
        status = "pass" if data.passed is True else "fail" if data.passed is False else ""
    text = status.upper() or "NOT RUN"
    colour = STATUS_COLOURS.get(text, "#6e7781")
    return h("p", h("span", text, class_="badge", style=f"background:{colour}"), " ", data.reason or "", class_="leak-verdict")


def _counts(data: LeakageCheck) -> Html:
    n_items, docs = data.n_items, data.n_training_docs
    flagged = data.n_flagged if data.n_flagged is not None else len(data.items)
    lead = [
        f"{flagged} of {n_items} eval items" if n_items is not None else f"{flagged} eval item(s)",
        " share text with the training data",
        f" ({pct(flagged / n_items)})" if n_items else "",
        f", checked against {docs:,} training examples" if docs is not None else "",
        ".",
    ]
    out: list[Html] = [h("p", "".join(lead))]
    if data.suites:
        rows = [
            h(
                "tr",
                h("td", name),
                h("td", _text(info.n_items), class_="num"),
                h("td", _text(info.n_clean), class_="num"),
                *(h("td", _text(info.counts.get(k, 0)), class_="num") for k in FLAG_TEXT),
            )
            for name, info in data.suites.items()
        ]
        out.append(data_table(("suite", "items", "clean", *FLAG_TEXT.values()), rows))
    return frag(out)


def _flagged(data: LeakageCheck) -> Html:
    items = data.items
    if not items:
        return h("p", "No eval item was flagged.", class_="muted")
    rows = [
        h(
            "tr",
            h("td", it.suite),
            h("td", h("code", it.id)),
            h("td", FLAG_TEXT.get(it.flag, it.flag or DASH)),
            h("td", _text(it.matched) if it.matched else DASH),
            h("td", h("code", it.source) if it.source is not None else DASH),
            h("td", h("div", _short(it.excerpt) or it.reason or DASH, class_="cell-text")),
            h("td", num(it.score) if as_float(it.score) is not None else DASH, class_="num"),
        )
        for it in items[:MAX_ITEMS]
    ]
    more = len(items) - MAX_ITEMS
    return frag(
        h("h4", "Flagged items"),
        data_table(("suite", "item", "evidence", "matched", "training line", "shared text", "score"), rows),
        h("p", f"… and {more} more flagged item(s) in results.json.", class_="muted") if more > 0 else None,
    )


def _probe(data: LeakageCheck) -> Html:
    memo, note = data.memorisation, data.memorisation_note
    if memo is None:
        why = note.removeprefix("not run: ") if note else ""  # the record says "not run: <why>"
        return frag(h("h4", "Memorisation probe"), h("p", f"Not run{': ' + why if why else '.'}", class_="muted"))
    longest = as_float(memo.mean_longest_common_fraction)
    lead = (
        f"The candidate was given the start of {memo.n} flagged training example(s) and reproduced "
        f"{memo.memorised} of them"
        + (f" (on average {pct(longest)} of each target in one verbatim run)" if longest is not None else "")
        + "."
    )
    rows = [
        h(
            "tr",
            h("td", h("code", _text(r.source))),
            h("td", "yes" if r.memorised is True else "no"),
            h("td", pct(r.longest_common_fraction) if as_float(r.longest_common_fraction) is not None else DASH, class_="num"),
            h("td", h("div", _short(r.output), class_="cell-text")),
        )
        for r in memo.results[:MAX_ITEMS]
    ]
    return frag(
        h("h4", "Memorisation probe"),
        h("p", lead, h("br"), note or "", class_=None),
        data_table(("training line", "reproduced", "longest verbatim run", "the candidate's continuation"), rows) if rows else None,
    )


def _settings(data: LeakageCheck) -> Html:
    rows: list[tuple[str, object]] = [(str(k).replace("_", " "), _text(v)) for k, v in data.config.items()]
    if data.elapsed_s is not None:
        rows.append(("time taken", f"{data.elapsed_s:.1f} s"))
    file_rows = [
        h(
            "tr",
            h("td", h("code", _text(f.path))),
            h("td", _text(f.lines), class_="num"),
            h("td", _text(f.docs), class_="num"),
            h("td", _text(f.bad_lines), class_="num"),
        )
        for f in data.training_files
    ]
    return h(
        "details",
        h("summary", "Check settings and training files"),
        kv_table(rows) if rows else None,
        data_table(("training file", "lines", "examples", "unreadable lines"), file_rows) if file_rows else None,
        h("ul", *(h("li", p) for p in data.problems)) if data.problems else None,
        class_="block",
    )


def _candidate(data: LeakageCheck) -> Html:
    return frag(_verdict(data), _counts(data), _flagged(data), _probe(data), _settings(data))


def leakage_section(leakage: LeakageRecord | None) -> Html:
    intro = h(
        "p",
        "Eval items whose text is also in the adapter's training data (exact duplicates, near duplicates, "
        "shared 13-grams). A leaked item measures memory, not skill.",
        class_="lead",
    )
    if leakage is None:
        return frag(intro, h("p", "No leakage check ran in this run (no training data was given).", class_="muted"))
    candidates = leakage.candidates
    if len(candidates) == 1:
        return frag(intro, _candidate(next(iter(candidates.values()))))
    if candidates:
        return frag(intro, *(frag(h("h3", f"Candidate {label}"), _candidate(data)) for label, data in candidates.items()))
    return frag(intro, _candidate(leakage))

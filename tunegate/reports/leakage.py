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

from typing import Any

from tunegate.reports.format import DASH, STATUS_COLOURS, as_float, num, obj, pct
from tunegate.reports.markup import Html, frag, h

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


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


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


def _table(head: tuple[str, ...], rows: list[Html], class_: str = "data") -> Html:
    return h(
        "div",
        h("table", h("thead", h("tr", *(h("th", c) for c in head))), h("tbody", rows), class_=class_),
        class_="table-wrap",
    )


def _verdict(data: dict[str, Any]) -> Html:
    status = data.get("status")
    if not isinstance(status, str):
        passed = data.get("passed")
        status = "pass" if passed is True else "fail" if passed is False else ""
    text = status.upper() or "NOT RUN"
    colour = STATUS_COLOURS.get(text, "#6e7781")
    reason = data.get("reason") if isinstance(data.get("reason"), str) else None
    return h("p", h("span", text, class_="badge", style=f"background:{colour}"), " ", reason or "", class_="leak-verdict")


def _counts(data: dict[str, Any]) -> Html:
    n_items = _int(data.get("n_items"))
    flagged = _int(data.get("n_flagged"))
    if flagged is None:
        listed = data.get("items")
        flagged = len(listed) if isinstance(listed, list) else 0
    docs = _int(data.get("n_training_docs"))
    lead = [
        f"{flagged} of {n_items} eval items" if n_items is not None else f"{flagged} eval item(s)",
        " share text with the training data",
        f" ({pct(flagged / n_items)})" if n_items else "",
        f", checked against {docs:,} training examples" if docs is not None else "",
        ".",
    ]
    out: list[Html] = [h("p", "".join(lead))]
    suites = data.get("suites")
    if isinstance(suites, dict) and suites:
        rows = []
        for name, info in suites.items():
            info = obj(info)
            counts = obj(info.get("counts"))
            rows.append(
                h(
                    "tr",
                    h("td", str(name)),
                    h("td", _text(_int(info.get("n_items"))), class_="num"),
                    h("td", _text(_int(info.get("n_clean"))), class_="num"),
                    *(h("td", _text(_int(counts.get(k)) or 0), class_="num") for k in FLAG_TEXT),
                )
            )
        out.append(_table(("suite", "items", "clean", *FLAG_TEXT.values()), rows))
    return frag(out)


def _flagged(data: dict[str, Any]) -> Html:
    items = [obj(it) for it in data.get("items") or [] if isinstance(it, dict)] if isinstance(data.get("items"), list) else []
    if not items:
        return h("p", "No eval item was flagged.", class_="muted")
    rows = []
    for it in items[:MAX_ITEMS]:
        flag = it.get("flag")
        matched = it.get("matched")
        score = as_float(it.get("score"))
        rows.append(
            h(
                "tr",
                h("td", _text(it.get("suite"))),
                h("td", h("code", _text(it.get("id")))),
                h("td", FLAG_TEXT.get(flag, _text(flag)) if isinstance(flag, str) else DASH),
                h("td", _text(matched) if isinstance(matched, list) and matched else DASH),
                h("td", h("code", it["source"]) if isinstance(it.get("source"), str) else DASH),
                h("td", h("div", _short(it.get("excerpt")) or _text(it.get("reason")), class_="cell-text")),
                h("td", num(score) if score is not None else DASH, class_="num"),
            )
        )
    more = len(items) - MAX_ITEMS
    return frag(
        h("h4", "Flagged items"),
        _table(("suite", "item", "evidence", "matched", "training line", "shared text", "score"), rows),
        h("p", f"… and {more} more flagged item(s) in results.json.", class_="muted") if more > 0 else None,
    )


def _probe(data: dict[str, Any]) -> Html:
    memo = data.get("memorisation")
    note = data.get("memorisation_note") if isinstance(data.get("memorisation_note"), str) else None
    if not isinstance(memo, dict):
        return frag(h("h4", "Memorisation probe"), h("p", f"Not run{': ' + note if note else '.'}", class_="muted"))
    n, memorised = _int(memo.get("n")), _int(memo.get("memorised"))
    longest = as_float(memo.get("mean_longest_common_fraction"))
    lead = (
        f"The candidate was given the start of {n} flagged training example(s) and reproduced "
        f"{memorised} of them" + (f" (on average {pct(longest)} of each target in one verbatim run)" if longest is not None else "")
        + "."
    )
    rows = []
    results = memo.get("results")
    for r in (results if isinstance(results, list) else [])[:MAX_ITEMS]:
        r = obj(r)
        frac = as_float(r.get("longest_common_fraction"))
        rows.append(
            h(
                "tr",
                h("td", h("code", _text(r.get("source")))),
                h("td", "yes" if r.get("memorised") is True else "no"),
                h("td", pct(frac) if frac is not None else DASH, class_="num"),
                h("td", h("div", _short(r.get("output")), class_="cell-text")),
            )
        )
    return frag(
        h("h4", "Memorisation probe"),
        h("p", lead, h("br"), note or "", class_=None),
        _table(("training line", "reproduced", "longest verbatim run", "the candidate's continuation"), rows) if rows else None,
    )


def _settings(data: dict[str, Any]) -> Html:
    config = obj(data.get("config"))
    files = [obj(f) for f in data.get("training_files") or [] if isinstance(f, dict)] if isinstance(data.get("training_files"), list) else []
    problems = [p for p in data.get("problems") or [] if isinstance(p, str)] if isinstance(data.get("problems"), list) else []
    rows = [h("tr", h("th", str(k).replace("_", " ")), h("td", _text(v))) for k, v in config.items()]
    elapsed = as_float(data.get("elapsed_s"))
    if elapsed is not None:
        rows.append(h("tr", h("th", "time taken"), h("td", f"{elapsed:.1f} s")))
    file_rows = [
        h(
            "tr",
            h("td", h("code", _text(f.get("path")))),
            h("td", _text(_int(f.get("lines"))), class_="num"),
            h("td", _text(_int(f.get("docs"))), class_="num"),
            h("td", _text(_int(f.get("bad_lines"))), class_="num"),
        )
        for f in files
    ]
    return h(
        "details",
        h("summary", "Check settings and training files"),
        h("table", h("tbody", rows), class_="kv") if rows else None,
        _table(("training file", "lines", "examples", "unreadable lines"), file_rows) if file_rows else None,
        h("ul", *(h("li", p) for p in problems)) if problems else None,
        class_="block",
    )


def _candidate(data: dict[str, Any]) -> Html:
    return frag(_verdict(data), _counts(data), _flagged(data), _probe(data), _settings(data))


def leakage_section(leakage: object) -> Html:
    intro = h(
        "p",
        "Eval items whose text is also in the adapter's training data (exact duplicates, near duplicates, "
        "shared 13-grams). A leaked item measures memory, not skill.",
        class_="lead",
    )
    if not isinstance(leakage, dict) or not leakage:
        return frag(intro, h("p", "No leakage check ran in this run (no training data was given).", class_="muted"))
    candidates = leakage.get("candidates")
    if isinstance(candidates, dict) and candidates and all(isinstance(v, dict) for v in candidates.values()):
        if len(candidates) == 1:
            return frag(intro, _candidate(next(iter(candidates.values()))))
        return frag(intro, *(frag(h("h3", f"Candidate {label}"), _candidate(data)) for label, data in candidates.items()))
    return frag(intro, _candidate(leakage))

"""The item-level data the HTML page renders client-side: items, their scores, flip lists.

Thousands of items cannot be server-rendered into one page and stay fast, so they travel as JSON
in a ``<script type="application/json">`` block and the page's script paginates them (and
word-diffs the outputs of the flips it shows). The JSON is escaped (``<``, ``>``, ``&``,
U+2028/2029 as ``\\uXXXX``) so no model output can close the block.

Layout (compact, because it is repeated per item)::

    {"pageSize": 50, "flipPageSize": 10, "labels": ["base", "candidate"],
     "messages": [[role, content], ...],            # each distinct prompt message once
     "suites": [{"name", "metrics": [...], "items": [
         {"i": id, "p": [message indexes], "r": reference, "t": "k=v\\nk=v",
          "o": [output per label], "s": [[score per label] per metric], "w": 0|1,
          "j": [[judge rationale per label] per metric]  (only when the item has rationales)}]}],
     "flips": [{"cmp": comparison index, "suite": suite index, "labels": [label indexes],
                "base_only": [ids], "candidate_only": [ids]}]}

A flip block is about its comparison's pair: ``labels[0]`` and ``base_only`` are the base's, or the
reference's in a comparison against the reference in production.
"""

from __future__ import annotations

import json
from typing import Any

from tunegate.harness.record import ItemRecord, RunRecord
from tunegate.reports.format import as_float, clean_text, pretty_json

MAX_TEXT = 20_000
"""Characters kept per embedded text field; a runaway generation must not make the page unusable."""


def script_json(obj: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">`` (and valid JSON).

    ``obj`` must already be clean (see ``page_data``): a NaN or a lone surrogate raises here
    rather than producing a page whose ``JSON.parse`` fails.
    """
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def clip(text: str) -> str:
    if len(text) <= MAX_TEXT:
        return text
    return f"{text[:MAX_TEXT]}… [{len(text) - MAX_TEXT:,} more characters not shown]"


def _text(value: object) -> str:
    return "" if value is None else clip(clean_text(pretty_json(value)))


def model_labels(record: RunRecord) -> list[str]:
    """[base label, candidate labels..., reference label] as the items' ``outputs`` and ``scores``
    key them (the reference in production last, when the run has one)."""
    cands = [c.label for c in record.models.candidates] or ["candidate"]
    reference = record.reference_label
    return [record.models.base.label, *cands, *([reference] if reference and reference not in cands else [])]


class _Messages:
    """Interns prompt messages: a system prompt or few-shot block shared by 10k items is sent once."""

    def __init__(self) -> None:
        self.table: list[list[str]] = []
        self._index: dict[tuple[str, str], int] = {}

    def add(self, messages: list[dict[str, Any]]) -> list[int]:
        out = []
        for m in messages:
            content = m.get("content")
            key = (str(m.get("role", "?")), content if isinstance(content, str) else pretty_json(content))
            k = self._index.get(key)
            if k is None:
                k = self._index[key] = len(self.table)
                self.table.append([clean_text(key[0]), clip(clean_text(key[1]))])
            out.append(k)
        return out


def _suite_payload(name: str, items: list[ItemRecord], labels: list[str], messages: _Messages) -> dict[str, Any]:
    names = list(dict.fromkeys(m for it in items for m in it.scores))
    rows = []
    for it in items:
        table = []
        worse = False
        for metric in names:
            by_label = it.scores.get(metric)
            values = [as_float(by_label.get(lb)) for lb in labels] if by_label is not None else []
            base = values[0] if values else None
            if base is not None and any(v is not None and v < base for v in values[1:]):
                worse = True
            table.append(values)
        row = {
            "i": clean_text(it.id),
            "p": messages.add(it.messages),
            "r": _text(it.reference),
            "t": clean_text("\n".join(f"{k}={v}" for k, v in it.tags.items())),
            "o": [_text(it.outputs.get(label)) for label in labels],
            "s": table,
            "w": int(worse),
        }
        rationales = _rationales(it.rationales or {}, names, labels)
        if rationales:
            row["j"] = rationales
        rows.append(row)
    return {"name": clean_text(name), "metrics": [clean_text(m) for m in names], "items": rows}


def _rationales(value: dict[str, dict[str, str | None]], metrics: list[str], labels: list[str]) -> list[list[str]]:
    """``item.rationales`` ({metric: {label: text}}) as [[text per label] per metric], or []."""
    table = []
    for metric in metrics:
        by_label = value.get(metric)
        table.append([_text(by_label.get(lb)) for lb in labels] if by_label is not None else [])
    return table if any(any(t) for t in table) else []


def flip_blocks(record: RunRecord, labels: list[str], suite_names: list[str]) -> list[dict[str, Any]]:
    """One block per comparison that has flips, in the order of the record's comparisons."""
    blocks = []
    for k, comparison in enumerate(record.comparisons):
        flips = comparison.flips
        if flips is None or not (flips.base_only or flips.candidate_only):
            continue
        suite, cand = comparison.suite, comparison.candidate
        other = comparison.reference if comparison.against == "reference" and comparison.reference else labels[0]
        blocks.append(
            {
                "cmp": k,
                "suite": suite_names.index(suite) if suite in suite_names else -1,
                "labels": [labels.index(other) if other in labels else -1, labels.index(cand) if cand in labels else -1],
                "names": [clean_text(other), clean_text(cand)],
                "base_only": [clean_text(i) for i in flips.base_only],
                "candidate_only": [clean_text(i) for i in flips.candidate_only],
            }
        )
    return blocks


def page_data(record: RunRecord, *, page_size: int = 50, flip_page_size: int = 10) -> dict[str, Any]:
    """Everything the page's script needs; strings are cleaned, floats finite or null."""
    labels = model_labels(record)
    messages = _Messages()
    suite_names = list(record.items)
    suites = [_suite_payload(name, record.items[name], labels, messages) for name in suite_names]
    return {
        "pageSize": page_size,
        "flipPageSize": flip_page_size,
        "labels": [clean_text(label) for label in labels],
        "messages": messages.table,
        "suites": suites,
        "flips": flip_blocks(record, labels, suite_names),
    }

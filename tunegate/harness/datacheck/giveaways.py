"""Giveaway patterns in training answers: what a model memorises instead of learning the task.

Free text (the whole answer, or each long string field of JSON answers) is checked for
uniform length (coefficient of variation below ``MAX_LENGTH_CV``), uniform line count (one count
in >= ``UNIFORM_SHARE`` of answers) and a shared opening (the same first words in >=
``OPENING_SHARE``). JSON answers are checked for one key set everywhere (info: expected when
the schema is the task) and label-like fields (and ``tags``) for imbalance. Each finding carries
the numbers and example locations.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

from tunegate.harness.datacheck.findings import Finding, info, warning
from tunegate.harness.datacheck.schema import Record
from tunegate.harness.leakage import normalize

MIN_ANSWERS = 20
"""Below this many answers the statistics say nothing; the size check already complains."""
MAX_LENGTH_CV = 0.15
"""Answer lengths with a coefficient of variation (sd / mean) below this are suspiciously uniform."""
UNIFORM_SHARE = 0.95
"""One line count (or one JSON key set) in at least this share of answers is uniform structure."""
OPENING_WORDS = 3
OPENING_SHARE = 0.5
"""The same first ``OPENING_WORDS`` words in at least this share of answers is a giveaway."""
MAX_LABELS = 20
"""A field with at most this many distinct short values is label-like."""
IMBALANCE_RATIO = 10.0
"""Largest class at least this many times the smallest is imbalanced."""
MAJORITY_SHARE = 0.8
"""One class holding at least this share is imbalanced (a model can score by always saying it)."""
SHOWN = 3


def _json_object(text: str) -> dict[str, Any] | None:
    s = text.strip()
    if not s.startswith("{"):
        return None
    try:
        obj = json.loads(s)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def _free_text_fields(
    records: Sequence[Record], objs: list[dict[str, Any] | None]
) -> list[tuple[str, list[tuple[Record, str]]]]:
    """(name, [(record, text)]) for the whole answer or, for JSON answers, each long string field."""
    if sum(o is not None for o in objs) < 0.8 * len(records):
        return [("answer", [(r, r.answer) for r in records])]
    keys = Counter(k for o in objs if o for k, v in o.items() if isinstance(v, str))
    out = []
    for key, _ in keys.most_common():
        vals = [(r, o[key]) for r, o in zip(records, objs, strict=True) if o and isinstance(o.get(key), str)]
        distinct = len({v for _, v in vals})
        if statistics.fmean(len(v) for _, v in vals) >= 40 and distinct >= 0.5 * len(vals):
            out.append((f"answer.{key}", vals))
    return out


def _examples(pairs: Sequence[tuple[Record, str]]) -> tuple[str, ...]:
    return tuple(r.location for r, _ in pairs[:SHOWN])


def _length(name: str, vals: list[tuple[Record, str]]) -> list[Finding]:
    lengths = [len(v) for _, v in vals]
    mean = statistics.fmean(lengths)
    if mean == 0:
        return []
    cv = statistics.pstdev(lengths) / mean
    if cv >= MAX_LENGTH_CV:
        return []
    by_len = sorted(vals, key=lambda p: len(p[1]))
    return [
        warning(
            "giveaways",
            "uniform_length",
            f"{name}: lengths are nearly uniform (mean {mean:.0f} chars, sd {statistics.pstdev(lengths):.1f}, "
            f"CV {cv:.3f} < {MAX_LENGTH_CV}, range {min(lengths)}-{max(lengths)}) over {len(vals)} answers; "
            f"a model learns the length, not the task (shortest {by_len[0][0].location}, longest {by_len[-1][0].location})",
            by_len[0][0].location,
            by_len[-1][0].location,
            field=name,
            mean=round(mean, 2),
            cv=round(cv, 4),
            min=min(lengths),
            max=max(lengths),
        )
    ]


def _lines(name: str, vals: list[tuple[Record, str]]) -> list[Finding]:
    counts = Counter(v.strip().count("\n") + 1 for _, v in vals)
    lines, n = counts.most_common(1)[0]
    share = n / len(vals)
    if lines < 2 or share < UNIFORM_SHARE:
        return []
    same = [p for p in vals if p[1].strip().count("\n") + 1 == lines]
    return [
        warning(
            "giveaways",
            "uniform_structure",
            f"{name}: {n} of {len(vals)} answers ({share:.0%}) have exactly {lines} lines; fine if the format is "
            f"the task, a memorised template if not (e.g. {', '.join(_examples(same))})",
            *_examples(same),
            field=name,
            lines=lines,
            share=round(share, 4),
        )
    ]


def _opening(name: str, vals: list[tuple[Record, str]]) -> list[Finding]:
    starts = [(" ".join(normalize(v).split()[:OPENING_WORDS]), r, v) for r, v in vals]
    counts = Counter(s for s, _, _ in starts if s)
    if not counts:
        return []
    opening, n = counts.most_common(1)[0]
    share = n / len(vals)
    if share < OPENING_SHARE:
        return []
    same = [(r, v) for s, r, v in starts if s == opening]
    return [
        warning(
            "giveaways",
            "same_opening",
            f'{name}: {n} of {len(vals)} answers ({share:.0%}) open with the same {OPENING_WORDS} words "{opening}" '
            f"(e.g. {', '.join(_examples(same))})",
            *_examples(same),
            field=name,
            opening=opening,
            share=round(share, 4),
        )
    ]


def _labels(name: str, vals: list[tuple[Record, str]]) -> list[Finding]:
    counts = Counter(v for _, v in vals)
    if len(counts) > MAX_LABELS or len(counts) > max(2, len(vals) // 5):
        return []
    if statistics.fmean(len(v) for _, v in vals) > 32:
        return []
    (top, n_top), (low, n_low) = counts.most_common()[0], counts.most_common()[-1]
    share = n_top / len(vals)
    ratio = n_top / n_low
    dist = dict(counts.most_common())
    if len(counts) == 1:
        msg = (
            f'{name}: every one of {len(vals)} answers is "{top}"; there is nothing to learn but the constant'
        )
    elif ratio >= IMBALANCE_RATIO or share >= MAJORITY_SHARE:
        msg = (
            f'{name}: labels are imbalanced: "{top}" {n_top} ({share:.0%}) vs "{low}" {n_low} '
            f'(ratio {ratio:.1f}); always answering "{top}" scores {share:.0%}; distribution {dist}'
        )
    else:
        return []
    rare = [p for p in vals if p[1] == low]
    return [
        warning(
            "giveaways",
            "label_imbalance",
            msg,
            *_examples(rare),
            field=name,
            distribution=dist,
            ratio=round(ratio, 3),
            majority_share=round(share, 4),
        )
    ]


def check_giveaways(records: Sequence[Record]) -> list[Finding]:
    recs = [r for r in records if r.answer]
    if len(recs) < MIN_ANSWERS:
        return []
    out: list[Finding] = []
    objs = [_json_object(r.answer) for r in recs]
    for name, vals in _free_text_fields(recs, objs):
        out += _length(name, vals) + _lines(name, vals) + _opening(name, vals)
    json_objs = [(r, o) for r, o in zip(recs, objs, strict=True) if o is not None]
    if len(json_objs) >= 0.8 * len(recs):
        keysets = Counter(tuple(sorted(o)) for _, o in json_objs)
        keys, n = keysets.most_common(1)[0]
        if n / len(json_objs) >= UNIFORM_SHARE:
            out.append(
                info(
                    "giveaways",
                    "same_json_keys",
                    f"{n} of {len(json_objs)} JSON answers ({n / len(json_objs):.0%}) have the key set {list(keys)}: "
                    "expected when this schema is the output format being taught",
                    keys=list(keys),
                    share=round(n / len(json_objs), 4),
                )
            )
        fields = Counter(k for _, o in json_objs for k, v in o.items() if isinstance(v, (str, bool, int)))
        for key, count in fields.items():
            if count < 0.8 * len(json_objs):
                continue
            vals = [(r, str(o[key])) for r, o in json_objs if isinstance(o.get(key), (str, bool, int))]
            out += _labels(f"answer.{key}", vals)
    tag_keys = Counter(k for r in recs for k in r.tags)
    for key, count in sorted(tag_keys.items()):
        if count >= 0.8 * len(recs):
            out += _labels(f"tags.{key}", [(r, r.tags[key]) for r in recs if key in r.tags])
    return out

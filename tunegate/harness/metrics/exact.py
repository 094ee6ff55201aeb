"""Exact match, on the whole output or on one field of the output's JSON object.

``exact_match()`` compares the normalised output with the normalised reference (a list
reference holds acceptable alternatives: any one matching scores 1).

``exact_match(field="category")`` reads the output's JSON object with the tolerant rule of
:mod:`tunegate.harness.metrics._json` (a Markdown fence and surrounding prose are fine) and compares
``output["category"]`` with ``reference["category"]``; the reference may be a JSON object or a
string holding one. Strings anywhere in the two values are normalised; other JSON values must be
equal as JSON (``1 == 1.0``; ``true != 1``). With ``normalize_numbers`` a number and a string
that spell the same number match (``1000`` and ``"1,000"``). An output without a JSON object, or
without the field, scores 0 -- never NaN.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from tunegate.harness.data import EvalItem
from tunegate.harness.metrics._common import (
    as_metric,
    binary_scores,
    check_lengths,
    reference_texts,
    reference_values,
    scored_name,
)
from tunegate.harness.metrics._json import extract_json_object, get_field, is_missing, json_equal
from tunegate.harness.metrics._normalize import Normalization
from tunegate.harness.metrics.base import Kind, Metric, MetricScores, register_metric


def _canonical(value: Any, norm: Normalization) -> Any:
    """A JSON value with its strings normalised (and numbers spelled as text if asked)."""
    if isinstance(value, str):
        return norm(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and norm.normalize_numbers:
        return norm(json.dumps(value))
    if isinstance(value, list):
        return [_canonical(v, norm) for v in value]
    if isinstance(value, dict):
        return {k: _canonical(v, norm) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class ExactMatch:
    """1 when the (normalised) output equals the (normalised) reference, else 0."""

    field: str | None = None
    normalization: Normalization = Normalization()
    name: str = ""
    kind: ClassVar[Kind] = "binary"
    higher_is_better: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", scored_name("exact_match", self.field))

    def score(self, items: Sequence[EvalItem], outputs: Sequence[str]) -> MetricScores:
        check_lengths(self.name, items, outputs)
        if self.field is None:
            return self._score_text(items, outputs)
        return self._score_field(items, outputs, self.field)

    def _score_text(self, items: Sequence[EvalItem], outputs: Sequence[str]) -> MetricScores:
        norm = self.normalization
        refs = reference_texts(self.name, items)
        hits = [norm(out) in {norm(r) for r in alts} for out, alts in zip(outputs, refs, strict=True)]
        return MetricScores(values=binary_scores(hits))

    def _score_field(self, items: Sequence[EvalItem], outputs: Sequence[str], field: str) -> MetricScores:
        norm = self.normalization
        refs = reference_values(self.name, items, field)
        hits: list[bool] = []
        reasons: list[str | None] = []
        for out, ref in zip(outputs, refs, strict=True):
            obj = extract_json_object(out)
            value = get_field(obj, field)
            if obj is None:
                reasons.append("no JSON object in the output")
            elif is_missing(value):
                reasons.append(f"no {field!r} in the output's JSON object")
            else:
                reasons.append(None)
            hits.append(not is_missing(value) and json_equal(_canonical(value, norm), _canonical(ref, norm)))
        return MetricScores(values=binary_scores(hits), extra={"reasons": reasons})

    def describe(self) -> dict[str, Any]:
        return {"metric": "exact_match", "field": self.field, **self.normalization.describe()}


@register_metric("exact_match")
def exact_match(
    field: str | None = None,
    *,
    ignore_case: bool = False,
    normalize_numbers: bool = False,
    ignore_punctuation: bool = False,
    ignore_articles: bool = False,
    normalize_whitespace: bool = True,
) -> Metric:
    """Exact match of the output (or of one JSON field of it) with the reference.

    Normalisation is documented in :mod:`tunegate.harness.metrics._normalize`; only surrounding and
    repeated whitespace is normalised by default.

    >>> exact_match(field="category", ignore_case=True).name
    'exact_match[category]'
    """
    norm = Normalization(
        ignore_case=ignore_case,
        normalize_numbers=normalize_numbers,
        ignore_punctuation=ignore_punctuation,
        ignore_articles=ignore_articles,
        normalize_whitespace=normalize_whitespace,
    )
    return as_metric(ExactMatch(field=field, normalization=norm))


__all__ = ["ExactMatch", "exact_match"]

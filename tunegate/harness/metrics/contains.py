"""Substring and regular-expression checks on the output (binary).

``contains()`` scores 1 when the normalised reference occurs in the normalised output (a list
reference holds alternatives: any one occurring scores 1); ``contains("refund")`` looks for a fixed
text instead and needs no reference. ``regex(pattern)`` scores 1 when the pattern matches the
output with surrounding whitespace stripped (``re.search``; ``fullmatch=True`` for the whole
text). Both accept ``field=`` to look inside one field of the output's JSON object (the tolerant
rule of :mod:`tunegate.harness.metrics._json`); an output without it scores 0.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from tunegate.harness.data import EvalItem
from tunegate.harness.errors import ConfigError
from tunegate.harness.metrics._common import (
    as_metric,
    binary_scores,
    check_lengths,
    output_texts,
    reference_texts,
    scored_name,
)
from tunegate.harness.metrics._normalize import Normalization
from tunegate.harness.metrics.base import Kind, Metric, MetricScores, register_metric


@dataclass(frozen=True)
class Contains:
    """1 when the output contains the reference (or a fixed ``text``), after normalisation."""

    text: str | None = None
    field: str | None = None
    normalization: Normalization = Normalization()
    word_boundary: bool = False
    name: str = ""
    kind: ClassVar[Kind] = "binary"
    higher_is_better: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if self.text is not None and not self.normalization(self.text):
            raise ConfigError(
                f"contains(text={self.text!r}) is empty after normalisation; pass a non-empty text"
            )
        if not self.name:
            object.__setattr__(self, "name", scored_name("contains", self.field))

    def _found(self, needle: str, haystack: str) -> bool:
        needle, haystack = self.normalization(needle), self.normalization(haystack)
        if not needle:
            return False
        if not self.word_boundary:
            return needle in haystack
        return re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", haystack) is not None

    def score(self, items: Sequence[EvalItem], outputs: Sequence[str]) -> MetricScores:
        check_lengths(self.name, items, outputs)
        texts = output_texts(outputs, self.field)
        if self.text is not None:
            needles = [[self.text]] * len(items)
        else:
            needles = reference_texts(self.name, items, self.field)
        hits = [any(self._found(n, t) for n in alts) for t, alts in zip(texts, needles, strict=True)]
        return MetricScores(values=binary_scores(hits))

    def describe(self) -> dict[str, Any]:
        return {
            "metric": "contains",
            "text": self.text,
            "field": self.field,
            "word_boundary": self.word_boundary,
            **self.normalization.describe(),
        }


@dataclass(frozen=True)
class RegexMatch:
    """1 when ``pattern`` matches the output (stripped of surrounding whitespace)."""

    pattern: str
    field: str | None = None
    ignore_case: bool = False
    fullmatch: bool = False
    name: str = ""
    kind: ClassVar[Kind] = "binary"
    higher_is_better: ClassVar[bool] = True

    def __post_init__(self) -> None:
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise ConfigError(
                f"regex pattern {self.pattern!r} does not compile: {exc}; fix the pattern"
            ) from None
        if not self.name:
            object.__setattr__(self, "name", scored_name("regex", self.field))

    def score(self, items: Sequence[EvalItem], outputs: Sequence[str]) -> MetricScores:
        check_lengths(self.name, items, outputs)
        compiled = re.compile(self.pattern, re.IGNORECASE if self.ignore_case else 0)
        match = compiled.fullmatch if self.fullmatch else compiled.search
        hits = [match(t.strip()) is not None for t in output_texts(outputs, self.field)]
        return MetricScores(values=binary_scores(hits))

    def describe(self) -> dict[str, Any]:
        return {
            "metric": "regex",
            "pattern": self.pattern,
            "field": self.field,
            "ignore_case": self.ignore_case,
            "fullmatch": self.fullmatch,
        }


@register_metric("contains")
def contains(
    text: str | None = None,
    *,
    field: str | None = None,
    word_boundary: bool = False,
    ignore_case: bool = False,
    normalize_numbers: bool = False,
    ignore_punctuation: bool = False,
    ignore_articles: bool = False,
    normalize_whitespace: bool = True,
    name: str | None = None,
) -> Metric:
    """The output contains the reference, or ``text`` when given (binary).

    ``word_boundary=True`` requires the match not to sit inside a longer word ("no" is not found
    in "not"). Pass ``name`` to keep two differently configured checks apart in one run.
    """
    norm = Normalization(
        ignore_case=ignore_case,
        normalize_numbers=normalize_numbers,
        ignore_punctuation=ignore_punctuation,
        ignore_articles=ignore_articles,
        normalize_whitespace=normalize_whitespace,
    )
    return as_metric(
        Contains(text=text, field=field, normalization=norm, word_boundary=word_boundary, name=name or "")
    )


@register_metric("regex")
def regex(
    pattern: str,
    *,
    field: str | None = None,
    ignore_case: bool = False,
    fullmatch: bool = False,
    name: str | None = None,
) -> Metric:
    """The output matches a regular expression (binary); inline flags such as ``(?s)`` work.

    >>> regex(r"^Dear \\w+,", field="reply", name="greets_by_name").name
    'greets_by_name'
    """
    return as_metric(
        RegexMatch(
            pattern=pattern, field=field, ignore_case=ignore_case, fullmatch=fullmatch, name=name or ""
        )
    )

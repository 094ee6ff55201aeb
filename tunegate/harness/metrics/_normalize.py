"""Text normalisation for exact-match style metrics.

Every step is opt-in except whitespace, and the steps always run in this order:

1. ``ignore_case``: Unicode case folding (``str.casefold``), so "Straße" equals "STRASSE".
2. ``normalize_numbers``: each number is rewritten in one canonical form: thousands separators
   (``1,000``: groups of exactly three digits only, so a list like ``1,2,3`` is left alone), a
   leading ``+`` and leading zeros are dropped, trailing decimal zeros are dropped and ``-0`` is
   ``0``. "1,000.50" and "+1000.5" both become "1000.5". Number words ("three") are not converted.
3. ``ignore_punctuation``: every Unicode punctuation character and every ASCII symbol in
   ``string.punctuation`` is deleted (not replaced by a space: "don't" -> "dont", as SQuAD does),
   except a ``.`` or ``,`` between two digits, so "3.5" never becomes "35".
4. ``ignore_articles``: the English articles "a", "an", "the" are removed as whole words.
5. ``normalize_whitespace`` (on by default): leading and trailing whitespace is stripped and every
   inner run of whitespace becomes one space.

SQuAD-style answer normalisation is ``Normalization(ignore_case=True, ignore_punctuation=True,
ignore_articles=True)``.
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import asdict, dataclass
from typing import Any

_NUMBER_RE = re.compile(r"(?<![\w.])([+-]?)(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?![\w])")
_ARTICLES_RE = re.compile(r"\b(?:a|an|the)\b", re.IGNORECASE)
_ASCII_PUNCT = frozenset(string.punctuation)


def _is_punct(ch: str) -> bool:
    return ch in _ASCII_PUNCT or unicodedata.category(ch).startswith("P")


def _canonical_number(match: re.Match[str]) -> str:
    sign, integer, fraction = match.group(1), match.group(2), match.group(3) or ""
    integer = integer.replace(",", "").lstrip("0") or "0"
    fraction = fraction.rstrip("0")
    text = f"{integer}.{fraction}" if fraction else integer
    if sign == "-" and text != "0":
        return "-" + text
    return text


def _strip_punctuation(text: str) -> str:
    out: list[str] = []
    last = len(text) - 1
    for i, ch in enumerate(text):
        inside_number = ch in ".," and 0 < i < last and text[i - 1].isdigit() and text[i + 1].isdigit()
        if inside_number or not _is_punct(ch):
            out.append(ch)
    return "".join(out)


@dataclass(frozen=True)
class Normalization:
    """Which normalisation steps to apply before comparing two strings (see the module doc)."""

    ignore_case: bool = False
    normalize_numbers: bool = False
    ignore_punctuation: bool = False
    ignore_articles: bool = False
    normalize_whitespace: bool = True

    def __call__(self, text: str) -> str:
        if self.ignore_case:
            text = text.casefold()
        if self.normalize_numbers:
            text = _NUMBER_RE.sub(_canonical_number, text)
        if self.ignore_punctuation:
            text = _strip_punctuation(text)
        if self.ignore_articles:
            text = _ARTICLES_RE.sub(" ", text)
        if self.normalize_whitespace:
            text = " ".join(text.split())
        return text

    def describe(self) -> dict[str, Any]:
        return asdict(self)


def normalize_text(
    text: str,
    *,
    ignore_case: bool = False,
    normalize_numbers: bool = False,
    ignore_punctuation: bool = False,
    ignore_articles: bool = False,
    normalize_whitespace: bool = True,
) -> str:
    """Apply the chosen normalisation steps to ``text``.

    >>> normalize_text("  The Answer: 1,000.50! ", ignore_case=True, normalize_numbers=True,
    ...                ignore_punctuation=True, ignore_articles=True)
    'answer 1000.5'
    """
    return Normalization(
        ignore_case=ignore_case,
        normalize_numbers=normalize_numbers,
        ignore_punctuation=ignore_punctuation,
        ignore_articles=ignore_articles,
        normalize_whitespace=normalize_whitespace,
    )(text)

"""How an answer to a general-capability item is judged correct (standard library only).

- factual_qa, arithmetic, reading: the reference occurs in the output as a whole word
  (``answer_contained``), after case folding and deleting punctuation (a ``.`` or ``,`` between
  digits is kept). In harness terms: ``contains(word_boundary=True, ignore_case=True,
  ignore_punctuation=True)``. Small chat models answer in a sentence ("The capital of Japan is
  Tokyo."), so this is the primary rule; ``answer_matches`` is the strict variant (the whole
  output equals the reference, articles also removed: harness ``exact_match(ignore_case=True,
  ignore_punctuation=True, ignore_articles=True)``).
- instructions: the format check named by ``meta["check"]`` (see ``check_instruction``).

>>> is_correct({"tags": {"task": "factual_qa"}, "reference": "Tokyo"}, "The capital of Japan is Tokyo.")
True
"""

from __future__ import annotations

import json
import re
import string
import unicodedata
from collections.abc import Mapping
from typing import Any

CHECKS = (
    "all_caps", "lowercase", "word_count", "max_words", "json_key", "starts_with", "ends_with", "contains_word", "no_comma",
)  # fmt: skip

MIN_WORDS = 3  # for max_words and no_comma
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


def _is_punct(ch: str) -> bool:
    return ch in string.punctuation or unicodedata.category(ch).startswith("P")


def normalize_answer(text: str, *, articles: bool = True) -> str:
    """Case-folded, punctuation (and, by default, articles) removed, whitespace collapsed."""
    text = text.casefold()
    kept = [
        ch
        for i, ch in enumerate(text)
        if not _is_punct(ch)
        or (ch in ".," and 0 < i < len(text) - 1 and text[i - 1].isdigit() and text[i + 1].isdigit())
    ]
    out = "".join(kept)
    return " ".join((_ARTICLES.sub(" ", out) if articles else out).split())


def answer_matches(reference: str, output: str) -> bool:
    """Strict: the whole normalised output equals the normalised reference."""
    return normalize_answer(output) == normalize_answer(reference)


def answer_contained(reference: str, output: str) -> bool:
    """The normalised reference occurs in the normalised output, not inside a longer word."""
    needle = normalize_answer(reference, articles=False)
    hay = normalize_answer(output, articles=False)
    return bool(needle) and re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", hay) is not None


def words_of(text: str) -> list[str]:
    """Whitespace-separated tokens that hold at least one letter or digit."""
    return [w for w in text.split() if any(ch.isalnum() for ch in w)]


def check_instruction(meta: Mapping[str, Any], output: str) -> bool:
    """True when ``output`` follows the instruction described by ``meta``.

    ``all_caps`` (optional ``text``): has a letter, no lowercase letter (and holds ``text``).
    ``lowercase`` (optional ``text``): has a letter, no uppercase letter (and holds ``text``).
    ``word_count`` (``n``): exactly n words (``words_of``). ``max_words`` (``n``): 3 to n words.
    ``contains_word`` (``word``): the word occurs, not inside a longer word, case-insensitive.
    ``no_comma``: at least 3 words and no comma. The lower bounds keep a broken model that
    emits one token from passing a format check by accident. ``json_key``
    (``key``, optional ``value``): the output, without a Markdown code fence, is a JSON object
    holding ``key`` (with that string ``value``, compared case-insensitively, when given).
    ``starts_with`` (``prefix``): the stripped output starts with ``prefix`` (case-sensitive).
    ``ends_with`` (``suffix``): the stripped output, without final ``.!?`` characters, ends with
    ``suffix`` (case-insensitive).
    """
    check = meta.get("check")
    text = output.strip()
    letters = [ch for ch in text if ch.isalpha()]
    holds = str(meta.get("text", "")) in text
    if check == "all_caps":
        return bool(letters) and not any(ch.islower() for ch in letters) and holds
    if check == "lowercase":
        return bool(letters) and not any(ch.isupper() for ch in letters) and holds
    if check == "word_count":
        return len(words_of(text)) == int(meta["n"])
    if check == "max_words":
        return MIN_WORDS <= len(words_of(text)) <= int(meta["n"])
    if check == "contains_word":
        return (
            re.search(rf"(?<!\w){re.escape(str(meta['word']).casefold())}(?!\w)", text.casefold()) is not None
        )
    if check == "no_comma":
        return len(words_of(text)) >= MIN_WORDS and "," not in text and "，" not in text
    if check == "json_key":
        try:
            obj = json.loads(_FENCE.sub("", text))
        except json.JSONDecodeError:
            return False
        if not isinstance(obj, dict) or meta["key"] not in obj:
            return False
        want = meta.get("value")
        return want is None or str(obj[meta["key"]]).casefold() == str(want).casefold()
    if check == "starts_with":
        return text.startswith(str(meta["prefix"]))
    if check == "ends_with":
        return text.rstrip(".!?").casefold().endswith(str(meta["suffix"]).casefold())
    raise ValueError(f"unknown instruction check {check!r}; known: {list(CHECKS)}")


def is_correct(row: Mapping[str, Any], output: str, *, strict: bool = False) -> bool:
    """Whether ``output`` answers the suite line ``row`` correctly (by its task's rule)."""
    if row["tags"]["task"] == "instructions":
        return check_instruction(row["meta"], output)
    match = answer_matches if strict else answer_contained
    return match(str(row["reference"]), output)

from __future__ import annotations

import pytest

from tunegate.harness.metrics import Normalization, normalize_text


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        ("  Refund \n please\t", {}, "Refund please"),
        ("  Refund \n please\t", {"normalize_whitespace": False}, "  Refund \n please\t"),
        ("Straße", {"ignore_case": True}, "strasse"),
        ("don't stop!", {"ignore_punctuation": True}, "dont stop"),
        ("«Bonjour», dit-il.", {"ignore_punctuation": True}, "Bonjour ditil"),
        ("pi is 3.14, e is 2.72.", {"ignore_punctuation": True}, "pi is 3.14 e is 2.72"),
        ("The cat ate an apple", {"ignore_articles": True}, "cat ate apple"),
        ("Theory of a thing", {"ignore_articles": True}, "Theory of thing"),
        ("total: 1,000.50", {"normalize_numbers": True}, "total: 1000.5"),
        ("+007 and -0.0 and 2.000", {"normalize_numbers": True}, "7 and 0 and 2"),
        ("ids 1,2,3 stay", {"normalize_numbers": True}, "ids 1,2,3 stay"),
        ("pre-2020 and v1.2.3", {"normalize_numbers": True}, "pre-2020 and v1.2.3"),
        ("x = -05", {"normalize_numbers": True}, "x = -5"),
    ],
)
def test_each_step(text: str, options: dict[str, bool], expected: str) -> None:
    assert normalize_text(text, **options) == expected


def test_squad_style_normalisation_equates_typical_variants() -> None:
    squad = Normalization(
        ignore_case=True, ignore_punctuation=True, ignore_articles=True, normalize_numbers=True
    )
    assert squad("The answer is $1,000.") == squad("answer is $1000")
    assert squad("The answer is 3.5") != squad("answer is 35")


def test_numbers_are_normalised_before_punctuation_is_removed() -> None:
    both = Normalization(normalize_numbers=True, ignore_punctuation=True)
    assert both("1,000") == both("1000") == "1000"
    # Without number normalisation the grouping comma sits between digits and is kept.
    assert normalize_text("1,000", ignore_punctuation=True) == "1,000"


def test_describe_lists_every_flag() -> None:
    assert Normalization(ignore_case=True).describe() == {
        "ignore_case": True,
        "normalize_numbers": False,
        "ignore_punctuation": False,
        "ignore_articles": False,
        "normalize_whitespace": True,
    }

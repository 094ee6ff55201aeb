from __future__ import annotations

import numpy as np
import pytest

from tests.harness.metrics.conftest import MakeItems
from tunegate.harness.errors import ConfigError
from tunegate.harness.metrics import METRICS, exact_match


def test_default_only_trims_whitespace(make_items: MakeItems) -> None:
    items = make_items(["Paris", "Paris", "Paris"])
    scores = exact_match().score(items, ["  Paris\n", "paris", "Paris."])
    np.testing.assert_array_equal(scores.values, [1.0, 0.0, 0.0])
    assert scores.stats is None and scores.mean() == pytest.approx(1 / 3)


def test_normalisation_options_apply_to_both_sides(make_items: MakeItems) -> None:
    items = make_items(["The Eiffel Tower", "1,000 euros", "Paris"])
    metric = exact_match(
        ignore_case=True, ignore_punctuation=True, ignore_articles=True, normalize_numbers=True
    )
    scores = metric.score(items, ["eiffel tower!", "1000 Euros.", "London"])
    np.testing.assert_array_equal(scores.values, [1.0, 1.0, 0.0])
    assert metric.describe()["ignore_articles"] is True


def test_list_reference_accepts_any_alternative(make_items: MakeItems) -> None:
    items = make_items([["NYC", "New York City"], ["NYC", "New York City"]])
    np.testing.assert_array_equal(
        exact_match().score(items, ["New York City", "New York"]).values, [1.0, 0.0]
    )


def test_field_match_reads_json_output_and_object_or_string_reference(make_items: MakeItems) -> None:
    items = make_items(
        [
            {"category": "refund", "reply": "..."},
            '{"category": "billing"}',
            {"category": "refund"},
            {"category": "refund"},
            {"category": "refund"},
            {"category": "refund"},
        ]
    )
    outputs = [
        '```json\n{"category": "refund", "reply": "Sorry!"}\n```',
        'Here you go: {"category": "billing"} -- hope that helps',
        '{"category": "billing"}',
        '{"reply": "no category"}',
        "not json at all",
        '{"category": "refund", "reply": "cut off',
    ]
    metric = exact_match(field="category")
    assert metric.name == "exact_match[category]"
    scores = metric.score(make_items([it.reference for it in items]), outputs)
    np.testing.assert_array_equal(scores.values, [1, 1, 0, 0, 0, 0])
    assert not np.isnan(scores.values).any()
    assert scores.extra["reasons"][3] == "no 'category' in the output's JSON object"
    assert scores.extra["reasons"][4] == "no JSON object in the output"


def test_field_match_normalises_strings_and_can_equate_number_spellings(make_items: MakeItems) -> None:
    items = make_items([{"category": "Refund"}, {"amount": 1000}, {"amount": 1000}])
    assert (
        exact_match(field="category", ignore_case=True)
        .score(items[:1], ['{"category": "refund "}'])
        .values[0]
        == 1
    )
    loose = exact_match(field="amount", normalize_numbers=True).score(
        items[1:], ['{"amount": "1,000"}', '{"amount": 1000.0}']
    )
    np.testing.assert_array_equal(loose.values, [1, 1])
    strict = exact_match(field="amount").score(items[1:], ['{"amount": "1000"}', '{"amount": 1000.0}'])
    np.testing.assert_array_equal(strict.values, [0, 1])


def test_dotted_field_reaches_nested_values(make_items: MakeItems) -> None:
    items = make_items([{"ticket": {"priority": "high"}}])
    scores = exact_match(field="ticket.priority").score(items, ['{"ticket": {"priority": "high"}}'])
    assert scores.values[0] == 1


def test_missing_reference_is_a_config_error_naming_items(make_items: MakeItems) -> None:
    items = make_items(["a", None, None])
    with pytest.raises(
        ConfigError, match=r"cannot score 2 item\(s\): item 'it-001' \(line 2\) has no reference"
    ):
        exact_match().score(items, ["a", "b", "c"])


def test_reference_without_the_field_is_a_config_error(make_items: MakeItems) -> None:
    items = make_items([{"label": "x"}, "plain text"])
    with pytest.raises(ConfigError) as info:
        exact_match(field="category").score(items, ["{}", "{}"])
    message = str(info.value)
    assert "item 'it-000' (line 1) has no 'category' in its reference (keys: ['label'])" in message
    assert "item 'it-001' (line 2) has a reference that is not a JSON object" in message
    assert '"reference": {"category": ...}' in message


def test_object_reference_without_field_asks_for_field(make_items: MakeItems) -> None:
    with pytest.raises(ConfigError, match=r"pass field=\.\.\. to compare one of its fields"):
        exact_match().score(make_items([{"category": "x"}]), ['{"category": "x"}'])


def test_output_count_must_match_items(make_items: MakeItems) -> None:
    with pytest.raises(ConfigError, match="got 1 outputs for 2 items"):
        exact_match().score(make_items(["a", "b"]), ["a"])


def test_registered_factory_is_the_public_one() -> None:
    assert METRICS.get("exact_match") is exact_match
    assert METRICS.get("exact_match")(field="category").describe()["field"] == "category"

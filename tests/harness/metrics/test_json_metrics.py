from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.harness.metrics.conftest import MakeItems
from tunegate.harness.errors import ConfigError
from tunegate.harness.metrics import json_field_match, json_schema_valid, json_valid

OUTPUTS = [
    '{"category": "refund", "priority": 2}',
    '```json\n{"category": "billing", "priority": "high"}\n```',
    'Sure: {"category": "refund"}',
    '{"category": "refund", "priority": 2',
    "I cannot help with that.",
    "[1, 2]",
]

SCHEMA = {
    "title": "triage",
    "type": "object",
    "required": ["category", "priority"],
    "properties": {"category": {"enum": ["refund", "billing"]}, "priority": {"type": "integer"}},
}


def test_json_valid_tolerant_and_strict(make_items: MakeItems) -> None:
    items = make_items([None] * len(OUTPUTS))
    np.testing.assert_array_equal(json_valid().score(items, OUTPUTS).values, [1, 1, 1, 0, 0, 0])
    strict = json_valid(strict=True)
    np.testing.assert_array_equal(strict.score(items, OUTPUTS).values, [1, 0, 0, 0, 0, 0])
    assert strict.describe() == {"metric": "json_valid", "strict": True}


def test_json_schema_valid_reports_why(make_items: MakeItems) -> None:
    items = make_items([None] * len(OUTPUTS))
    metric = json_schema_valid(SCHEMA)
    assert metric.name == "json_schema_valid[triage]"
    scores = metric.score(items, OUTPUTS)
    np.testing.assert_array_equal(scores.values, [1, 0, 0, 0, 0, 0])
    reasons = scores.extra["reasons"]
    assert reasons[1] == "priority: 'high' is not of type 'integer'"
    assert reasons[2] == "(root): 'priority' is a required property"
    assert reasons[4] == "no JSON object in the output"


def test_json_schema_from_file_and_invalid_schema(tmp_path: Path) -> None:
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(SCHEMA), encoding="utf-8")
    assert json_schema_valid(path).describe()["schema"] == SCHEMA
    with pytest.raises(ConfigError, match=r"invalid JSON Schema at properties/priority/type"):
        json_schema_valid({"type": "object", "properties": {"priority": {"type": "integr"}}})
    with pytest.raises(ConfigError, match="cannot read JSON Schema file"):
        json_schema_valid(tmp_path / "missing.json")


def test_json_schema_format_checking_is_opt_in(make_items: MakeItems) -> None:
    schema = {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}}
    items = make_items([None])
    assert json_schema_valid(schema).score(items, ['{"email": "nope"}']).values[0] == 1
    assert json_schema_valid(schema, check_formats=True).score(items, ['{"email": "nope"}']).values[0] == 0


def test_json_field_match_requires_every_field_exactly(make_items: MakeItems) -> None:
    ref = {"category": "refund", "priority": 2}
    items = make_items([ref] * len(OUTPUTS))
    one = json_field_match("category").score(items, OUTPUTS)
    np.testing.assert_array_equal(one.values, [1, 0, 1, 0, 0, 0])
    both = json_field_match(["category", "priority"])
    assert both.name == "json_field_match[category,priority]"
    scores = both.score(items, OUTPUTS)
    np.testing.assert_array_equal(scores.values, [1, 0, 0, 0, 0, 0])
    assert scores.extra["reasons"][2] == "no 'priority' in the output's JSON object"
    assert scores.extra["reasons"][1] == "'category' differs: 'billing' != 'refund'"


def test_json_field_match_does_not_normalise(make_items: MakeItems) -> None:
    items = make_items([{"category": "Refund"}])
    assert json_field_match("category").score(items, ['{"category": "refund"}']).values[0] == 0


def test_json_field_match_needs_a_field() -> None:
    with pytest.raises(ConfigError, match="needs one or more field names"):
        json_field_match([])

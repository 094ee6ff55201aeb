from __future__ import annotations

import pytest

from tunegate.harness.metrics import extract_json_object
from tunegate.harness.metrics._json import get_field, is_missing, json_equal


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ('  \n{"a": 1}\n', {"a": 1}),
        ('```json\n{"category": "refund"}\n```', {"category": "refund"}),
        ('Sure! Here it is:\n```\n{"a": {"b": [1, 2]}}\n```\nAnything else?', {"a": {"b": [1, 2]}}),
        ('Use the {name} slot. {"a": "x}"}', {"a": "x}"}),
        ('{"reply": "say \\"{hi}\\" please"} trailing', {"reply": 'say "{hi}" please'}),
        ('first {"a": 1} then {"b": 2}', {"a": 1}),
    ],
)
def test_tolerant_extraction_finds_the_object(text: str, expected: dict[str, object]) -> None:
    assert extract_json_object(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "no json here",
        "[1, 2, 3]",
        '"just a string"',
        '{"category": "billing", "meta": {"x": 1}, "reply": "Dear cust',  # cut off at the token limit
        "{'single': 'quotes'}",
    ],
)
def test_tolerant_extraction_rejects(text: str) -> None:
    assert extract_json_object(text) is None


def test_strict_extraction_needs_the_whole_output() -> None:
    assert extract_json_object(' {"a": 1} ', strict=True) == {"a": 1}
    assert extract_json_object('```json\n{"a": 1}\n```', strict=True) is None
    assert extract_json_object('Answer: {"a": 1}', strict=True) is None


def test_get_field_prefers_literal_keys_then_dotted_paths() -> None:
    obj = {"a.b": 1, "a": {"b": 2, "c": {"d": 3}}}
    assert get_field(obj, "a.b") == 1
    assert get_field(obj, "a.c.d") == 3
    assert is_missing(get_field(obj, "a.x"))
    assert is_missing(get_field(None, "a"))


def test_json_equal_follows_json_semantics() -> None:
    assert json_equal(1, 1.0)
    assert not json_equal(True, 1)
    assert not json_equal("1", 1)
    assert json_equal({"a": [1, {"b": None}]}, {"a": [1.0, {"b": None}]})
    assert not json_equal([1, 2], [2, 1])
    assert not json_equal({"a": 1}, {"a": 1, "b": 2})

from __future__ import annotations

import numpy as np
import pytest

from tests.harness.metrics.conftest import MakeItems
from tunegate.harness.errors import ConfigError
from tunegate.harness.metrics import contains, regex


def test_contains_reference(make_items: MakeItems) -> None:
    items = make_items(["refund", "refund", ["refund", "credit"], "Refund"])
    outputs = ["We will refund you.", "We will not pay.", "A credit note follows.", "we will refund"]
    np.testing.assert_array_equal(contains().score(items, outputs).values, [1, 0, 1, 0])
    np.testing.assert_array_equal(contains(ignore_case=True).score(items, outputs).values, [1, 0, 1, 1])


def test_contains_fixed_text_needs_no_reference(make_items: MakeItems) -> None:
    items = make_items([None, None])
    scores = contains("sorry", ignore_case=True, name="apologises").score(items, ["Sorry for that", "Thanks"])
    np.testing.assert_array_equal(scores.values, [1, 0])
    assert contains("sorry", name="apologises").name == "apologises"


def test_word_boundary(make_items: MakeItems) -> None:
    items = make_items([None, None])
    np.testing.assert_array_equal(contains("no").score(items, ["not now", "no."]).values, [1, 1])
    np.testing.assert_array_equal(
        contains("no", word_boundary=True).score(items, ["not now", "no."]).values, [0, 1]
    )


def test_contains_inside_a_json_field(make_items: MakeItems) -> None:
    items = make_items([{"reply": "refund"}, {"reply": "refund"}])
    outputs = ['{"reply": "A refund is on its way"}', '{"category": "refund"}']
    scores = contains(field="reply").score(items, outputs)
    np.testing.assert_array_equal(scores.values, [1, 0])
    assert contains(field="reply").name == "contains[reply]"


def test_empty_text_is_rejected() -> None:
    with pytest.raises(ConfigError, match="empty after normalisation"):
        contains("   ")


def test_regex_search_and_fullmatch(make_items: MakeItems) -> None:
    items = make_items([None, None, None])
    outputs = ["Dear Ana,\nthanks", "  yes \n", "Hi Ana"]
    np.testing.assert_array_equal(regex(r"^Dear \w+,").score(items, outputs).values, [1, 0, 0])
    np.testing.assert_array_equal(regex("yes|no", fullmatch=True).score(items, outputs).values, [0, 1, 0])
    np.testing.assert_array_equal(regex("ana", ignore_case=True).score(items, outputs).values, [1, 0, 1])


def test_regex_rejects_a_bad_pattern() -> None:
    with pytest.raises(ConfigError, match=r"regex pattern '\(unclosed' does not compile"):
        regex("(unclosed")

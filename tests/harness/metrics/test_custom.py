from __future__ import annotations

import math

import numpy as np
import pytest

from tests.harness.metrics.conftest import MakeItems
from tunegate.harness.data import EvalItem
from tunegate.harness.errors import ConfigError
from tunegate.harness.metrics import METRICS, Metric, custom_metric, make_metric, register_metric


def _mentions_reference(item: EvalItem, output: str) -> float:
    return float(item.reference_text().lower() in output.lower())


@register_metric("test_mentions_reference")
def mentions_reference(*, penalty: float = 0.0) -> Metric:
    return custom_metric(
        "mentions_reference",
        lambda item, out: _mentions_reference(item, out) - penalty * (len(out) > 40),
        settings={"penalty": penalty},
    )


def test_user_metric_registers_and_scores_end_to_end(make_items: MakeItems) -> None:
    items = make_items(["refund", "refund", "invoice"])
    outputs = ["A REFUND is coming", "A refund is coming, and this reply is rather long.", "no"]
    metric = make_metric("test_mentions_reference", penalty=0.5)
    assert METRICS.get("test_mentions_reference") is mentions_reference
    scores = metric.score(items, outputs)
    np.testing.assert_array_equal(scores.values, [1.0, 0.5, 0.0])
    assert scores.mean() == pytest.approx(0.5)
    assert metric.kind == "continuous" and scores.failures == ()
    info = metric.describe()
    assert info["penalty"] == 0.5 and info["fn"].endswith("mentions_reference.<locals>.<lambda>")


def test_binary_metric_must_return_zero_or_one(make_items: MakeItems) -> None:
    shouts = custom_metric("shouts", lambda item, out: float(out.isupper()), kind="binary")
    np.testing.assert_array_equal(shouts.score(make_items([None, None]), ["HEY", "hey"]).values, [1, 0])
    half = custom_metric("half", lambda item, out: 0.5, kind="binary")
    with pytest.raises(
        ConfigError, match=r"custom metric 'half' is binary but returned 0.5 for item 'it-000'"
    ):
        half.score(make_items([None]), ["x"])


def test_unscorable_items_are_failures_not_zeros(make_items: MakeItems) -> None:
    length = custom_metric("length", lambda item, out: None if not out else float(len(out)), worst=0.0)
    scores = length.score(make_items([None, None]), ["abc", ""])
    assert scores.values[0] == 3.0 and math.isnan(scores.values[1])
    assert scores.failures == (None, "length returned None")
    assert getattr(length, "worst_score", None) == 0.0


def test_unscorable_item_without_a_declared_worst_is_refused(make_items: MakeItems) -> None:
    length = custom_metric("length", lambda item, out: None if not out else float(len(out)))
    with pytest.raises(ConfigError, match=r"could not score item 'it-001' .* worst=0\.0"):
        length.score(make_items([None, None]), ["abc", ""])


def test_an_exception_names_the_item(make_items: MakeItems) -> None:
    broken = custom_metric("broken", lambda item, out: 1 / 0)
    with pytest.raises(ZeroDivisionError) as info:
        broken.score(make_items([None]), ["x"])
    assert "while scoring item 'it-000' with custom metric 'broken'" in info.value.__notes__


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": " ", "fn": len}, "needs a non-empty name"),
        ({"name": "x", "fn": len, "kind": "corpus"}, "kind='corpus' is not supported"),
        ({"name": "x", "fn": "len"}, "fn must be callable"),
    ],
)
def test_bad_definitions(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        custom_metric(**kwargs)  # type: ignore[arg-type]

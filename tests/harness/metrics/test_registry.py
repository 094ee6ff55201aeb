from __future__ import annotations

import json

import numpy as np
import pytest

from tests.harness.metrics.conftest import MakeItems
from tunegate.harness.errors import ConfigError
from tunegate.harness.metrics import KINDS, METRICS, Metric, MetricScores, make_metric, register_metric

BUILT_INS = {
    "bertscore_f1",
    "bleu",
    "chrf",
    "contains",
    "exact_match",
    "json_field_match",
    "json_schema_valid",
    "json_valid",
    "regex",
    "rouge_1",
    "rouge_2",
    "rouge_l",
    "rouge_lsum",
}
NEEDS_ARGUMENT: dict[str, dict[str, object]] = {
    "regex": {"pattern": "refund"},
    "json_schema_valid": {"schema": {"type": "object"}},
    "json_field_match": {"field": "category"},
}


def test_every_built_in_is_registered() -> None:
    assert set(METRICS.names()) >= BUILT_INS


@pytest.mark.parametrize("name", sorted(BUILT_INS - {"bertscore_f1"} - set(NEEDS_ARGUMENT)))
def test_factories_build_with_no_arguments_and_score(name: str, make_items: MakeItems) -> None:
    metric = METRICS.get(name)()
    assert isinstance(metric, Metric)
    assert metric.name == name and metric.kind in KINDS and metric.higher_is_better is True
    json.dumps(metric.describe())
    items = make_items(["we issued a refund", "thanks for waiting", "refund"])
    scores = metric.score(items, ["we issued a refund", "please wait", '{"category": "refund"}'])
    assert isinstance(scores, MetricScores)
    assert scores.values.shape == (3,) and np.isfinite(scores.values).all()
    assert (scores.stats is not None) == (metric.kind == "corpus")


@pytest.mark.parametrize("name", sorted(NEEDS_ARGUMENT))
def test_factories_that_need_an_argument_say_so(name: str) -> None:
    with pytest.raises(TypeError):
        METRICS.get(name)()
    metric = make_metric(name, **NEEDS_ARGUMENT[name])
    assert metric.kind == "binary"
    json.dumps(metric.describe())


def test_make_metric_rejects_unknown_options_and_names() -> None:
    with pytest.raises(
        ConfigError,
        match=r"metric 'exact_match': got an unexpected keyword argument 'ignorecase'; its options are exact_match\(field",
    ):
        make_metric("exact_match", ignorecase=True)
    with pytest.raises(ConfigError, match=r"unknown metric 'blue'; known: .*bleu"):
        make_metric("blue")


def test_duplicate_registration_is_rejected() -> None:
    with pytest.raises(ConfigError, match="metric 'bleu' is already registered"):
        register_metric("bleu")(lambda: None)  # type: ignore[arg-type,return-value]

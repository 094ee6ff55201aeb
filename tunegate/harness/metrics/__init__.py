"""Per-item scorers. Importing this package registers the built-in metrics.

Built-ins register through :func:`register_metric`, exactly as a user metric does, so
``METRICS.get("exact_match")(field="category")`` and ``exact_match(field="category")`` are the
same call. Heavy libraries (sacrebleu, rouge-score, bert-score, jsonschema) load on first use.

>>> from tunegate import metrics
>>> metrics.exact_match(field="category").name
'exact_match[category]'
>>> metrics.make_metric("rouge_l").kind
'continuous'
"""

from __future__ import annotations

import inspect
from typing import Any

from tunegate.harness.errors import ConfigError
from tunegate.harness.metrics._json import extract_json_object
from tunegate.harness.metrics._normalize import Normalization, normalize_text
from tunegate.harness.metrics.base import (
    KINDS,
    METRICS,
    CorpusFn,
    Kind,
    Metric,
    MetricFactory,
    MetricScores,
    PairwiseMetric,
    register_metric,
)
from tunegate.harness.metrics.bertscore import BertScore, bertscore_f1
from tunegate.harness.metrics.contains import Contains, RegexMatch, contains, regex
from tunegate.harness.metrics.cost import TokenCount, answer_tokens, request_tokens
from tunegate.harness.metrics.custom import FunctionMetric, custom_metric
from tunegate.harness.metrics.exact import ExactMatch, exact_match
from tunegate.harness.metrics.json_metrics import (
    JsonFieldMatch,
    JsonSchemaValid,
    JsonValid,
    json_field_match,
    json_schema_valid,
    json_valid,
)
from tunegate.harness.metrics.overlap import (
    Bleu,
    Chrf,
    Rouge,
    bleu,
    bleu_corpus_score,
    chrf,
    chrf_corpus_score,
    rouge_1,
    rouge_2,
    rouge_l,
    rouge_lsum,
)


def make_metric(name: str, **options: Any) -> Metric:
    """Build the registered metric ``name`` with ``options`` (unknown options are a ConfigError).

    >>> make_metric("exact_match", field="category", ignore_case=True).name
    'exact_match[category]'
    """
    factory = METRICS.get(name)
    try:
        bound = inspect.signature(factory).bind(**options)
    except TypeError as exc:
        raise ConfigError(
            f"metric {name!r}: {exc}; its options are {name}{inspect.signature(factory)}"
        ) from None
    return factory(*bound.args, **bound.kwargs)


__all__ = [
    "KINDS",
    "METRICS",
    "BertScore",
    "Bleu",
    "Chrf",
    "Contains",
    "CorpusFn",
    "ExactMatch",
    "FunctionMetric",
    "JsonFieldMatch",
    "JsonSchemaValid",
    "JsonValid",
    "Kind",
    "Metric",
    "MetricFactory",
    "MetricScores",
    "Normalization",
    "PairwiseMetric",
    "RegexMatch",
    "Rouge",
    "TokenCount",
    "answer_tokens",
    "bertscore_f1",
    "bleu",
    "bleu_corpus_score",
    "chrf",
    "chrf_corpus_score",
    "contains",
    "custom_metric",
    "exact_match",
    "extract_json_object",
    "json_field_match",
    "json_schema_valid",
    "json_valid",
    "make_metric",
    "normalize_text",
    "regex",
    "register_metric",
    "request_tokens",
    "rouge_1",
    "rouge_2",
    "rouge_l",
    "rouge_lsum",
]

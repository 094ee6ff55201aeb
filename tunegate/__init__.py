"""tunegate: evaluation and regression gates for fine-tuned LLMs (base vs adapter, paired statistics,
inside pytest).

This module is the suite author's front: everything a suite file needs is importable from
``tunegate`` itself::

    from tunegate import Compare, load_suite, metrics

    SUPPORT = load_suite("data/support/eval.jsonl", max_new_tokens=160)

    def test_category_is_more_accurate(compare: Compare) -> None:
        compare(SUPPORT, metrics.exact_match(field="category")).assert_improves(min_delta=0.05)

Every metric is listed in docs/metrics.md (``metrics.make_metric(name, **options)`` builds one by
name). The library lives in five subpackages: ``tunegate.harness`` (data, backends, metrics,
statistics, gates), ``tunegate.judges`` (LLM-as-judge), ``tunegate.trainers`` (the QLoRA
trainer), ``tunegate.reports`` (results.json -> HTML / Markdown) and ``tunegate.shell`` (the
pytest plugin and the ``tunegate`` command, on top of the others); their modules are internal
and may change between versions.

Names load on first use, so ``import tunegate`` (which activates the pytest plugin for a suite
file) costs nothing until a name is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunegate.harness import general, metrics
    from tunegate.harness.compare import VERDICTS, Comparison, GateType, Verdict
    from tunegate.harness.data import EvalItem, Suite, load_suite
    from tunegate.harness.errors import ConfigError, TunegateError
    from tunegate.harness.fixtures import Compare, Judge
    from tunegate.harness.handles import ModelHandle
    from tunegate.harness.leakage import LeakageConfig, discover_suites
    from tunegate.harness.metrics import (
        KINDS,
        Kind,
        Metric,
        MetricScores,
        PairwiseMetric,
        custom_metric,
        extract_json_object,
        make_metric,
        register_metric,
    )
    from tunegate.harness.session import RunState

_WHERE: dict[str, str] = {
    "general": "tunegate.harness",
    "metrics": "tunegate.harness",
    "VERDICTS": "tunegate.harness.compare",
    "Comparison": "tunegate.harness.compare",
    "GateType": "tunegate.harness.compare",
    "Verdict": "tunegate.harness.compare",
    "EvalItem": "tunegate.harness.data",
    "Suite": "tunegate.harness.data",
    "load_suite": "tunegate.harness.data",
    "ConfigError": "tunegate.harness.errors",
    "TunegateError": "tunegate.harness.errors",
    "Compare": "tunegate.harness.fixtures",
    "Judge": "tunegate.harness.fixtures",
    "ModelHandle": "tunegate.harness.handles",
    "LeakageConfig": "tunegate.harness.leakage",
    "discover_suites": "tunegate.harness.leakage",
    "KINDS": "tunegate.harness.metrics",
    "Kind": "tunegate.harness.metrics",
    "Metric": "tunegate.harness.metrics",
    "MetricScores": "tunegate.harness.metrics",
    "PairwiseMetric": "tunegate.harness.metrics",
    "custom_metric": "tunegate.harness.metrics",
    "extract_json_object": "tunegate.harness.metrics",
    "make_metric": "tunegate.harness.metrics",
    "register_metric": "tunegate.harness.metrics",
    "RunState": "tunegate.harness.session",
}

__all__ = [
    "KINDS",
    "VERDICTS",
    "Compare",
    "Comparison",
    "ConfigError",
    "EvalItem",
    "GateType",
    "Judge",
    "Kind",
    "LeakageConfig",
    "Metric",
    "MetricScores",
    "ModelHandle",
    "PairwiseMetric",
    "RunState",
    "Suite",
    "TunegateError",
    "Verdict",
    "custom_metric",
    "discover_suites",
    "extract_json_object",
    "general",
    "load_suite",
    "make_metric",
    "metrics",
    "register_metric",
]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'tunegate' has no attribute {name!r}")
    module = importlib.import_module(where)
    value = getattr(module, name) if hasattr(module, name) else importlib.import_module(f"{where}.{name}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

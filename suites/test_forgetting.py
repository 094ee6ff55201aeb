"""Catastrophic forgetting: the candidate must not get worse at things it was not trained for.

Four general-capability suites written for this project (factual QA, arithmetic, instruction
following with a checkable format, reading comprehension) are each gated for non-inferiority,
and so is their union, which has the power to see a small drop. KL drift of next-token
distributions on general text is measured and reported.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from harness.data import Suite, load_suite
from harness.forgetting import default_drift_texts
from harness.metrics import Metric, custom_metric

GENERAL = Path(__file__).parent / "data" / "general"
TASKS = ("factual_qa", "arithmetic", "instructions", "reading")


def _checks() -> Any:
    spec = importlib.util.spec_from_file_location("general_checks", GENERAL / "checks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CHECKS = _checks()
SUITES = {t: load_suite(GENERAL / f"{t}.jsonl", name=f"general/{t}", max_new_tokens=32) for t in TASKS}
ALL = Suite(
    name="general/all",
    items=tuple(it for s in SUITES.values() for it in s.items),
    path=str(GENERAL),
    version="+".join(s.version[:12] for s in SUITES.values()),
    max_new_tokens=32,
)


def correct() -> Metric:
    def score(item: Any, output: str) -> float:
        row = {"tags": dict(item.tags), "meta": dict(item.meta), "reference": item.reference}
        return float(CHECKS.is_correct(row, output))

    return custom_metric("correct", score, kind="binary")


@pytest.mark.parametrize("task", TASKS)
def test_general_task_does_not_regress(compare: Any, tunegate_run: Any, task: str) -> None:
    tunegate_run.mark_forgetting(compare(SUITES[task], correct())).assert_no_regression(margin=0.10)


def test_general_capability_does_not_regress(compare: Any, tunegate_run: Any) -> None:
    tunegate_run.mark_forgetting(compare(ALL, correct())).assert_no_regression(margin=0.05)


def test_kl_drift_on_general_text(tunegate_run: Any, candidate: Any) -> None:
    report = tunegate_run.drift(candidate, default_drift_texts())
    low, high = report.kl_ci
    print(f"KL drift {report.kl_mean:.4f} nats/token [{low:.4f}, {high:.4f}] over {report.n_docs} documents")
    assert report.n_docs > 0

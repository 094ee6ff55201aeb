"""General-capability suites for forgetting gates, shipped with tunegate as package data.

Four small suites written for tunegate (no public benchmark items): ``general/factual_qa``,
``general/arithmetic``, ``general/instructions`` and ``general/reading``, 461 items in all,
easy on purpose so that a 135M-parameter base model scores a meaningful share (the datasheet
and the generator live in the repository's ``suites/data/general``). ``checks.py`` holds the
scoring rules; ``correct()`` wraps them as a binary harness metric.

A fine-tuned candidate must not get worse at them than its base: ``GATES`` declares one
non-inferiority gate per task (margin 0.10: a suite of ~110 items cannot show a smaller drop)
and one on their union ``general/all`` (margin 0.05: four times the items, power for half the
margin). Any project can run them:

>>> from tunegate.harness import general
>>> for suite, margin in general.gates():  # doctest: +SKIP
...     compare(suite, general.correct()).assert_no_regression(margin=margin)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from tunegate.harness.data import EvalItem, Suite, load_suite
from tunegate.harness.errors import ConfigError
from tunegate.harness.general import checks
from tunegate.harness.metrics import Metric, custom_metric

DATA = Path(__file__).resolve().parent
"""The folder of the packaged JSONL suites."""
TASKS = ("factual_qa", "arithmetic", "instructions", "reading")
UNION = "general/all"
MAX_NEW_TOKENS = 32
"""Answers are one word, one number or one short line; 24 tokens were measured to be enough."""


@dataclass(frozen=True)
class Gate:
    """A packaged forgetting gate: non-inferiority of ``correct()`` on one suite."""

    suite: str
    margin: float


GATES: tuple[Gate, ...] = (
    *(Gate(f"general/{t}", 0.10) for t in TASKS),
    Gate(UNION, 0.05),
)
"""The packaged forgetting gates, in the order they are reported."""


@cache
def _task_suites(max_new_tokens: int) -> tuple[Suite, ...]:
    return tuple(
        load_suite(DATA / f"{t}.jsonl", name=f"general/{t}", max_new_tokens=max_new_tokens) for t in TASKS
    )


def suites(*, max_new_tokens: int = MAX_NEW_TOKENS) -> list[Suite]:
    """The four task suites, in ``TASKS`` order (loaded once per process)."""
    return list(_task_suites(max_new_tokens))


def union(*, max_new_tokens: int = MAX_NEW_TOKENS) -> Suite:
    """All four suites as one suite, ``general/all`` (the gate with power for a small drop)."""
    parts = _task_suites(max_new_tokens)
    return Suite(
        name=UNION,
        items=tuple(it for s in parts for it in s.items),
        path=str(DATA),
        version="+".join(s.version[:12] for s in parts),
        max_new_tokens=max_new_tokens,
    )


def suite(name: str, *, max_new_tokens: int = MAX_NEW_TOKENS) -> Suite:
    """One packaged suite by name (``general/<task>`` or ``general/all``)."""
    if name == UNION:
        return union(max_new_tokens=max_new_tokens)
    for s in _task_suites(max_new_tokens):
        if s.name == name:
            return s
    known = [f"general/{t}" for t in TASKS] + [UNION]
    raise ConfigError(f"unknown general suite {name!r}; the packaged ones are {known}")


def gates(*, max_new_tokens: int = MAX_NEW_TOKENS) -> list[tuple[Suite, float]]:
    """``GATES`` with their suites loaded: ``[(suite, margin), ...]``."""
    return [(suite(g.suite, max_new_tokens=max_new_tokens), g.margin) for g in GATES]


def _score(item: EvalItem, output: str) -> float:
    row: dict[str, Any] = {"tags": dict(item.tags), "meta": dict(item.meta), "reference": item.reference}
    return float(checks.is_correct(row, output))


def correct() -> Metric:
    """Binary: the output answers the item by the rules of ``checks.is_correct``."""
    return custom_metric("correct", _score, kind="binary")


__all__ = [
    "DATA",
    "GATES",
    "MAX_NEW_TOKENS",
    "TASKS",
    "UNION",
    "Gate",
    "checks",
    "correct",
    "gates",
    "suite",
    "suites",
    "union",
]

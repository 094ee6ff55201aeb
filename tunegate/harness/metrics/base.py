"""The metric protocol: a named per-item scorer with a declared kind.

The kind decides the paired test (binary -> McNemar, continuous -> paired t / bootstrap,
corpus -> bootstrap / approximate randomization over per-item sufficient statistics).
A metric never does statistics itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from tunegate.harness.data import EvalItem
from tunegate.harness.registry import Registry

Kind = Literal["binary", "continuous", "corpus"]
KINDS: tuple[Kind, ...] = ("binary", "continuous", "corpus")

# Maps summed sufficient statistics of shape (..., k) to corpus scores of shape (...).
CorpusFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class MetricScores:
    """Per-item scores of one system on one suite for one metric.

    ``values``: float array (n,), one score per item (0/1 for binary; for corpus metrics the
    sentence-level score, for display only). ``stats``: (n, k) sufficient statistics for corpus
    metrics, else None. ``corpus``: the function from summed stats to the corpus score.
    ``failures``: per-item error text (e.g. a judge that could not be parsed) or None; a failed
    item's value is NaN and the comparison reports it, never scores it silently.
    ``infra``: per-item flag, True where the item could not be scored for a reason outside the
    model's output (a judge API that failed, a budget that ran out). Such items lower the gate's
    coverage; every other unscored candidate item counts against the candidate. Empty = none.
    """

    values: np.ndarray
    stats: np.ndarray | None = None
    corpus: CorpusFn | None = None
    failures: tuple[str | None, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    infra: tuple[bool, ...] = ()

    def mean(self) -> float:
        if self.stats is not None and self.corpus is not None:
            return float(self.corpus(self.stats.sum(axis=0)))
        return float(np.nanmean(self.values)) if len(self.values) else float("nan")


@runtime_checkable
class Metric(Protocol):
    # Read-only properties, so frozen dataclasses and plain class attributes both satisfy it.
    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> Kind: ...

    @property
    def higher_is_better(self) -> bool: ...

    def score(self, items: Sequence[EvalItem], outputs: Sequence[str]) -> MetricScores: ...

    def describe(self) -> dict[str, Any]:
        """Settings that define the metric (normalisation, model hash...), for results.json."""
        ...


@runtime_checkable
class PairwiseMetric(Protocol):
    """A metric that scores base and candidate together (e.g. a pairwise judge: A vs B)."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> Kind: ...

    @property
    def higher_is_better(self) -> bool: ...

    def score_pair(
        self, items: Sequence[EvalItem], base_outputs: Sequence[str], candidate_outputs: Sequence[str]
    ) -> tuple[MetricScores, MetricScores]: ...

    def describe(self) -> dict[str, Any]: ...


MetricFactory = Callable[..., Metric]
METRICS: Registry[MetricFactory] = Registry("metric")


def register_metric(name: str) -> Callable[[MetricFactory], MetricFactory]:
    """Register a metric factory under ``name``: built-ins and user metrics use the same call.

    >>> @register_metric("shouts")
    ... def shouts() -> Metric: ...
    """
    return METRICS.decorator(name)

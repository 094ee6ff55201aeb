"""Cost and length as metrics: the tokens of each answer, and of each request (prompt + answer).

They score the run's own generations (``tunegate.harness.usage.Answer``: the counts the backend
gave when it generated, kept in the response cache), so a gate on them is paired like any other::

    compare(support, metrics.answer_tokens()).assert_no_regression(margin="10%")

fails a candidate whose mean answer is more than 10% longer than the base's (lower is better;
docs/statistics.md says how a relative margin is tested). Scored outside a run (plain strings
without counts) they refuse, rather than guess a count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from tunegate.harness.data import EvalItem
from tunegate.harness.errors import ConfigError
from tunegate.harness.metrics._common import as_metric, check_lengths
from tunegate.harness.metrics.base import Kind, Metric, MetricScores, register_metric
from tunegate.harness.usage import answer_usage

What = Literal["answer", "request"]


@dataclass(frozen=True)
class TokenCount:
    """Tokens per answer (``what="answer"``) or per request (prompt + answer); lower is better."""

    what: What = "answer"
    kind: ClassVar[Kind] = "continuous"
    higher_is_better: ClassVar[bool] = False

    @property
    def name(self) -> str:
        return f"{self.what}_tokens"

    def score(self, items: Sequence[EvalItem], outputs: Sequence[str]) -> MetricScores:
        check_lengths(self.name, items, outputs)
        values = np.empty(len(items))
        missing: list[str] = []
        for i, (item, out) in enumerate(zip(items, outputs, strict=True)):
            answer = answer_usage(out)
            count = None if answer is None else (answer.answer_tokens if self.what == "answer" else answer.request_tokens)
            if count is None:
                missing.append(item.id)
                continue
            values[i] = float(count)
        if missing:
            raise ConfigError(self._no_counts(missing, outputs))
        return MetricScores(values=values)

    def _no_counts(self, missing: list[str], outputs: Sequence[str]) -> str:
        shown = ", ".join(repr(m) for m in missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        if not any(answer_usage(o) is not None for o in outputs):
            return (
                f"metric {self.name!r} counts the tokens of a run's generations; the outputs of {shown} carry no "
                "counts (plain strings): score it through the compare fixture (or RunState.compare), not on texts"
            )
        return (
            f"metric {self.name!r}: the prompt token counts of {shown} are not known: their answers were cached by "
            "a tunegate that did not keep them; clear the cache (`tunegate cache clear`) or gate answer_tokens instead"
        )

    def describe(self) -> dict[str, Any]:
        return {"metric": self.name, "counts": "the backend's token counts of each generation", "lower_is_better": True}


@register_metric("answer_tokens")
def answer_tokens() -> Metric:
    """Tokens per answer (the model's own count of what it generated); lower is better.

    >>> answer_tokens().name, answer_tokens().higher_is_better
    ('answer_tokens', False)
    """
    return as_metric(TokenCount("answer"))


@register_metric("request_tokens")
def request_tokens() -> Metric:
    """Tokens per request: the prompt as the model saw it plus the answer; lower is better."""
    return as_metric(TokenCount("request"))


__all__ = ["TokenCount", "answer_tokens", "request_tokens"]

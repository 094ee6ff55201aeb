"""Judge metrics: single-answer rubric grading (continuous) and pairwise comparison (binary).

``RubricMetric`` satisfies tunegate.harness.metrics.base.Metric. ``PairwiseJudgeMetric`` (a
tunegate.harness.metrics.base.PairwiseMetric) scores two systems at once: each item is judged in
both orders (base as A, then candidate as A); when the two orders disagree the item is a tie,
and the rate of agreement is reported as position consistency.
Its two MetricScores are 0/1 wins (base won / candidate won, both 0 on a tie), so the paired
McNemar test on them is the sign test on wins vs losses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tunegate.harness.data import EvalItem
from tunegate.harness.errors import JudgeError
from tunegate.harness.metrics.base import Kind, MetricScores
from tunegate.judges.engine import Judgment
from tunegate.judges.health import JudgeHealth
from tunegate.judges.rubric import Rubric

if TYPE_CHECKING:
    from tunegate.judges.judge import Judge

NAN = float("nan")
EMPTY_OUTPUT = "the output is empty: nothing to judge (counted against the system that produced it)"


def _check_lengths(items: Sequence[EvalItem], *outputs: Sequence[str]) -> None:
    for out in outputs:
        if len(out) != len(items):
            raise JudgeError(
                f"got {len(out)} outputs for {len(items)} items; pass one output per item, in item order"
            )


class _JudgeMetric:
    """What both judge metrics share: the judge, the rubric, health and description."""

    MODE = ""
    PREFIX = ""

    def __init__(self, judge: Judge, rubric: Rubric) -> None:
        self.judge = judge
        self.rubric_obj = rubric
        self.name = f"{self.PREFIX}[{rubric.name}]"

    def health(self) -> JudgeHealth:
        return self.judge.health(self.rubric_obj.name)

    @property
    def advisory(self) -> bool:
        return self.health().advisory

    def describe(self) -> dict[str, Any]:
        return {
            **self.judge.describe(),
            **self.rubric_obj.describe(),
            "mode": self.MODE,
            "advisory": self.advisory,
        }


class RubricMetric(_JudgeMetric):
    """``judge[<rubric>]``: the judge's score of each output on the rubric's scale."""

    MODE = "single"
    PREFIX = "judge"
    kind: Kind = "continuous"
    higher_is_better = True

    @property
    def worst_score(self) -> float:
        """The rubric's lowest score: an output the judge could not grade counts at it."""
        return float(self.rubric_obj.spec.scale.min)

    def score(self, items: Sequence[EvalItem], outputs: Sequence[str]) -> MetricScores:
        _check_lengths(items, outputs)
        field = self.rubric_obj.spec.field
        # An empty output is the candidate's own failure: nothing to judge, and not the judge's fault.
        ask = [i for i, out in enumerate(outputs) if self.judge.judged(out, field).strip()]
        tasks = [self.judge.single_task(self.rubric_obj, items[i], outputs[i]) for i in ask]
        asked = self.judge.engine.run(tasks) if tasks else []
        judgments = [Judgment(None, failure=EMPTY_OUTPUT) for _ in outputs]
        for i, j in zip(ask, asked, strict=True):
            judgments[i] = j
        self.judge.record(self.rubric_obj, asked)
        values = np.array(
            [float(j.value) if j.ok and j.value is not None else NAN for j in judgments], dtype=float
        )
        health = self.health()
        extra = {
            "judge": health.to_dict(),
            "reasoning": [j.reasoning for j in judgments],
            "cache_hits": sum(j.cached for j in judgments),
            "n_failed": sum(not j.ok for j in judgments),
            "n_empty": len(outputs) - len(ask),
            "budget": self.judge.engine.meter.as_dict(),
        }
        return MetricScores(
            values=values,
            failures=tuple(j.failure for j in judgments),
            extra=extra,
            infra=tuple(j.infra for j in judgments),
        )


class PairwiseJudgeMetric(_JudgeMetric):
    """``judge_pairwise[<rubric>]``: which of base and candidate the rubric prefers, per item."""

    MODE = "pairwise-both-orders"
    PREFIX = "judge_pairwise"
    kind: Kind = "binary"
    higher_is_better = True

    def score(self, items: Sequence[EvalItem], outputs: Sequence[str]) -> MetricScores:
        raise JudgeError(
            f"{self.name} compares two systems; call score_pair(items, base_outputs, candidate_outputs)"
        )

    def score_pair(
        self, items: Sequence[EvalItem], base_outputs: Sequence[str], candidate_outputs: Sequence[str]
    ) -> tuple[MetricScores, MetricScores]:
        _check_lengths(items, base_outputs, candidate_outputs)
        j = self.judge
        ask: list[int] = []
        tasks = []
        field = self.rubric_obj.spec.field
        for i, (item, b, c) in enumerate(zip(items, base_outputs, candidate_outputs, strict=True)):
            if j.judged(b, field) == j.judged(c, field):
                continue  # identical texts: a tie with nothing to judge (and no position bias to pay for)
            ask.append(i)
            tasks.append(j.pair_task(self.rubric_obj, item, b, c))  # order AB: base is A
            tasks.append(j.pair_task(self.rubric_obj, item, c, b))  # order BA: candidate is A
        judgments = j.engine.run(tasks) if tasks else []
        j.record(self.rubric_obj, judgments)
        n = len(items)
        base = np.zeros(n)
        cand = np.zeros(n)
        failures: list[str | None] = [None] * n
        outcome = ["tie"] * n
        ab: list[str | None] = [None] * n
        ba: list[str | None] = [None] * n
        consistent = inconsistent = 0
        for k, i in enumerate(ask):
            first, second = judgments[2 * k], judgments[2 * k + 1]
            if not (first.ok and second.ok):
                base[i] = cand[i] = NAN
                failures[i] = _pair_failure(first, second)
                outcome[i] = "failed"
                continue
            w1 = {"A": "base", "B": "candidate", "tie": "tie"}[str(first.value)]
            w2 = {"A": "candidate", "B": "base", "tie": "tie"}[str(second.value)]
            ab[i], ba[i] = w1, w2
            if w1 == w2:
                consistent += 1
                outcome[i] = w1
            else:
                inconsistent += 1
                outcome[i] = "tie"
            base[i] = 1.0 if outcome[i] == "base" else 0.0
            cand[i] = 1.0 if outcome[i] == "candidate" else 0.0
        judged = consistent + inconsistent
        consistency = consistent / judged if judged else None
        if consistency is not None:
            j.record_consistency(self.rubric_obj, consistent, judged)
        wins, losses = outcome.count("candidate"), outcome.count("base")
        ties = outcome.count("tie")
        n_ok = wins + losses + ties
        extra = {
            "wins": wins,
            "ties": ties,
            "losses": losses,
            "n_failed": outcome.count("failed"),
            "n_identical": n - len(ask),
            "n_order_disagreements": inconsistent,
            "position_consistency": consistency,
            "win_rate": (wins + ties / 2) / n_ok if n_ok else None,
            "order_ab": ab,
            "order_ba": ba,
            "cache_hits": sum(x.cached for x in judgments),
            "judge": self.health().to_dict(),
            "budget": j.engine.meter.as_dict(),
        }
        fails = tuple(failures)
        infra = tuple(x is not None for x in failures)  # only a judge that failed leaves an item unscored
        return (
            MetricScores(values=base, failures=fails, extra={**extra, "side": "base"}, infra=infra),
            MetricScores(values=cand, failures=fails, extra={**extra, "side": "candidate"}, infra=infra),
        )


def _pair_failure(first: Judgment, second: Judgment) -> str:
    parts = []
    if not first.ok:
        parts.append(f"order AB (base first): {first.failure}")
    if not second.ok:
        parts.append(f"order BA (candidate first): {second.failure}")
    return "; ".join(parts)

"""MetricScores.infra: a judge that could not judge is missing evidence, an empty output is not."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from tests.judges.conftest import FAST_RETRY, make_items, response_of
from tunegate.harness.retry import RetryPolicy
from tunegate.judges import Budget, Judge
from tunegate.judges.metric import EMPTY_OUTPUT
from tunegate.judges.prompts import JudgePrompt

NO_RETRY = RetryPolicy(max_retries=1, base_delay=0.001, max_delay=0.002)


def script(p: JudgePrompt, n: int) -> str | dict[str, Any]:
    """'down' raises a transient error every time; 'garbled' never answers a verdict."""
    pair = p.mode == "pair"
    text = response_of(p, "RESPONSE A") + response_of(p, "RESPONSE B") if pair else response_of(p)
    if "down" in text:
        raise ConnectionError("judge API unreachable")
    if "garbled" in text:
        return "I think it is fine."
    if p.mode == "pair":
        return {"reasoning": "", "winner": "A"}
    return {"reasoning": "", "score": 4}


def judge(cache_dir: Path, **kw: Any) -> Judge:
    kw.setdefault("retry", FAST_RETRY)
    return Judge("script-double", cache_dir=cache_dir, options={"script": script}, **kw)


def test_judge_failures_are_infra_and_an_empty_output_is_the_candidates(cache_dir: Path) -> None:
    outputs = ["a fine reply", "   ", "garbled reply", "reply while the API is down"]
    scores = judge(cache_dir, retry=NO_RETRY).rubric("support_style").score(make_items(4), outputs)
    assert scores.values[0] == 4.0 and all(math.isnan(v) for v in scores.values[1:])
    assert scores.infra == (False, False, True, True)
    assert scores.failures[0] is None
    assert scores.failures[1] == EMPTY_OUTPUT
    assert scores.failures[2] is not None and "no valid verdict after 3 attempt(s)" in scores.failures[2]
    assert scores.failures[3] is not None and "request failed: gave up after 2 attempt(s)" in scores.failures[3]
    assert scores.extra["n_empty"] == 1 and scores.extra["n_failed"] == 3


def test_a_spent_budget_is_infra(cache_dir: Path) -> None:
    j = judge(cache_dir, budget=Budget(max_tokens_total=1))
    scores = j.rubric("support_style").score(make_items(2), ["reply one", "reply two"])
    assert scores.infra == (True, True)
    assert all(f is not None and f.startswith("budget exhausted") for f in scores.failures)


def test_pairwise_judge_failures_are_infra_on_both_sides(cache_dir: Path) -> None:
    items = make_items(3)
    base = ["base one", "base two", "same"]
    cand = ["cand one", "cand garbled", "same"]
    b, c = judge(cache_dir).pairwise("support_style").score_pair(items, base, cand)
    assert b.infra == c.infra == (False, True, False)
    assert b.failures[1] is not None and math.isnan(c.values[1])
    assert c.values[2] == 0.0 and b.values[2] == 0.0  # identical texts: a tie, scored, not missing

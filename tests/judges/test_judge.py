"""The integration API: Judge.rubric (a Metric), Judge.pairwise (both orders), Judge.health."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from tests.judges.conftest import FAST_RETRY, make_items, response_of
from tunegate.harness.data import EvalItem, Message
from tunegate.harness.errors import JudgeError
from tunegate.harness.metrics.base import Metric
from tunegate.judges import Judge, JudgeHealth, PairwiseMetric
from tunegate.judges.health import CalibrationRecord, save_record
from tunegate.judges.prompts import PROMPT_VERSION, JudgePrompt


def quality(text: str) -> int:
    """A content-only fake judgment: the number of 'good' words, 1-5."""
    return max(1, min(5, text.count("good")))


def content_judge(p: JudgePrompt, n: int) -> dict[str, Any]:
    if p.mode == "single":
        return {"reasoning": "", "score": quality(response_of(p))}
    a, b = quality(response_of(p, "RESPONSE A")), quality(response_of(p, "RESPONSE B"))
    return {"reasoning": "", "winner": "A" if a > b else "B" if b > a else "tie"}


def first_position_judge(p: JudgePrompt, n: int) -> dict[str, Any]:
    return {"reasoning": "", "winner": "A"} if p.mode == "pair" else {"reasoning": "", "score": 3}


def judge_with(cache_dir: Path, script: Any) -> Judge:
    return Judge("script-double", cache_dir=cache_dir, retry=FAST_RETRY, options={"script": script})


def test_rubric_metric_follows_the_metric_protocol(cache_dir: Path) -> None:
    metric = judge_with(cache_dir, content_judge).rubric("support_style")
    assert isinstance(metric, Metric)
    assert (metric.name, metric.kind, metric.higher_is_better) == ("judge[support_style]", "continuous", True)
    outputs = [json.dumps({"category": "x", "priority": "low", "reply": "good good"}), "good", "bad"]
    scores = metric.score(make_items(3), outputs)
    assert scores.values.tolist() == [2.0, 1.0, 1.0]  # the reply field of a JSON output is what is graded
    assert scores.failures == (None, None, None)
    info = metric.describe()
    assert info["rubric"] == "support_style" and len(info["rubric_hash"]) == 64
    assert info["prompt_version"] == PROMPT_VERSION and info["advisory"] is True
    with pytest.raises(JudgeError, match="got 2 outputs for 3 items"):
        metric.score(make_items(3), ["a", "b"])


def test_grading_uses_the_user_email_as_context(cache_dir: Path) -> None:
    seen: list[str] = []

    def script(p: JudgePrompt, n: int) -> dict[str, Any]:
        seen.append(response_of(p, "CONVERSATION"))
        return {"reasoning": "", "score": 4}

    item = EvalItem(id="e1", messages=(Message("system", "be nice"), Message("user", "Where is my refund?")))
    judge_with(cache_dir, script).rubric("support_style").score([item], ["Hello,"])
    assert seen == ["[system]\nbe nice\n\n[user]\nWhere is my refund?"]


def test_pairwise_runs_both_orders_and_counts_wins(cache_dir: Path) -> None:
    judge = judge_with(cache_dir, content_judge)
    metric = judge.pairwise("support_style")
    assert isinstance(metric, PairwiseMetric)
    assert (metric.name, metric.kind) == ("judge_pairwise[support_style]", "binary")
    base = ["good", "good good good", "good, good", "same"]
    cand = ["good good", "good", "good good", "same"]
    b, c = metric.score_pair(make_items(4), base, cand)
    assert b.values.tolist() == [0.0, 1.0, 0.0, 0.0]
    assert c.values.tolist() == [1.0, 0.0, 0.0, 0.0]
    e = c.extra
    assert (e["wins"], e["losses"], e["ties"]) == (1, 1, 2)
    assert e["n_identical"] == 1  # identical texts are a tie without a request
    assert e["position_consistency"] == 1.0 and e["n_order_disagreements"] == 0
    assert e["win_rate"] == pytest.approx((1 + 2 / 2) / 4)
    assert judge.provider.calls == 6  # type: ignore[attr-defined]  # 3 differing items x 2 orders


def test_order_disagreement_is_a_tie_and_lowers_position_consistency(cache_dir: Path) -> None:
    judge = judge_with(cache_dir, first_position_judge)
    b, c = judge.pairwise("support_style").score_pair(make_items(3), ["a", "b", "c"], ["x", "y", "z"])
    assert b.values.tolist() == [0.0, 0.0, 0.0] and c.values.tolist() == [0.0, 0.0, 0.0]
    assert c.extra["position_consistency"] == 0.0
    assert c.extra["n_order_disagreements"] == 3 and c.extra["ties"] == 3
    assert c.extra["order_ab"] == ["base"] * 3 and c.extra["order_ba"] == ["candidate"] * 3
    assert judge.health("support_style").position_consistency == 0.0


def test_a_failed_order_fails_the_item_with_both_reasons(cache_dir: Path) -> None:
    def script(p: JudgePrompt, n: int) -> Any:
        return "no idea" if response_of(p, "RESPONSE A") == "bad" else {"reasoning": "", "winner": "tie"}

    judge = Judge(
        "script-double", cache_dir=cache_dir, retry=FAST_RETRY, parse_retries=0, options={"script": script}
    )
    b, c = judge.pairwise("support_style").score_pair(make_items(2), ["bad", "ok"], ["fine", "ok2"])
    assert math.isnan(b.values[0]) and math.isnan(c.values[0])
    assert b.failures[0] is not None and b.failures[0].startswith("order AB (base first): no valid verdict")
    assert "'no idea'" in b.failures[0]
    assert c.values[1] == 0.0 and c.extra["n_failed"] == 1


def test_health_reflects_calibration_records(cache_dir: Path) -> None:
    judge = judge_with(cache_dir, content_judge)
    twin = EvalItem(id="twin", messages=make_items(1)[0].messages)
    judge.rubric("support_style").score([make_items(1)[0], twin], ["good", "good"])
    h = judge.health()
    assert isinstance(h, JudgeHealth)
    assert (h.kappa, h.reliable, h.advisory) == (None, False, True)
    assert "never calibrated" in h.reason
    assert (h.n_judgments, h.n_failed, h.cache_hits) == (
        2,
        0,
        1,
    )  # the second identical output is a cache hit
    r = judge.load("support_style")

    def record(kappa: float) -> CalibrationRecord:
        return CalibrationRecord(
            provider="script-double",
            model="script",
            settings=judge.provider.settings_key(),
            rubric=r.name,
            rubric_hash=r.hash,
            prompt_version=PROMPT_VERSION,
            n=80,
            n_failed=0,
            kappa=kappa,
            exact_agreement=0.5,
            within_one=0.9,
            mean_abs_error=0.6,
            labels=[1, 2, 3, 4, 5],
            confusion=[[0] * 5] * 5,
            n_pairs=10,
            position_consistency=0.9,
            pair_accuracy=0.8,
        )

    save_record(cache_dir, record(0.55))
    low = judge.health("support_style")
    assert (low.kappa, low.reliable) == (0.55, False) and "kappa 0.55 < 0.60" in low.reason
    save_record(cache_dir, record(0.72))
    high = judge.health("support_style")
    assert (high.kappa, high.reliable, high.advisory) == (0.72, True, False)
    assert high.position_consistency == 0.9  # from calibration: no pairwise run in this session
    d = high.to_dict()
    for key in (
        "name",
        "provider",
        "model",
        "rubric",
        "rubric_hash",
        "kappa",
        "reliable",
        "position_consistency",
        "n_judgments",
        "n_failed",
        "cache_hits",
    ):
        assert key in d
    assert d["name"] == "judge[support_style]"
    assert d["rubric"] == "support_style"
    # Another model has no calibration: unreliable.
    other = Judge("script-double", "other-model", cache_dir=cache_dir, options={"script": content_judge})
    assert other.health("support_style").reliable is False


def test_unknown_provider_lists_the_known_ones(cache_dir: Path) -> None:
    with pytest.raises(
        JudgeError,
        match=r"unknown judge provider 'gpt5'; known providers: anthropic, local, openai, "
        r"openai-compatible.*Pick one of them",
    ):
        Judge("gpt5", cache_dir=cache_dir)


def test_unknown_provider_option_lists_the_known_ones(cache_dir: Path) -> None:
    with pytest.raises(
        JudgeError,
        match=r"invalid options for the local judge: batchsize: unknown option; "
        r"known options: dtype, device, batch_size",
    ):
        Judge("local", cache_dir=cache_dir, options={"batchsize": 4})

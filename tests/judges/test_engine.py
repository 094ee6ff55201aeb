"""The engine with a scripted provider: concurrency, verdict retries, failures, budget, cache."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.judges.conftest import FAST_RETRY, make_items, response_of
from tunegate.harness.errors import JudgeError
from tunegate.judges import Budget, Judge
from tunegate.judges.budget import BudgetMeter, estimate_tokens
from tunegate.judges.prompts import JudgePrompt


def by_length(p: JudgePrompt, n: int) -> dict[str, Any]:
    return {"reasoning": "length", "score": 1 + len(response_of(p)) % 5}


def make_judge(cache_dir: Path, script: Any = by_length, **kw: Any) -> Judge:
    options = {"script": script, **kw.pop("options", {})}
    return Judge("script-double", cache_dir=cache_dir, retry=FAST_RETRY, options=options, **kw)


def test_concurrency_limit_is_honoured(cache_dir: Path) -> None:
    judge = make_judge(cache_dir, options={"delay": 0.01}, concurrency=3)
    items = make_items(30)
    judge.rubric("support_style").score(items, [f"reply {i}" for i in range(30)])
    assert judge.provider.peak == 3  # type: ignore[attr-defined]


def test_unparseable_answer_is_asked_again_then_kept_with_its_raw_text(cache_dir: Path) -> None:
    def script(p: JudgePrompt, n: int) -> Any:
        text = response_of(p)
        if "never" in text:
            return "I would say this reply is about a four."
        if "once" in text and n == 0:
            return "Score: 4"
        return {"reasoning": "ok", "score": 4}

    judge = make_judge(cache_dir, script, parse_retries=2)
    scores = judge.rubric("support_style").score(make_items(3), ["fine", "bad once", "bad never"])
    assert scores.values[0] == 4.0 and scores.values[1] == 4.0
    assert math.isnan(scores.values[2])
    failure = scores.failures[2]
    assert failure is not None
    assert failure.startswith("no valid verdict after 3 attempt(s): not a JSON object")
    assert "I would say this reply is about a four." in failure  # the raw answer is kept
    assert scores.failures[:2] == (None, None)
    assert judge.provider.calls == 3 + 1 + 2  # type: ignore[attr-defined]
    h = judge.health("support_style")
    assert (h.n_judgments, h.n_failed) == (3, 1)


def test_deterministic_provider_is_not_asked_again(cache_dir: Path) -> None:
    judge = make_judge(cache_dir, lambda p, n: "nope", options={"deterministic": True})
    scores = judge.rubric("support_style").score(make_items(2), ["a", "b"])
    assert judge.provider.calls == 2  # type: ignore[attr-defined]
    assert all(f is not None and "after 1 attempt(s)" in f for f in scores.failures)


def test_transient_errors_are_retried_and_non_transient_ones_stop_the_run(cache_dir: Path) -> None:
    def flaky(p: JudgePrompt, n: int) -> Any:
        if n < 2:
            raise ConnectionError("blip")
        return {"reasoning": "", "score": 3}

    judge = make_judge(cache_dir, flaky)
    assert judge.rubric("support_style").score(make_items(2), ["a", "b"]).values.tolist() == [3.0, 3.0]
    assert judge.stats()["retry"]["retries"] == {"script-double": 4}

    def broken(p: JudgePrompt, n: int) -> Any:
        raise JudgeError("the scripted API rejected the API key")

    with pytest.raises(JudgeError, match="rejected the API key"):
        make_judge(cache_dir / "other", broken).rubric("support_style").score(make_items(2), ["a", "b"])


def test_budget_stops_cleanly_keeping_finished_judgments(cache_dir: Path) -> None:
    items = make_items(10)
    outputs = [f"reply number {i}" for i in range(10)]
    # A request is sent only if its worst case (prompt estimate + 50 output tokens) fits; each
    # then uses 110 tokens (the scripted usage). This budget lets exactly 4 requests through.
    probe = make_judge(cache_dir / "probe", concurrency=1)
    worst = max(
        estimate_tokens(t.prompt.system + t.prompt.user) + 50
        for t in (
            probe.single_task(probe.load("support_style"), it, o)
            for it, o in zip(items, outputs, strict=True)
        )
    )
    judge = make_judge(cache_dir, concurrency=1, budget=Budget(max_tokens_total=worst + 3 * 110 + 5))
    scores = judge.rubric("support_style").score(items, outputs)
    done = [i for i, f in enumerate(scores.failures) if f is None]
    assert len(done) == 4
    rest = [f for f in scores.failures if f is not None]
    assert rest and all(f.startswith("budget exhausted: max_tokens_total=") for f in rest)
    assert all(math.isnan(scores.values[i]) for i, f in enumerate(scores.failures) if f is not None)
    assert scores.extra["budget"]["exhausted"]
    # The finished ones were cached: a new judge with no budget asks only for the rest.
    again = make_judge(cache_dir)
    rescored = again.rubric("support_style").score(items, outputs)
    assert again.provider.calls == 10 - len(done)  # type: ignore[attr-defined]
    assert all(f is None for f in rescored.failures)
    assert [rescored.values[i] for i in done] == [scores.values[i] for i in done]


def test_cost_budget_needs_a_price_and_meters_reservations() -> None:
    with pytest.raises(JudgeError, match=r"no price for the judge model 'my-model'.*prices=\{'my-model'"):
        BudgetMeter(Budget(max_cost_usd=1.0), "openai", "my-model")
    meter = BudgetMeter(Budget(max_cost_usd=0.01, prices={"m": (1.0, 2.0)}), "openai", "m")
    assert meter.reserve(1000, 1000)  # $0.003 worst case
    assert meter.reserve(1000, 1000)
    assert meter.reserve(1000, 1000)
    assert not meter.reserve(1000, 1000)  # $0.012 would exceed $0.01
    assert meter.exhausted and "max_cost_usd=0.01" in meter.exhausted
    meter.settle(1000, 1000, 500, 100)
    assert meter.cost_usd == pytest.approx(0.0007)
    assert Budget().price("anthropic", "claude-sonnet-4-5-20250929") == (3.0, 15.0)
    assert Budget().price("local", "anything") == (0.0, 0.0)


def test_cache_serves_a_second_run_and_stores_no_failures(cache_dir: Path) -> None:
    items = make_items(5)
    outputs = [f"r{i}" for i in range(4)] + ["garbled"]

    def script(p: JudgePrompt, n: int) -> Any:
        return "???" if response_of(p) == "garbled" else by_length(p, n)

    first = make_judge(cache_dir, script, parse_retries=0)
    a = first.rubric("support_style").score(items, outputs)
    second = make_judge(cache_dir, script, parse_retries=0)
    b = second.rubric("support_style").score(items, outputs)
    assert second.provider.calls == 1  # type: ignore[attr-defined]  # only the failed one is asked again
    assert b.extra["cache_hits"] == 4
    assert a.values[:4].tolist() == b.values[:4].tolist()
    rows = (
        sqlite3.connect(cache_dir / "judges" / "judgments.sqlite")
        .execute("SELECT count(*) FROM judgments")
        .fetchone()
    )
    assert rows == (4,)
    journal = (
        sqlite3.connect(cache_dir / "judges" / "judgments.sqlite").execute("PRAGMA journal_mode").fetchone()
    )
    assert journal == ("wal",)


def test_cache_key_changes_with_every_component(cache_dir: Path) -> None:
    judge = make_judge(cache_dir)
    r = judge.load("support_style")
    item = make_items(1)[0]
    base = judge.single_task(r, item, "reply").key
    other_item = make_items(1, prefix="x")[0]
    changed_ctx = type(item)(id=item.id, messages=(type(item.messages[0])("user", "another email"),))
    assert judge.single_task(r, item, "reply 2").key != base
    assert judge.single_task(r, changed_ctx, "reply").key != base
    assert judge.single_task(r, other_item, "reply").key == base  # the id is not part of what is judged
    assert judge.pair_task(r, item, "reply", "x").key != judge.pair_task(r, item, "x", "reply").key
    other_model = Judge("script-double", "other", cache_dir=cache_dir, options={"script": by_length})
    assert other_model.single_task(r, item, "reply").key != base


def test_run_works_inside_a_running_event_loop(cache_dir: Path) -> None:
    import asyncio

    judge = make_judge(cache_dir)

    async def inside() -> list[float]:
        return judge.rubric("support_style").score(make_items(2), ["a", "bb"]).values.tolist()

    assert asyncio.run(inside()) == [2.0, 3.0]

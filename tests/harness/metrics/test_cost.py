"""Cost as a paired measure: token-count metrics on a run's generations, and the relative margin.

The cost gate of a user's suite runs end to end with ``--backend fake``: a candidate whose answers
are twice as long fails (exit 1) with the token figures in its message; one of equal length passes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tunegate.harness.compare import compare_scores
from tunegate.harness.compare.relative import ratio_test
from tunegate.harness.data import EvalItem, Message
from tunegate.harness.errors import ConfigError, GateFailure, StatsError
from tunegate.harness.metrics import answer_tokens, make_metric, request_tokens
from tunegate.harness.metrics.base import MetricScores
from tunegate.harness.usage import Answer

pytest_plugins = ["pytester"]

N = 40
IDS = [f"q{i}" for i in range(N)]
LENGTHS = [5 + i % 10 for i in range(N)]  # base answers: 5..14 words, mean 9.5


def _items() -> list[EvalItem]:
    return [EvalItem(id=i, messages=(Message("user", f"Question {i}?"),), reference="x") for i in IDS]


def test_token_metrics_read_the_generations_counts() -> None:
    outs = [Answer("a b c", answer_tokens=3, prompt_tokens=10), Answer("a", answer_tokens=1, prompt_tokens=12)]
    items = _items()[:2]
    assert list(answer_tokens().score(items, outs).values) == [3.0, 1.0]
    assert list(request_tokens().score(items, outs).values) == [13.0, 13.0]
    assert make_metric("answer_tokens").higher_is_better is False and answer_tokens().kind == "continuous"


def test_token_metrics_refuse_texts_without_counts() -> None:
    with pytest.raises(ConfigError, match=r"carry no counts \(plain strings\): score it through the compare fixture"):
        answer_tokens().score(_items()[:2], ["a", "b"])
    old = [Answer("a", answer_tokens=1, prompt_tokens=None), Answer("b", answer_tokens=1, prompt_tokens=4)]
    with pytest.raises(ConfigError, match=r"the prompt token counts of 'q0' are not known: .*`tunegate cache clear`"):
        request_tokens().score(_items()[:2], old)


def _tokens(base: list[float], cand: list[float]):  # type: ignore[no-untyped-def]
    return compare_scores(
        suite="faq", metric_name="answer_tokens", kind="continuous", ids=IDS[: len(base)],
        base=MetricScores(values=np.array(base, float)), candidate=MetricScores(values=np.array(cand, float)),
        higher_is_better=False, candidate_label="v2",
    )  # fmt: skip


def test_twice_as_long_fails_a_ten_percent_margin_with_the_token_figures() -> None:
    comp = _tokens(LENGTHS, [2 * k for k in LENGTHS])
    with pytest.raises(GateFailure) as info:
        comp.assert_no_regression(margin="10%")
    message = str(info.value)
    assert message.startswith("REGRESSED: answer_tokens (lower is better) on faq, base -> v2: 9.5 -> 19, delta +9.5")
    gate = comp.gates[-1]
    assert (gate.relative, round(gate.size, 6)) == (0.1, 0.95)
    record = comp.to_dict()
    assert record["gate"]["relative_margin"] == 0.1 and record["gates"][0]["relative_margin"] == 0.1


def test_equal_length_passes_and_the_margin_is_a_ratio_of_the_base_mean() -> None:
    cand = [k + (1 if i % 2 else -1) for i, k in enumerate(LENGTHS)]  # same mean, other lengths
    comp = _tokens(LENGTHS, cand).assert_no_regression(margin="10%")
    gate = comp.gates[-1]
    assert gate.verdict == "NON_INFERIOR"
    assert "Any drop is smaller than the margin of 10% of the base's mean (0.95): no regression." in gate.message
    assert gate.claim(False) == "H0 mean >= 1.1 x base mean"
    # 30% longer answers are not within 10%, and are within 50%.
    longer = [1.3 * k for k in LENGTHS]
    with pytest.raises(GateFailure, match="REGRESSED"):
        _tokens(LENGTHS, longer).assert_no_regression(margin="10%")
    assert _tokens(LENGTHS, longer).assert_no_regression(margin="50%").verdict == "NON_INFERIOR"


@pytest.mark.parametrize("bad", ["10", "-5%", "0%", "ten%", True, 0, float("nan")])
def test_a_margin_is_a_positive_number_or_percentage(bad: object) -> None:
    with pytest.raises(StatsError, match="margin"):
        _tokens(LENGTHS, LENGTHS).assert_no_regression(margin=bad)  # type: ignore[arg-type]


def test_a_relative_margin_needs_positive_means_and_a_mean_metric() -> None:
    with pytest.raises(StatsError, match=r"a relative margin needs scores >= 0 with a base mean > 0"):
        _tokens([0.0] * 4, [1.0] * 4).assert_no_regression(margin="10%")


def test_the_relative_gate_holds_its_level_at_the_boundary() -> None:
    """A/A at the margin: candidates exactly 10% longer on average are shown "within 10%" at most
    ~alpha of the time (the ratio test carries the base mean's own error)."""
    rng = np.random.default_rng(7)
    shown, reps = 0, 200
    for _ in range(reps):
        base = rng.gamma(4.0, 25.0, 40)
        cand = 1.1 * base * rng.lognormal(0.0, 0.3, 40) / np.exp(0.045)  # E[cand] = 1.1 E[base]
        rt = ratio_test(base=base, candidate=cand, ratio=0.1, higher_is_better=False, alpha=0.05)
        shown += rt.low_oriented > -rt.size
    assert shown / reps <= 0.05 + 3 * (0.05 * 0.95 / reps) ** 0.5


SUITE = '''
from pathlib import Path

from tunegate import Compare, load_suite, metrics

FAQ = load_suite(Path(__file__).parent / "faq.jsonl", name="faq", max_new_tokens=64)


def test_cost(compare: Compare) -> None:
    compare(FAQ, metrics.answer_tokens()).assert_no_regression(margin="10%")
'''


def _project(pytester: pytest.Pytester, candidate_lengths: list[int]) -> Path:
    rows = [{"id": i, "messages": [{"role": "user", "content": f"Question {i}?"}], "reference": "x"} for i in IDS]
    (pytester.path / "faq.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    answers = {
        "base": {i: " ".join(["word"] * k) for i, k in zip(IDS, LENGTHS, strict=True)},
        "candidate": {i: " ".join(["other"] * k) for i, k in zip(IDS, candidate_lengths, strict=True)},
    }
    path = pytester.path / "answers.json"
    path.write_text(json.dumps(answers), encoding="utf-8")
    pytester.makepyfile(test_faq=SUITE)
    return path


def _run(pytester: pytest.Pytester, answers: Path, tmp_path: Path) -> tuple[pytest.RunResult, dict]:  # type: ignore[type-arg]
    report = tmp_path / "report"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--backend=fake", "--base=fake-base", "--candidate=fake-v2",
        f"--backend-option=answers={answers}", f"--cache-dir={tmp_path / 'cache'}", f"--report={report}",
    )  # fmt: skip
    return result, json.loads((report / "results.json").read_text(encoding="utf-8"))


def test_a_candidate_with_twice_as_long_answers_fails_the_cost_gate(pytester: pytest.Pytester, tmp_path: Path) -> None:
    answers = _project(pytester, [2 * k for k in LENGTHS])
    result, data = _run(pytester, answers, tmp_path)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*REGRESSED: answer_tokens (lower is better) on faq, base -> fake-v2: 9.5 -> 19, delta +9.5*"])
    comp = data["comparisons"][0]
    assert (comp["verdict"], comp["base_mean"], comp["candidate_mean"]) == ("REGRESSED", 9.5, 19.0)
    assert comp["gate"]["relative_margin"] == 0.1
    cost = {m["model"]: m for m in data["cost"]["models"]}
    assert (cost["base"]["answer_tokens_mean"], cost["fake-v2"]["answer_tokens_mean"]) == (9.5, 19.0)
    # "user: Question qN?" is 3 words: the request is the prompt plus the answer
    assert (cost["base"]["request_tokens_mean"], cost["fake-v2"]["request_tokens_mean"]) == (12.5, 22.0)
    assert cost["base"]["latency_p50_s"] is None
    assert cost["base"]["latency_note"] == "not measured per item (this backend does not time its requests)"
    assert data["cost"]["token_unit"].startswith("words")


def test_a_candidate_of_equal_length_passes_and_the_cache_keeps_the_counts(pytester: pytest.Pytester, tmp_path: Path) -> None:
    answers = _project(pytester, [k + (1 if n % 2 else -1) for n, k in enumerate(LENGTHS)])
    result, first = _run(pytester, answers, tmp_path)
    assert result.ret == 0, result.stdout.str()
    assert first["comparisons"][0]["verdict"] == "NON_INFERIOR"
    result, again = _run(pytester, answers, tmp_path)  # every answer from the cache now
    assert result.ret == 0
    assert again["cache"]["hits"] == 2 * N and again["cost"]["models"][:2] == [
        {**m, "latency_note": f"not timed in this run: all {N} answers came from the cache"} for m in first["cost"]["models"][:2]
    ]


def test_a_yaml_gate_file_gates_cost_the_same_way(pytester: pytest.Pytester, tmp_path: Path) -> None:
    answers = _project(pytester, [2 * k for k in LENGTHS])
    (pytester.path / "test_faq.py").unlink()
    (pytester.path / "tunegate_faq.yaml").write_text(
        "suite: faq.jsonl\nname: faq\nmax_new_tokens: 64\ngates:\n  - metric: answer_tokens\n    no_regression: {margin: 10%}\n",
        encoding="utf-8",
    )
    result, data = _run(pytester, answers, tmp_path)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*REGRESSED: answer_tokens (lower is better) on faq, base -> fake-v2: 9.5 -> 19, delta +9.5*"])
    assert data["comparisons"][0]["gate"]["relative_margin"] == 0.1

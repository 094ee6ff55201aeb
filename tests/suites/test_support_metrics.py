"""The support suite's metrics (suites/_support.py): one importable place, real scores."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def task() -> ModuleType:
    sys.path.insert(0, str(ROOT / "suites"))
    try:
        import _support
    finally:
        sys.path.remove(str(ROOT / "suites"))
    return _support


def test_style_rules_are_loaded_one_way(task: ModuleType) -> None:
    import style_rules  # importable once the support folder is on sys.path, as _support puts it

    assert task.RULES is style_rules is sys.modules["style_rules"]
    assert Path(style_rules.__file__) == ROOT / "suites" / "data" / "support" / "style_rules.py"


def test_every_metric_scores_the_reference_best_and_a_non_answer_zero(task: ModuleType) -> None:
    suite = task.support_eval().sample(6, seed=1)
    items = list(suite.items)
    perfect = [json.dumps(it.reference, ensure_ascii=False) for it in items]
    junk = ["I am not sure what you mean."] * len(items)
    factories = [
        task.category, task.priority, task.valid_json, task.greeting, task.sign_off, task.sentence_count,
        task.follows_guide, task.reply_bleu, task.reply_chrf, task.reply_rouge_l, task.reply_bertscore,
    ]  # fmt: skip
    names = set()
    for factory in factories:
        metric = factory()
        names.add(metric.name)
        best = metric.score(items, perfect).values
        worst = metric.score(items, junk).values
        top = 100.0 if metric.kind == "corpus" else 1.0
        assert best == pytest.approx([top] * len(items), abs=1e-4), metric.name
        assert list(worst) == [0.0] * len(items), metric.name
    assert {"bleu[reply]", "chrf[reply]", "rouge_l[reply]", "bertscore_f1[reply]"} <= names
    assert task.reply_bleu().kind == task.reply_chrf().kind == "corpus"


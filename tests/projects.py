"""Small user projects that the end-to-end tests run with pytester: a suite file and a test module,
laid out as a user's own repository would hold them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

FAQ_SUITE = '''
from pathlib import Path

from tunegate import Compare, Judge, load_suite, metrics

FAQ = load_suite(Path(__file__).parent / "faq.jsonl", name="faq", max_new_tokens={max_new_tokens})


def test_answers(compare: Compare) -> None:
    compare(FAQ, metrics.make_metric("exact_match")).assert_improves()


def test_style(compare: Compare, judge: Judge) -> None:
    compare(FAQ, judge.rubric("support_style")).assert_improves()
'''

TWO_COMPARISONS = """
from pathlib import Path

from tunegate.harness.data import load_suite
from tunegate.harness.metrics import make_metric

SUITE = load_suite(Path(__file__).parent / "data" / "toy.jsonl", max_new_tokens=8)


def test_first(compare):
    compare(SUITE, make_metric("exact_match"))


def test_second(compare):
    compare(SUITE, make_metric("exact_match"))
"""
"""Two tests comparing the candidate on ``data/toy.jsonl`` with no gate: the run's models are asked
for every item, and nothing else happens."""


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def faq_rows(n: int, reference: str = "ACCURATE answer {i}") -> list[dict[str, Any]]:
    """``n`` one-turn questions whose reference is ``reference`` (``{i}``: the item's number)."""
    return [
        {"id": f"q{i}", "messages": [{"role": "user", "content": f"Question {i}?"}], "reference": reference.format(i=i)}
        for i in range(n)
    ]


def faq_project(pytester: pytest.Pytester, rows: list[dict[str, Any]], *, max_new_tokens: int = 8) -> Path:
    """``faq.jsonl`` and ``test_faq.py``: an exact-match gate and a judged style gate, both
    ``assert_improves``; returns the suite file."""
    suite = write_jsonl(pytester.path / "faq.jsonl", rows)
    pytester.makepyfile(test_faq=FAQ_SUITE.format(max_new_tokens=max_new_tokens))
    return suite


def toy_project(pytester: pytest.Pytester, rows: list[dict[str, Any]]) -> Path:
    """``data/toy.jsonl`` and a test module of two comparisons (``TWO_COMPARISONS``)."""
    suite = write_jsonl(pytester.path / "data" / "toy.jsonl", rows)
    pytester.makepyfile(test_suite=TWO_COMPARISONS)
    return suite


def served_run(pytester: pytest.Pytester, port: int, tmp_path: Path, *options: str) -> pytest.RunResult:
    """The project run in a subprocess against the fake OpenAI-compatible server on ``port``
    (base and candidate are names it serves), with its cache and report under ``tmp_path``."""
    return pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--backend", "openai", "--base", "served-base", "--candidate", "served-adapter",
        "--base-url", f"http://127.0.0.1:{port}/v1", *options,
        "--cache-dir", str(tmp_path / "cache"), "--report", str(tmp_path / "report"), timeout=300,
    )  # fmt: skip

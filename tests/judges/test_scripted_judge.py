"""The built-in ``scripted`` judge: free, no key, verdicts from a declared rule.

(tests/judges/conftest.py registers its own test double under the same name for the other judge
tests, so the rule is tested on the class here and through the registry in a fresh process.)
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tunegate.harness.data import Message
from tunegate.harness.errors import JudgeError
from tunegate.judges.prompts import pair_prompt, single_prompt
from tunegate.judges.providers.scripted import ScriptedJudge
from tunegate.judges.rubric import load_rubric

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = (Message("user", "How do I reset my password?"),)


def test_single_scores_by_the_needle() -> None:
    rubric = load_rubric("support_style")
    lo, hi = rubric.scale.min, rubric.scale.max
    judge = ScriptedJudge(contains="ACCURATE")
    prompts = [single_prompt(rubric, context=CONTEXT, response=r) for r in ("ACCURATE: use the link", "no idea")]
    replies = asyncio.run(judge.complete(prompts))
    assert [r.verdict["score"] for r in replies if r.verdict] == [hi, lo]
    assert judge.deterministic and asyncio.run(judge.complete(prompts)) == replies
    custom = ScriptedJudge(contains="link", high=4, low=2)
    assert [r.verdict["score"] for r in asyncio.run(custom.complete(prompts)) if r.verdict] == [4, 2]


def test_pair_prefers_the_response_with_the_needle() -> None:
    rubric = load_rubric("support_style")
    judge = ScriptedJudge()
    pairs = [("ACCURATE a", "b"), ("a", "ACCURATE b"), ("a", "b"), ("ACCURATE a", "ACCURATE b")]
    prompts = [pair_prompt(rubric, context=CONTEXT, first=a, second=b) for a, b in pairs]
    winners = [r.verdict["winner"] for r in asyncio.run(judge.complete(prompts)) if r.verdict]
    assert winners == ["A", "B", "tie", "tie"]


def test_settings_key_changes_with_the_rule() -> None:
    assert ScriptedJudge(contains="x").settings_key() != ScriptedJudge(contains="y").settings_key()
    assert ScriptedJudge().describe() == {"provider": "scripted", "model": "contains", "contains": "ACCURATE", "high": None, "low": None}


def test_unknown_option_is_one_message_naming_it() -> None:
    with pytest.raises(JudgeError) as err:
        ScriptedJudge(contians="x")
    assert str(err.value) == "invalid options for the scripted judge: contians: unknown option; known options: contains, high, low"


def test_registered_free_without_a_key() -> None:
    code = (
        "from tunegate.judges import PROVIDERS, Budget; i = PROVIDERS.get('scripted');"
        "print(PROVIDERS.origin('scripted'), i.key_env, i.free, i.needs_model, Budget().price('scripted', 'contains'))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "tunegate None True False (0.0, 0.0)"


def test_bad_judge_option_stops_the_run_before_generation(pytester: pytest.Pytester, tmp_path: Path) -> None:
    rows = [{"id": f"q{i}", "messages": [{"role": "user", "content": "?"}], "reference": "ACCURATE"} for i in range(5)]
    (pytester.path / "faq.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    pytester.makepyfile(test_faq="def test_x(judge):\n    pass\n")
    res = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--backend=fake", "--base=b", "--candidate=c", "--judge=scripted",
        "--judge-option=contians=x", "--backend-option=default=ACCURATE", f"--cache-dir={tmp_path}",
    )
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    err = res.stderr.str()
    assert "invalid options for the scripted judge: contians: unknown option; known options: contains, high, low" in err, err
    assert "Traceback" not in err

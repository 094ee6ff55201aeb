"""The calibration set, its generator, calibration and the advisory rule."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.judges.conftest import CALIBRATION, FAST_RETRY, oracle_script, response_of
from tunegate.harness.errors import DataError, JudgeError
from tunegate.judges import Judge
from tunegate.judges.calibrate import calibrate, format_record, load_set, pick_pairs
from tunegate.judges.calibration import make_support_style as gen
from tunegate.judges.prompts import JudgePrompt
from tunegate.judges.rubric import load_rubric

ROOT = Path(__file__).resolve().parents[2]


def test_calibration_file_is_what_the_generator_writes() -> None:
    assert gen.main(["--check", "--out", str(CALIBRATION)]) == 0
    rows = [json.loads(line) for line in CALIBRATION.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 60
    assert Counter(r["gold"] for r in rows) == {s: 16 for s in (1, 2, 3, 4, 5)}
    assert all(r["gold"] == gen.gold_score(tuple(r["defects"])) for r in rows)


def test_gold_scores_follow_the_rubric_rules() -> None:
    assert gen.gold_score(()) == 5
    assert gen.gold_score(("exclaim",)) == 4
    assert gen.gold_score(("greeting", "signoff")) == 3
    assert gen.gold_score(("no_next_step",)) == 3
    assert gen.gold_score(("rude",)) == 2
    assert gen.gold_score(("rude", "no_next_step")) == 1  # floor at 1
    assert gen.gold_score(("off_topic",)) == 1


def test_planted_defects_match_the_style_guide_checker() -> None:
    """Cross-check against the support suite's own rule checker, where it exists."""
    path = ROOT / "suites" / "data" / "support" / "style_rules.py"
    if not path.exists():
        pytest.skip("suites/data/support/style_rules.py is not there")
    spec = importlib.util.spec_from_file_location("style_rules_for_judges", path)
    assert spec is not None and spec.loader is not None
    rules = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rules)
    for row in (json.loads(line) for line in CALIBRATION.read_text(encoding="utf-8").splitlines()):
        checkable = set(row["defects"]) - {"rude", "off_topic"}
        problems = rules.check_reply(row["output"])
        assert bool(problems) == bool(checkable), (row["id"], row["defects"], problems)


def test_load_set_reports_every_bad_line(tmp_path: Path) -> None:
    bad = tmp_path / "cal.jsonl"
    bad.write_text(
        '{"id": "a", "messages": [{"role": "user", "content": "x"}], "output": "y", "gold": 9}\n'
        '{"id": "b", "messages": [], "output": "y", "gold": 3, "extra": 1}\n'
        "not json\n",
        encoding="utf-8",
    )
    with pytest.raises(DataError) as exc:
        load_set(bad, load_rubric("support_style"))
    msg = str(exc.value)
    assert f"{bad}:1: 'gold' must be an integer score from 1 to 5, got 9" in msg
    assert f"{bad}:2: unknown key(s) ['extra']" in msg
    assert f"{bad}:2: 'messages' must be a non-empty list" in msg
    assert f"{bad}:3: invalid JSON" in msg
    with pytest.raises(JudgeError, match="no calibration set for rubric 'support_style'"):
        load_set(tmp_path / "missing.jsonl", load_rubric("support_style"))


def test_load_set_checks_roles_and_group(tmp_path: Path) -> None:
    # a missing role was read as "user", an unknown one and a trailing assistant turn went to the judge
    bad = tmp_path / "cal.jsonl"
    rows = [
        {"id": "a", "messages": [{"content": "x"}], "output": "y", "gold": 3},
        {"id": "b", "messages": [{"role": "robot", "content": "x"}], "output": "y", "gold": 3},
        {"id": "c", "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "z"}],
         "output": "y", "gold": 3},
        {"id": "d", "messages": [{"role": "user", "content": "x"}], "output": "y", "gold": 3, "group": {"g": 1}},
    ]  # fmt: skip
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(DataError) as exc:
        load_set(bad, load_rubric("support_style"))
    msg = str(exc.value)
    assert f"{bad}:1: every message needs a role (system/user/assistant) and the last one is the user turn" in msg
    assert f"{bad}:2: every message needs a role" in msg and "got roles ['robot']" in msg
    assert f"{bad}:3: every message needs a role" in msg and "got roles ['user', 'assistant']" in msg
    assert f"{bad}:4: 'group' must be a string (the conversation's name), got {{'g': 1}}" in msg
    with pytest.raises(JudgeError, match=r"--set .* is a directory; pass the calibration .jsonl file inside it"):
        load_set(tmp_path, load_rubric("support_style"))


def test_pairs_share_an_email_and_differ_in_gold() -> None:
    gold = load_set(CALIBRATION, load_rubric("support_style"))
    pairs = pick_pairs(gold, 40, seed=0)
    assert len(pairs) == 40 and pairs == pick_pairs(gold, 40, seed=0)
    assert all(a.item.group == b.item.group and a.gold != b.gold for a, b in pairs)
    assert len(pick_pairs(gold, 10_000)) == 16 * 10  # every pair of five different scores


def test_a_perfect_judge_calibrates_as_reliable(tmp_path: Path) -> None:
    judge = Judge(
        "script-double", "oracle", cache_dir=tmp_path, retry=FAST_RETRY, options={"script": oracle_script()}
    )
    record, path = calibrate(judge, "support_style", n_pairs=20)
    assert record.kappa == pytest.approx(1.0)
    assert record.exact_agreement == 1.0 and record.mean_abs_error == 0.0
    assert record.confusion == [[16 if i == j else 0 for j in range(5)] for i in range(5)]
    assert (record.n, record.n_failed, record.n_pairs) == (80, 0, 20)
    assert record.position_consistency == 1.0 and record.pair_accuracy == 1.0
    assert path.exists() and path.is_relative_to(tmp_path)
    health = Judge("script-double", "oracle", cache_dir=tmp_path, options={"script": oracle_script()}).health(
        "support_style"
    )
    assert health.reliable and health.kappa == pytest.approx(1.0)
    text = format_record(record, 0.6)
    assert "Cohen's kappa (quadratic weights): 1.000" in text and "reliable" in text


def test_a_biased_judge_is_unreliable_and_advisory(tmp_path: Path) -> None:
    def lenient_and_first(p: JudgePrompt, n: int) -> dict[str, Any]:
        if p.mode == "pair":
            return {"reasoning": "", "winner": "A"}
        return {"reasoning": "", "score": 5 if "Billing" in response_of(p) else 4}

    judge = Judge(
        "script-double", "lenient", cache_dir=tmp_path, retry=FAST_RETRY, options={"script": lenient_and_first}
    )
    record, _ = calibrate(judge, "support_style", n_pairs=10)
    assert record.kappa is not None and record.kappa < 0.6
    assert record.position_consistency == 0.0 and record.pair_accuracy == 0.5
    health = judge.health("support_style")
    assert health.advisory and not health.reliable
    assert judge.rubric("support_style").advisory
    assert "UNRELIABLE" in format_record(record, 0.6)

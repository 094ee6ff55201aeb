"""The replay pool is leak-free: the leakage engine finds no overlap with any eval suite.

Every eval suite tunegate knows in this project is checked: the packaged general suites (the
forgetting gates), the union ``general/all`` being their items, and every suite under
suites/data (the support eval). A planted pool shows the same check does see overlap.
"""

from __future__ import annotations

import json
from pathlib import Path

from tunegate.harness import general
from tunegate.harness.leakage import discover_suites
from tunegate.trainers.replay import check_replay_leakage
from tunegate.trainers.selection import eval_suite_files

ROOT = Path(__file__).resolve().parents[2]
POOL = ROOT / "tunegate" / "trainers" / "replay_pool" / "general_prompts.jsonl"


def _all_eval_suites() -> list:
    return [*general.suites(), *discover_suites(ROOT / "suites" / "data")]


def test_shipped_pool_overlaps_no_eval_suite() -> None:
    suites = _all_eval_suites()
    names = {s.name for s in suites}
    assert {"general/factual_qa", "general/arithmetic", "general/instructions", "general/reading"} <= names
    assert "support/eval" in names

    report = check_replay_leakage(POOL, suites)

    assert report.n_items == sum(len(s.items) for s in suites) > 700
    assert report.n_training_docs == 240
    assert report.flagged() == [], [f.to_dict() for f in report.flagged()[:5]]
    assert report.passed


def test_pool_with_answers_in_replay_shape_overlaps_nothing(tmp_path: Path) -> None:
    """A replay file is the pool plus an assistant turn; answers like a base's change nothing."""
    rows = [json.loads(line) for line in POOL.read_text().splitlines()]
    replay = tmp_path / "replay.jsonl"
    with replay.open("w") as fh:
        for r in rows:
            answer = {"role": "assistant", "content": f"The answer is {r['id'].rsplit('-', 1)[1]}."}
            fh.write(json.dumps({"id": r["id"], "messages": [*r["messages"], answer]}) + "\n")
    assert check_replay_leakage(replay, _all_eval_suites()).flagged() == []


def test_the_answer_keys_as_answers_overlap_nothing(tmp_path: Path) -> None:
    """The pool's answer keys ("expected") are what a verified replay file teaches: no eval item either."""
    rows = [json.loads(line) for line in POOL.read_text().splitlines()]
    keyed = [r for r in rows if "expected" in r]
    assert len(keyed) == 140
    replay = tmp_path / "replay.jsonl"
    with replay.open("w") as fh:
        for r in keyed:
            answer = {"role": "assistant", "content": f"The answer is {r['expected'][0]}."}
            fh.write(json.dumps({"id": r["id"], "messages": [*r["messages"], answer]}) + "\n")
    report = check_replay_leakage(replay, _all_eval_suites())
    assert report.n_training_docs == 140
    assert report.flagged() == [], [f.to_dict() for f in report.flagged()[:5]]


def test_the_same_check_flags_a_planted_eval_item(tmp_path: Path) -> None:
    factual = general.suite("general/factual_qa")
    reading = general.suite("general/reading")
    planted = tmp_path / "pool.jsonl"
    lines = POOL.read_text().splitlines()[:20]
    lines.append(json.dumps({"messages": [m.to_dict() for m in factual.items[0].messages]}))  # verbatim
    edited = reading.items[3].messages[-1].content.replace("Answer with just", "Reply with only")
    lines.append(json.dumps({"messages": [{"role": "user", "content": edited}]}))  # lightly edited
    planted.write_text("\n".join(lines) + "\n")

    report = check_replay_leakage(planted, [factual, reading])

    flagged = {(f.suite, f.id) for f in report.flagged()}
    assert ("general/factual_qa", factual.items[0].id) in flagged
    assert ("general/reading", reading.items[3].id) in flagged
    assert not report.passed


def test_the_dev_guard_knows_the_same_suites() -> None:
    files = {p.resolve() for p in eval_suite_files([ROOT / "suites" / "data"])}
    assert ROOT / "suites" / "data" / "support" / "eval.jsonl" in files
    assert all((general.DATA / f"{t}.jsonl").resolve() in files for t in general.TASKS)
    assert not any(p.name in ("train.jsonl", "dev.jsonl") for p in files)

"""The leakage check on the shipped support data: clean as shipped; planted leaks are named exactly."""

from __future__ import annotations

import json
import random
from pathlib import Path

from harness.data import load_suite
from harness.leakage import LeakageConfig, check_leakage

SUPPORT = Path(__file__).resolve().parents[2] / "suites" / "data" / "support"


def _paraphrase(text: str, rng: random.Random) -> str:
    """A near copy: a few words swapped for synonyms-in-spirit, the rest verbatim."""
    words = text.split(" ")
    for k in rng.sample(range(len(words)), max(1, len(words) // 25)):
        words[k] = {"the": "this", "a": "one", "I": "we", "my": "our"}.get(words[k], words[k])
    return " ".join(words) + " Thanks again."


def test_shipped_support_data_is_clean() -> None:
    suite = load_suite(SUPPORT / "eval.jsonl", name="support/eval")
    report = check_leakage([SUPPORT / "train.jsonl", SUPPORT / "dev.jsonl"], [suite], config=LeakageConfig())
    assert report.passed, report.verdict()[1]
    assert report.flagged() == []


def test_planted_copies_and_near_copies_are_named_exactly(tmp_path: Path) -> None:
    suite = load_suite(SUPPORT / "eval.jsonl", name="support/eval")
    rng = random.Random(7)
    picked = rng.sample(list(suite.items), 10)
    exact, near = picked[:5], picked[5:]
    lines = (SUPPORT / "train.jsonl").read_text(encoding="utf-8").splitlines()
    for item, paraphrase in [(it, False) for it in exact] + [(it, True) for it in near]:
        user = _paraphrase(item.prompt, rng) if paraphrase else item.prompt
        answer = json.dumps(item.reference, ensure_ascii=False)
        msgs = [*(m.to_dict() for m in item.messages[:-1]), {"role": "user", "content": user}, {"role": "assistant", "content": answer}]
        lines.insert(rng.randrange(len(lines)), json.dumps({"messages": msgs}, ensure_ascii=False))
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = check_leakage([train], [suite], config=LeakageConfig())
    flagged = {f.id: f for f in report.flagged()}
    # The planted items, and only they, are duplicates or near duplicates of a training line.
    strong = {i for i, f in flagged.items() if f.flag in ("exact", "near_duplicate")}
    assert strong == {it.id for it in picked}
    assert {flagged[it.id].flag for it in exact} == {"exact"}
    assert {flagged[it.id].flag for it in near} == {"near_duplicate"}
    # Other eval items written from the same templates share a 13-gram with a planted copy: the
    # GPT-3 rule reports them as partial n-gram overlap, a weaker flag than duplication.
    assert all(f.flag == "ngram" for i, f in flagged.items() if i not in strong)
    assert all(flagged[it.id].source and flagged[it.id].source.startswith(str(train)) for it in picked)
    passed, reason = report.verdict()
    assert not passed and "appear verbatim in the training data" in reason

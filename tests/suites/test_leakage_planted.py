"""The leakage check on the shipped support data: clean as shipped; planted leaks are named exactly."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

from tunegate.harness.data import EvalItem, load_suite
from tunegate.harness.leakage import LeakageConfig, check_leakage

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
        msgs = [
            *(m.to_dict() for m in item.messages[:-1]),
            {"role": "user", "content": user},
            {"role": "assistant", "content": answer},
        ]
        lines.insert(rng.randrange(len(lines)), json.dumps({"messages": msgs}, ensure_ascii=False))
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = check_leakage([train], [suite], config=LeakageConfig())
    flagged = {f.id: f for f in report.flagged()}
    # The planted items, and only they, are duplicates or near duplicates of a training line.
    strong = {i for i, f in flagged.items() if f.flag in ("exact", "near_duplicate")}
    assert strong == {it.id for it in picked}
    assert {flagged[it.id].flag for it in exact} == {"exact"}
    # A near copy of the prompt with the gold answer verbatim: the answer makes it an exact copy.
    assert {flagged[it.id].flag for it in near} == {"exact"}
    assert all("near_duplicate" in flagged[it.id].checks for it in near)
    assert {flagged[it.id].matched for it in picked} == {("prompt", "reference")}
    # Other eval items written from the same templates share a 13-gram with a planted copy: the
    # GPT-3 rule reports them as partial n-gram overlap, a weaker flag than duplication.
    assert all(f.flag == "ngram" for i, f in flagged.items() if i not in strong)
    assert all(flagged[it.id].source and flagged[it.id].source.startswith(str(train)) for it in picked)
    passed, reason = report.verdict()
    assert not passed and "appear verbatim in the training data" in reason


def _edited(text: str) -> str:
    """A light edit that breaks every word 5-gram: every fourth word replaced."""
    words = text.split(" ")
    return " ".join("indeed" if k % 4 == 3 else w for k, w in enumerate(words))


def _train_line(item: EvalItem, user: str, answer: object) -> str:
    msgs = [
        *(m.to_dict() for m in item.messages[:-1]),
        {"role": "user", "content": user},
        {"role": "assistant", "content": json.dumps(answer, ensure_ascii=False)},
    ]
    return json.dumps({"messages": msgs}, ensure_ascii=False)


def test_gold_reply_copied_under_an_edited_prompt_is_flagged(tmp_path: Path) -> None:
    """Issue 13: the prompt lightly edited, the gold answer copied verbatim into a training answer."""
    suite = load_suite(SUPPORT / "eval.jsonl", name="support/eval")
    rng = random.Random(13)
    copied, reply_only, unrelated = rng.sample(list(suite.items), 3)
    lines = (SUPPORT / "train.jsonl").read_text(encoding="utf-8").splitlines()
    # 1. the whole gold answer under an edited prompt
    lines.insert(100, _train_line(copied, _edited(copied.prompt), copied.reference))
    # 2. only the gold reply copied (category and priority changed) under an edited prompt
    assert isinstance(reply_only.reference, dict)
    other = {**reply_only.reference, "category": "promo_code", "priority": "urgent"}
    lines.insert(200, _train_line(reply_only, _edited(reply_only.prompt), other))
    # 3. the whole gold answer to an unrelated e-mail: a long reference no other eval item holds
    # counts alone (the gold answer was copied, whatever prompt it was filed under)
    lines.insert(300, _train_line(unrelated, copied.prompt[::-1], unrelated.reference))
    # 4. only its reply under that unrelated e-mail: a shared reply alone is the template, no leak
    alike = {**unrelated.reference, "priority": "urgent"}
    lines.insert(400, _train_line(unrelated, copied.prompt[::-1], alike))
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")

    config = LeakageConfig()
    without = check_leakage([train], [suite], config=LeakageConfig(check_references=False))
    assert {f.id for f in without.flagged()} & {copied.id, reply_only.id} == set()  # prompts alone miss them

    report = check_leakage([train], [suite], config=config)
    flags = report.flags(suite)
    assert flags[copied.id].flag == "exact" and flags[copied.id].matched == ("reference",)
    assert flags[copied.id].source == f"{train}:101"
    assert "reference answer is verbatim the answer of a training example" in flags[copied.id].reason
    assert flags[reply_only.id].flag == "near_duplicate" and flags[reply_only.id].matched == ("reference",)
    assert flags[reply_only.id].source == f"{train}:201"
    assert flags[unrelated.id].flag == "exact" and flags[unrelated.id].source == f"{train}:301"
    assert "it counts alone" in flags[unrelated.id].reason
    assert {f.id for f in report.flagged()} == {copied.id, reply_only.id, unrelated.id}
    off = check_leakage([train], [suite], config=LeakageConfig(reference_alone_min_words=0))
    assert {f.id for f in off.flagged()} == {copied.id, reply_only.id}  # the prompt rule alone
    passed, reason = report.verdict()
    assert not passed and copied.id in reason


EDITS = {
    "four words changed": lambda w: ["kindly" if i in (3, 9, 15, 21) else x for i, x in enumerate(w)],
    "two pairs of words reordered": lambda w: w[:4] + [w[5], w[4]] + w[6:10] + [w[11], w[10]] + w[12:],
    "a sentence added": lambda w: ["Sorry", "to", "bother", "you", "again", "on", "a", "Sunday."] + w,
    "the last 30% cut": lambda w: w[: int(len(w) * 0.7)],
}


MISSED_BY_SHINGLES = {"four words changed", "two pairs of words reordered"}


def test_training_prompts_with_a_few_words_edited_are_near_duplicates() -> None:
    """A training prompt copied into the eval suite with a few words changed, reordered, added or cut
    (and a reference of its own) breaks the 13-grams and shingles, not the word order."""
    suite = load_suite(SUPPORT / "eval.jsonl", name="support/eval")
    train = [json.loads(ln) for ln in (SUPPORT / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    items = list(suite.items)
    planted = {}
    for k, (name, edit) in enumerate(EDITS.items()):
        user = next(m["content"] for m in train[100 * k + 5]["messages"] if m["role"] == "user")
        edited = " ".join(edit(user.split(" ")))
        assert edited != user
        base = items[k]
        turns = (*base.messages[:-1], replace(base.messages[-1], content=edited))
        items.append(replace(base, id=f"edited-{k}", messages=turns))
        planted[f"edited-{k}"] = (name, 100 * k + 6)
    report = check_leakage([SUPPORT / "train.jsonl"], [replace(suite, items=tuple(items))], config=LeakageConfig())
    flagged = {f.id: f for f in report.flagged()}
    assert set(flagged) == set(planted), {i: f.reason for i, f in flagged.items()}
    for item_id, (name, line) in planted.items():
        f = flagged[item_id]
        assert (f.flag, f.source) == ("near_duplicate", f"{SUPPORT / 'train.jsonl'}:{line}"), (name, f.reason)
    assert not report.passed  # 4 of 324 items: above the 1% limit
    # Without the word-level comparison (a threshold only identical prompts reach) these are missed:
    shingles_only = check_leakage(
        [SUPPORT / "train.jsonl"], [replace(suite, items=tuple(items))], config=LeakageConfig(edit_threshold=1.0)
    )
    missed = {planted[f.id][0] for f in shingles_only.items if f.id in planted and f.flag != "near_duplicate"}
    assert missed == MISSED_BY_SHINGLES, missed
    for item_id, (name, _) in planted.items():
        if name in missed:
            assert "of their words line up in order (word-level similarity, threshold 80%): a copy with a few" in (
                flagged[item_id].reason
            ), (name, flagged[item_id].reason)

"""A gold answer copied into training under a rewritten prompt (little word overlap with the eval
prompt) is leakage: with ``reference_alone_min_words`` set, a long reference no other eval item
holds counts alone. On the shipped support data the default check flags nothing (0 of 320), and
the opt-in rule names the one eval reference that equals a training answer verbatim.
"""

from __future__ import annotations

import collections
import json
import random
from pathlib import Path

from tunegate.harness.data import load_suite
from tunegate.harness.leakage import LeakageConfig, check_leakage, hashing

SUPPORT = Path(__file__).resolve().parents[2] / "suites" / "data" / "support"
ALONE = LeakageConfig(reference_alone_min_words=20)
REWRITES = [
    "Could you sort out this account matter for me today, thanks in advance.",
    "Another message from a customer about their subscription; handle it please.",
    "Please deal with the following request from our client as usual.",
    "A user wrote in again regarding billing; respond the standard way.",
    "Here is one more ticket that needs your attention this afternoon.",
]


def _overlap(a: str, b: str) -> float:
    w = hashing.words([a, b])
    first = set(w.hashes[w.offsets[0] : w.offsets[1]].tolist())
    second = set(w.hashes[w.offsets[1] : w.offsets[2]].tolist())
    return len(first & second) / len(first | second)


def test_gold_answers_under_rewritten_prompts_are_found(tmp_path: Path) -> None:
    suite = load_suite(SUPPORT / "eval.jsonl", name="support/eval")
    shared = collections.Counter(json.dumps(it.reference, sort_keys=True) for it in suite.items)
    own = [it for it in suite.items if shared[json.dumps(it.reference, sort_keys=True)] == 1]
    picked = random.Random(3).sample(own, len(REWRITES))  # references no other eval item holds
    lines = (SUPPORT / "train.jsonl").read_text(encoding="utf-8").splitlines()
    for item, prompt in zip(picked, REWRITES, strict=True):
        assert _overlap(prompt, item.prompt) < 0.3  # the rewritten prompt shares few words
        answer = json.dumps(item.reference, ensure_ascii=False)
        lines.append(json.dumps({"messages": [
            {"role": "user", "content": prompt}, {"role": "assistant", "content": answer},
        ]}, ensure_ascii=False))  # fmt: skip
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    default = {f.id for f in check_leakage([train], [suite]).flagged() if "reference" in f.matched}
    assert not default & {it.id for it in picked}  # the prompt-overlap rule alone misses them all
    flagged = {f.id: f for f in check_leakage([train], [suite], config=ALONE).flagged()}
    found = [it.id for it in picked if it.id in flagged and "reference" in flagged[it.id].matched]
    assert len(found) == len(picked), f"{len(found)} of {len(picked)} found; flagged: {sorted(flagged)}"
    assert all(flagged[it.id].flag == "exact" for it in picked)
    assert all("rewritten prompt" in flagged[it.id].reason for it in picked)


def test_the_shipped_data_by_default_and_with_the_rule() -> None:
    suite = load_suite(SUPPORT / "eval.jsonl", name="support/eval")
    train = [SUPPORT / "train.jsonl", SUPPORT / "dev.jsonl"]
    assert len(suite.items) == 320
    assert check_leakage(train, [suite]).flagged() == []
    # One eval reference equals a training answer verbatim (a templated reply to a paraphrased
    # question, train.jsonl:195): the opt-in rule names it, and nothing else.
    flagged = check_leakage(train, [suite], config=ALONE).flagged()
    assert [(f.id, f.flag) for f in flagged] == [("support-eval-0314", "exact")]
    assert flagged[0].source == f"{SUPPORT / 'train.jsonl'}:195"

"""A gold answer copied into training under a rewritten prompt (0.18-0.29 word overlap with the
eval prompt, as an outside audit rewrote them) is leakage: a long reference no other eval item
holds that a training example has as its answer counts alone, by default. The shipped support
data is clean under the same default (its generator redraws an eval case whose reply would
repeat a training one), and short or shared references never count alone.

In-process here; tests/test_hostile_leakage.py runs the same cases as a user does (the CLI and
the suite in a pytest subprocess).
"""

from __future__ import annotations

import collections
import json
import random
from pathlib import Path
from typing import Any

from tunegate.harness.data import Suite, load_suite, parse_items
from tunegate.harness.leakage import LeakageConfig, check_leakage, hashing

SUPPORT = Path(__file__).resolve().parents[2] / "suites" / "data" / "support"
OPENERS = [
    "Could you sort out this account matter for me today, thanks in advance.",
    "Another message from a customer about their subscription; handle it please.",
    "Please deal with the following request from our client as usual.",
    "A user wrote in again regarding billing; respond the standard way.",
    "Here is one more ticket that needs your attention this afternoon.",
]
LOW, HIGH = 0.18, 0.29


def overlap(a: str, b: str) -> float:
    """Jaccard of the two texts' (normalised) word sets, as the leakage check counts words."""
    w = hashing.words([a, b])
    first = set(w.hashes[w.offsets[0] : w.offsets[1]].tolist())
    second = set(w.hashes[w.offsets[1] : w.offsets[2]].tolist())
    return len(first & second) / len(first | second)


def rewrite(prompt: str, opener: str) -> str:
    """The request retold: a new opening plus just enough of the email's words for 0.18-0.29."""
    kept: list[str] = []
    text = opener
    for word in dict.fromkeys(prompt.split()):
        if overlap(text, prompt) >= LOW:
            break
        kept.append(word)
        text = f"{opener} The gist: {' '.join(kept)}"
    assert LOW <= overlap(text, prompt) <= HIGH, (text, overlap(text, prompt))
    return text


def support_eval() -> Suite:
    return load_suite(SUPPORT / "eval.jsonl", name="support/eval")


def plant_rewritten(suite: Suite, train: Path, *, seed: int = 3) -> list[str]:
    """Write the shipped train.jsonl plus five eval gold answers under rewritten prompts (chat
    lines, as the trainer reads them); the planted eval ids."""
    shared = collections.Counter(json.dumps(it.reference, sort_keys=True) for it in suite.items)
    own = [it for it in suite.items if shared[json.dumps(it.reference, sort_keys=True)] == 1]
    picked = random.Random(seed).sample(own, len(OPENERS))  # references no other eval item holds
    lines = (SUPPORT / "train.jsonl").read_text(encoding="utf-8").splitlines()
    system = suite.items[0].messages[0].content
    for item, opener in zip(picked, OPENERS, strict=True):
        answer = json.dumps(item.reference, ensure_ascii=False)
        messages = [
            {"role": "system", "content": system},
            {"role": "user", "content": rewrite(item.prompt, opener)},
            {"role": "assistant", "content": answer},
        ]
        lines.append(json.dumps({"messages": messages}, ensure_ascii=False))
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [it.id for it in picked]


def test_gold_answers_under_rewritten_prompts_are_found_by_default(tmp_path: Path) -> None:
    suite = support_eval()
    planted = plant_rewritten(suite, tmp_path / "train.jsonl")
    flagged = {f.id: f for f in check_leakage([tmp_path / "train.jsonl"], [suite]).flagged()}
    found = [i for i in planted if i in flagged and "reference" in flagged[i].matched]
    assert len(found) >= 4, f"{len(found)} of {len(planted)} found; flagged: {sorted(flagged)}"
    assert set(flagged) == set(planted)  # nothing else in the shipped data
    assert all(flagged[i].flag == "exact" and "rewritten prompt" in flagged[i].reason for i in found)
    # the prompt-overlap rule alone (the rule switched off) misses every one of them
    off = check_leakage([tmp_path / "train.jsonl"], [suite], config=LeakageConfig(reference_alone_min_words=0))
    assert not {f.id for f in off.flagged()} & set(planted)


def test_the_shipped_data_is_clean_under_the_default() -> None:
    suite = support_eval()
    assert len(suite.items) == 320
    report = check_leakage([SUPPORT / "train.jsonl", SUPPORT / "dev.jsonl"], [suite])
    assert report.flagged() == [], [f.to_dict() for f in report.flagged()]


def _chat(prompt: str, answer: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]}


def _suite(rows: list[dict[str, Any]]) -> Suite:
    return Suite("eval", tuple(parse_items("\n".join(json.dumps(r) for r in rows).encode(), "eval.jsonl")))


def test_short_shared_and_stock_references_never_count_alone(tmp_path: Path) -> None:
    stock = (
        "Thank you for reaching out to us. Our team has received your message and a specialist will "
        "reply within two business days with the next steps for your request."
    )  # 29 words
    distinct = (
        "The ledger for the Okapi account closed at 4,812.50 after the March reconciliation, and the "
        "auditor signed the variance memo on the ninth; nothing else is outstanding."
    )
    rows = [
        {"id": "yes", "messages": [{"role": "user", "content": "Is the sky blue on a clear day?"}], "reference": "Yes."},
        {"id": "stock", "messages": [{"role": "user", "content": "My parcel never arrived."}], "reference": stock},
        {"id": "twin-a", "messages": [{"role": "user", "content": "Ledger status, please."}], "reference": distinct},
        {"id": "twin-b", "messages": [{"role": "user", "content": "Where do the books stand?"}], "reference": distinct},
    ]  # fmt: skip
    train = [_chat(f"Unrelated question number {i} about gardening tools.", stock) for i in range(12)]
    train += [_chat("Totally different text about weather.", "Yes."), _chat("Summarise the audit.", distinct)]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in train), encoding="utf-8")
    assert check_leakage([path], [_suite(rows)]).flagged() == []  # short, stock (12 copies), held twice
    alone = _suite(rows[:3])  # "distinct" now belongs to one eval item: it counts alone
    assert [(f.id, f.flag) for f in check_leakage([path], [alone]).flagged()] == [("twin-a", "exact")]

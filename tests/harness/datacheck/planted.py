"""A planted training set: every problem the data check must name, each at a known line."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RNG = random.Random(20240611)
VOCAB = [
    f"{RNG.choice('bcdfghjklmnpqrstvwz')}{RNG.choice('aeiou')}{RNG.choice('lmnrst')}{i}" for i in range(3000)
]
SYSTEM = "Answer with the label and a confidence."


def words(n: int, rng: random.Random) -> str:
    return " ".join(rng.choice(VOCAB) for _ in range(n))


def chat(prompt: str, answer: str, **extra: Any) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": answer},
        ],
        **extra,
    }


@dataclass
class Planted:
    train: Path
    eval: Path
    tiny: Path
    lines: dict[str, int] = field(default_factory=dict)
    """What was planted -> its line number in ``train``."""
    eval_line: int = 0


def build(tmp: Path, n: int = 40) -> Planted:
    rng = random.Random(7)
    evals = [
        {
            "id": f"ev-{k}",
            "messages": [{"role": "user", "content": words(30, rng)}],
            "reference": f"The label is x{k}.",
        }
        for k in range(1, 6)
    ]
    rows: list[dict[str, Any]] = []
    for k in range(n):
        # uniform answers: same opening, two lines, (nearly) the same length; a skewed tag
        rows.append(
            chat(
                words(30, rng), f"The label is L{k % 10}.\nConfidence: high", tags={"kind": "a" if k else "b"}
            )
        )
    lines: dict[str, int] = {}

    def put(name: str, line: int, row: dict[str, Any]) -> None:
        rows[line - 1] = row
        lines[name] = line

    put("exact_original", 2, rows[1])
    put("exact_copy", 5, json.loads(json.dumps(rows[1])))
    near = rows[2]["messages"][1]["content"].split()
    near[-1] = "changedword"
    put("near_copy", 8, chat(" ".join(near), rows[2]["messages"][2]["content"], tags={"kind": "a"}))
    lines["near_original"] = 3
    put("eval_copy", 10, chat(evals[1]["messages"][0]["content"], evals[1]["reference"], tags={"kind": "a"}))
    pii = {
        "email": "Please write to jane.doe@example.com about it.",
        "phone": "You can ring me on +44 20 7946 0958 tomorrow.",
        "card": "My card 4111 1111 1111 1111 was charged twice.",
        "iban": "Refund to IBAN GB82 WEST 1234 5698 7654 32 please.",
    }
    for k, (name, text) in enumerate(pii.items()):
        put(
            f"pii_{name}",
            12 + k,
            chat(f"{words(12, rng)} {text}", f"The label is L{k}.\nConfidence: high", tags={"kind": "a"}),
        )
    text = "\n".join(json.dumps(r) for r in rows) + "\n"
    text += "{not json\n"
    lines["bad_json"] = n + 1
    text += json.dumps({"messages": [{"role": "user", "content": "no answer here"}]}) + "\n"
    lines["no_answer"] = n + 2
    text += (
        json.dumps(chat("<script>alert('x')</script> escape me", "The label is L1.\nConfidence: high")) + "\n"
    )
    lines["html"] = n + 3
    train = tmp / "planted.jsonl"
    train.write_text(text)
    ev = tmp / "eval.jsonl"
    ev.write_text("\n".join(json.dumps(e) for e in evals) + "\n")
    tiny = tmp / "tiny.jsonl"
    tiny.write_text("\n".join(json.dumps(chat(words(20, rng), f"answer {k}")) for k in range(3)) + "\n")
    return Planted(train, ev, tiny, lines, eval_line=2)

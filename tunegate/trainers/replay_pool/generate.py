#!/usr/bin/env python3
"""Generate the replay prompt pool: general prompts whose base-model answers are mixed into training.

    python tunegate/trainers/replay_pool/generate.py          # rewrite general_prompts.jsonl
    python tunegate/trainers/replay_pool/generate.py --check  # exit 1 if the file differs from the output

Standard library only, seeded, byte-identical on every run. The prompts were written for this
pool: the same four kinds as tunegate's general eval suites (factual questions, arithmetic,
instruction following, reading a short text), but other facts, other templates, other wording
and other passages, so that no prompt is an eval item or a near copy of one. That is checked
twice: here (no prompt equals an eval prompt after normalisation, or the script stops) and in
``tests/trainers/test_replay_leakage.py`` (the leakage engine finds no overlap between the pool,
the replay data built from it and every eval suite). See README.md beside this file.

A line is ``{"id", "messages", "tags": {"task": KIND}}`` plus, where the answer can be checked,
``"expected"``: the list of acceptable answers (strings; a number is written as its digits). The
capital questions, every arithmetic prompt and every reading prompt carry one; the other factual
questions and the instruction prompts do not. The replay build keeps the base's answer to a
prompt with a key only when it is right (``tunegate/trainers/replay.py``, ``answer_is_right``).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "general_prompts.jsonl"
EVAL_DIRS = (HERE.parents[1] / "harness" / "general",)
SEED = 1515
PER_KIND = 60

SHORT = "Keep the answer short."
ONE = "Reply in one word."
NUM = "Give only the result."

# Capitals that are not in general/factual_qa, asked in other words. The first name is the
# capital; the others are spellings a right answer may use instead (ALIASES).
CAPITALS = [
    ("Argentina", "Buenos Aires"),
    ("Mexico", "Mexico City"),
    ("the Netherlands", "Amsterdam"),
    ("India", "New Delhi"),
    ("Ukraine", "Kyiv"),
    ("Romania", "Bucharest"),
    ("Colombia", "Bogota"),
    ("Morocco", "Rabat"),
    ("Ghana", "Accra"),
    ("Ethiopia", "Addis Ababa"),
    ("Saudi Arabia", "Riyadh"),
    ("New Zealand", "Wellington"),
    ("Malaysia", "Kuala Lumpur"),
    ("Iceland", "Reykjavik"),
    ("Croatia", "Zagreb"),
    ("Bulgaria", "Sofia"),
    ("Uruguay", "Montevideo"),
    ("Nepal", "Kathmandu"),
    ("Mongolia", "Ulaanbaatar"),
    ("Senegal", "Dakar"),
]
ALIASES = {
    "Kyiv": ["Kiev"],
    "Bogota": ["Bogotá"],
    "Reykjavik": ["Reykjavík"],
    "Ulaanbaatar": ["Ulan Bator"],
}
CAPITAL_FORMS = [
    "Which city is the capital of {c}? " + ONE,
    "Name the capital city of {c}. " + SHORT,
    "{c} has which city as its capital? " + ONE,
]

# Everyday and school facts that general/factual_qa does not ask.
FACTS = [
    "How many wheels does a bicycle have? " + NUM,
    "How many wheels does a tricycle have? " + NUM,
    "How many seconds are in one minute? " + NUM,
    "How many days does a leap year have? " + NUM,
    "How many strings does a standard violin have? " + NUM,
    "How many players are on a soccer team on the field? " + NUM,
    "How many continents are there on Earth? " + NUM,
    "How many colors are in a rainbow? " + NUM,
    "Which animal is known for carrying its house on its back? " + ONE,
    "Which animal has a long trunk? " + ONE,
    "Which animal produces wool? " + ONE,
    "Which insect makes a web? " + ONE,
    "Which bird cannot fly and lives in Antarctica? " + ONE,
    "What do you call a young sheep? " + ONE,
    "What do you call a young horse? " + ONE,
    "What is the main ingredient of bread? " + ONE,
    "What do you use to write on a blackboard? " + ONE,
    "Which season is usually the coldest? " + ONE,
    "Which month comes after March? " + ONE,
    "Which day comes after Friday? " + ONE,
    "Which gas do plants take in from the air? " + SHORT,
    "Which organ helps us breathe? " + ONE,
    "Which part of a plant is usually under the ground? " + ONE,
    "Which planet has the largest rings? " + ONE,
    "Which ocean lies between Africa and Australia? " + ONE,
    "Which country is famous for the Eiffel Tower? " + ONE,
    "Which country has the city of Sydney? " + ONE,
    "Which tool is used to cut paper? " + ONE,
    "Which color do you get by mixing red and blue? " + ONE,
    "Which color do you get by mixing red and yellow? " + ONE,
    "Which direction does the sun rise in? " + ONE,
    "Which sense do we use our nose for? " + ONE,
    "Which language is spoken in Mexico? " + ONE,
    "Which language is spoken in Italy? " + ONE,
    "Which instrument has six strings and is often played at campfires? " + ONE,
    "Which sport uses a bat and a ball and is popular in India? " + ONE,
    "Which fruit is yellow and curved? " + ONE,
    "Which vegetable is orange and loved by rabbits? " + ONE,
    "Which animal is the largest mammal in the sea? " + SHORT,
    "Which reddish metal is used in electric wires? " + ONE,
]

# Arithmetic in other templates than general/arithmetic ("What is a + b?", "Calculate a minus b").
ARITH_FORMS = [
    ("Add {a} and {b}. " + NUM, lambda a, b: a + b),
    ("What is the sum of {a} and {b}? " + NUM, lambda a, b: a + b),
    ("Subtract {b} from {a}. " + NUM, lambda a, b: a - b),
    ("What is the difference between {a} and {b}? " + NUM, lambda a, b: a - b),
    ("Multiply {a} by {b}. " + NUM, lambda a, b: a * b),
    ("What is the product of {a} and {b}? " + NUM, lambda a, b: a * b),
    ("Tom has {a} marbles and finds {b} more. How many marbles does he have now? " + NUM, lambda a, b: a + b),
    ("A box holds {a} pens. {b} pens are taken out. How many pens are left? " + NUM, lambda a, b: a - b),
]

# Instruction following with formats that can be checked, in other words than general/instructions.
TOPICS = [
    "the ocean",
    "a library",
    "a train",
    "the moon",
    "autumn",
    "a bakery",
    "a river",
    "music",
    "a market",
    "the desert",
    "a violin",
    "a lighthouse",
    "a kite",
    "a volcano",
    "a garden party",
]
INSTRUCTION_FORMS = [
    "Give one sentence about {t} and finish it with a question mark.",
    "Tell me about {t} in exactly three words.",
    "Write two short sentences about {t}.",
    'Begin your reply with the word "Hello" and then say one thing about {t}.',
    "Write a short line about {t} using only lowercase letters.",
    'Produce a JSON object whose field "topic" is "{t}". Print nothing else.',
    "Name three things you can find at {t}, separated by commas.",
    "Write a title for a story about {t}. Use capital letters only.",
]

# Reading: new passages and a different instruction than general/reading.
NAMES = ["Maria", "Hugo", "Aisha", "Lars", "Mei", "Pablo", "Zoe", "Ivan", "Noor", "Felix", "Ines", "Kofi"]
TOWNS = ["Porto", "Lyon", "Graz", "Cork", "Bergen", "Leeds", "Turin", "Malmo", "Ghent", "Basel"]
ANIMALS = ["goats", "ducks", "rabbits", "horses", "hens", "sheep"]
THINGS = ["a red bicycle", "a blue scarf", "a wooden chair", "a small radio", "a green lamp"]
JOBS = ["nurse", "baker", "pilot", "gardener", "teacher", "plumber"]
READ = "Use the passage to answer. Reply with a single word."


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


Prompt = tuple[str, list[str] | None, dict[str, Any] | None]
"""A prompt's text, its acceptable answers and its instruction check (None: not checkable)."""

# Instruction forms the general suites' checks can verify (tunegate/harness/general/checks.py,
# ``check_instruction``); "{t}" in a value is the topic. The other forms stay unchecked.
INSTRUCTION_CHECKS: dict[str, dict[str, Any]] = {
    "Tell me about {t} in exactly three words.": {"check": "word_count", "n": 3},
    'Begin your reply with the word "Hello" and then say one thing about {t}.': {
        "check": "starts_with",
        "prefix": "Hello",
    },
    "Write a short line about {t} using only lowercase letters.": {"check": "lowercase"},
    'Produce a JSON object whose field "topic" is "{t}". Print nothing else.': {
        "check": "json_key",
        "key": "topic",
        "value": "{t}",
    },
    "Write a title for a story about {t}. Use capital letters only.": {"check": "all_caps"},
}


def instruction_check(form: str, topic: str) -> dict[str, Any] | None:
    meta = INSTRUCTION_CHECKS.get(form)
    if meta is None:
        return None
    return {k: v.format(t=topic) if isinstance(v, str) else v for k, v in meta.items()}


def factual(rng: random.Random) -> list[Prompt]:
    caps: list[Prompt] = []
    for i, (country, capital) in enumerate(CAPITALS):
        text = CAPITAL_FORMS[i % len(CAPITAL_FORMS)].format(c=country)
        caps.append((text[0].upper() + text[1:], [capital, *ALIASES.get(capital, [])], None))
    return caps + [(f, None, None) for f in FACTS]


def arithmetic(rng: random.Random) -> list[Prompt]:
    out: list[Prompt] = []
    seen: set[str] = set()
    while len(out) < PER_KIND:
        form, op = ARITH_FORMS[len(out) % len(ARITH_FORMS)]
        if "Multiply" in form or "product" in form:
            a, b = rng.randint(2, 12), rng.randint(2, 9)
        else:
            a, b = rng.randint(12, 90), rng.randint(2, 11)
        text = form.format(a=a, b=b)
        if text not in seen:
            seen.add(text)
            out.append((text, [str(op(a, b))], None))
    return out


def instructions(rng: random.Random) -> list[Prompt]:
    pairs = [(f, t) for f in INSTRUCTION_FORMS for t in TOPICS]
    rng.shuffle(pairs)
    return [(f.format(t=t), None, instruction_check(f, t)) for f, t in pairs[:PER_KIND]]


def reading(rng: random.Random) -> list[Prompt]:
    out: list[Prompt] = []
    seen: set[str] = set()
    while len(out) < PER_KIND:
        name, town = rng.choice(NAMES), rng.choice(TOWNS)
        kind = len(out) % 3
        if kind == 0:
            n, animal = rng.randint(2, 9), rng.choice(ANIMALS)
            passage = f"{name} keeps {n} {animal} on a farm near {town}. Every morning {name} feeds them before breakfast."
            questions = {f"What animals does {name} keep?": animal, "Near which town is the farm?": town}
        elif kind == 1:
            thing, day = rng.choice(THINGS), rng.choice(["Monday", "Wednesday", "Thursday", "Saturday"])
            passage = f"On {day} {name} sold {thing} at the market in {town}. The buyer paid in cash."
            questions = {f"On which day did {name} sell it?": day, "In which town was the market?": town}
        else:
            job = rng.choice(JOBS)
            passage = f"{name} has worked as a {job} in {town} for ten years. {name} walks to work each day."
            questions = {f"What is {name}'s job?": job, f"Where does {name} work?": town}
        question = rng.choice(list(questions))
        text = f"{READ}\n\nPassage: {passage}\n\nQuestion: {question}"
        if text not in seen:
            seen.add(text)
            out.append((text, [questions[question]], None))
    return out


def build() -> list[dict[str, Any]]:
    rng = random.Random(SEED)
    rows: list[dict[str, Any]] = []
    for kind, make in (
        ("factual", factual),
        ("arithmetic", arithmetic),
        ("instructions", instructions),
        ("reading", reading),
    ):
        prompts = make(rng)
        if len(prompts) != PER_KIND:
            raise SystemExit(f"{kind}: {len(prompts)} prompts, expected {PER_KIND}")
        for i, (text, expected, check) in enumerate(prompts, 1):
            row: dict[str, Any] = {
                "id": f"replay-{kind}-{i:03d}",
                "messages": [{"role": "user", "content": text}],
                "tags": {"task": kind},
            }
            if expected is not None:
                row["expected"] = expected
            if check is not None:
                row["check"] = check
            rows.append(row)
    return rows


def eval_prompts() -> set[str]:
    out: set[str] = set()
    for folder in EVAL_DIRS:
        for path in sorted(folder.glob("*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    msgs = json.loads(line)["messages"]
                    out.add(_norm(" ".join(m["content"] for m in msgs if m["role"] == "user")))
    return out


def render(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the checked-in file differs")
    args = parser.parse_args(argv)
    rows = build()
    taken = eval_prompts()
    clash = [r["id"] for r in rows if _norm(r["messages"][0]["content"]) in taken]
    if clash:
        print(f"prompts equal to eval items: {clash}", file=sys.stderr)
        return 1
    text = render(rows)
    if args.check:
        same = OUT.is_file() and OUT.read_text(encoding="utf-8") == text
        print(f"{OUT}: {'up to date' if same else 'differs from the generator output'}")
        return 0 if same else 1
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {len(rows)} prompts to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

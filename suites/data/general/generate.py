#!/usr/bin/env python3
"""Generate the general-capability suites: factual_qa, arithmetic, instructions, reading.

    python suites/data/general/generate.py          # rewrite the four JSONL files in tunegate/harness/general
    python suites/data/general/generate.py --check  # exit 1 if the files differ from the output

Standard library only, seeded, byte-identical on every run. The questions were written for
this project (easy on purpose: the default base model has 135M parameters); see README.md.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[2] / "tunegate" / "harness" / "general"
"""Where the suites live: package data of ``tunegate.harness.general``, so they ship in the wheel."""
SEED = 4242

WORD = "Answer with just one word."
NUMBER = "Answer with just the number."
CITY = "Answer with just the city name."

# (question, answer, difficulty, answer instruction)
FACTS: list[tuple[str, str, str, str]] = [
    *[
        (f"What is the capital of {country}?", city, level, CITY)
        for country, city, level in [
            ("France", "Paris", "easy"),
            ("Japan", "Tokyo", "easy"),
            ("Italy", "Rome", "easy"),
            ("Spain", "Madrid", "easy"),
            ("Germany", "Berlin", "easy"),
            ("Russia", "Moscow", "easy"),
            ("China", "Beijing", "easy"),
            ("Egypt", "Cairo", "easy"),
            ("Greece", "Athens", "easy"),
            ("England", "London", "easy"),
            ("Portugal", "Lisbon", "medium"),
            ("Ireland", "Dublin", "medium"),
            ("Norway", "Oslo", "medium"),
            ("Sweden", "Stockholm", "medium"),
            ("Austria", "Vienna", "medium"),
            ("Poland", "Warsaw", "medium"),
            ("Thailand", "Bangkok", "medium"),
            ("Kenya", "Nairobi", "medium"),
            ("South Korea", "Seoul", "medium"),
            ("Cuba", "Havana", "medium"),
            ("Peru", "Lima", "medium"),
            ("Denmark", "Copenhagen", "medium"),
            ("Finland", "Helsinki", "medium"),
            ("Hungary", "Budapest", "medium"),
            ("the Czech Republic", "Prague", "medium"),
            ("Belgium", "Brussels", "medium"),
            ("Iran", "Tehran", "medium"),
            ("Iraq", "Baghdad", "medium"),
            ("the Philippines", "Manila", "medium"),
            ("Indonesia", "Jakarta", "medium"),
            ("Vietnam", "Hanoi", "medium"),
            ("Chile", "Santiago", "medium"),
            ("Scotland", "Edinburgh", "medium"),
            ("Canada", "Ottawa", "hard"),
            ("Australia", "Canberra", "hard"),
            ("Turkey", "Ankara", "hard"),
            ("Switzerland", "Bern", "hard"),
            ("Nigeria", "Abuja", "hard"),
        ]
    ],
    ("What planet do we live on?", "Earth", "easy", WORD),
    ("What is the largest planet in our solar system?", "Jupiter", "medium", WORD),
    ("Which planet is known as the Red Planet?", "Mars", "easy", WORD),
    ("Which planet is closest to the Sun?", "Mercury", "hard", WORD),
    ("What star is at the center of our solar system?", "Sun", "easy", WORD),
    ("What is the natural satellite of the Earth called?", "Moon", "easy", WORD),
    ("What gas do humans need to breathe in to stay alive?", "Oxygen", "easy", WORD),
    ("What is frozen water called?", "Ice", "easy", WORD),
    ("What liquid has the chemical formula H2O?", "Water", "easy", WORD),
    ("At how many degrees Celsius does water freeze?", "0", "medium", NUMBER),
    ("At how many degrees Celsius does water boil?", "100", "medium", NUMBER),
    ("How many legs does an insect have?", "6", "medium", NUMBER),
    ("How many legs does a spider have?", "8", "medium", NUMBER),
    ("What organ pumps blood through the body?", "Heart", "easy", WORD),
    ("What organ do we use to think?", "Brain", "easy", WORD),
    ("What force pulls objects toward the ground?", "Gravity", "easy", WORD),
    ("Which metal is liquid at room temperature?", "Mercury", "hard", WORD),
    ("What is the chemical symbol for gold?", "Au", "hard", WORD),
    ("What is the hardest natural material?", "Diamond", "medium", WORD),
    ("How many planets are in our solar system?", "8", "medium", NUMBER),
    ("What color are the leaves of most plants in summer?", "Green", "easy", WORD),
    ("What sweet food do bees make?", "Honey", "easy", WORD),
    ("What is the largest ocean on Earth?", "Pacific", "medium", WORD),
    ("What is the tallest animal in the world?", "Giraffe", "easy", WORD),
    ("What is the fastest land animal?", "Cheetah", "medium", WORD),
    ("Which bird is a symbol of peace?", "Dove", "medium", WORD),
    ("What is the opposite of hot?", "Cold", "easy", WORD),
    ("What is the opposite of up?", "Down", "easy", WORD),
    ("What is the opposite of day?", "Night", "easy", WORD),
    ("How many days are in a week?", "7", "easy", NUMBER),
    ("How many months are in a year?", "12", "easy", NUMBER),
    ("How many hours are in a day?", "24", "easy", NUMBER),
    ("How many minutes are in an hour?", "60", "easy", NUMBER),
    ("How many sides does a triangle have?", "3", "easy", NUMBER),
    ("How many sides does a square have?", "4", "easy", NUMBER),
    ("How many sides does a hexagon have?", "6", "medium", NUMBER),
    ("What shape has no corners and is perfectly round?", "Circle", "easy", WORD),
    ("What color do you get when you mix blue and yellow?", "Green", "medium", WORD),
    ("What color do you get when you mix red and white?", "Pink", "medium", WORD),
    ("What color is the sky on a clear day?", "Blue", "easy", WORD),
    ("What color is a ripe banana?", "Yellow", "easy", WORD),
    ("What color is snow?", "White", "easy", WORD),
    ("What is the first month of the year?", "January", "easy", WORD),
    ("What is the last month of the year?", "December", "easy", WORD),
    ("What day comes after Monday?", "Tuesday", "easy", WORD),
    ("What day comes before Sunday?", "Saturday", "medium", WORD),
    ("What season comes after winter?", "Spring", "easy", WORD),
    ("What season comes after summer?", "Autumn", "medium", WORD),
    ("Which animal says moo?", "Cow", "easy", WORD),
    ("What is a baby dog called?", "Puppy", "easy", WORD),
    ("What is a baby cat called?", "Kitten", "easy", WORD),
    ("Which animal is called the king of the jungle?", "Lion", "easy", WORD),
    ("What is a house made of snow blocks called?", "Igloo", "medium", WORD),
    ("What language is mainly spoken in Brazil?", "Portuguese", "medium", WORD),
    ("What language is mainly spoken in France?", "French", "easy", WORD),
    ("What language is mainly spoken in Germany?", "German", "easy", WORD),
    ("What language is mainly spoken in Japan?", "Japanese", "easy", WORD),
    ("What is the currency of Japan?", "Yen", "medium", WORD),
    ("What is the currency of the United States?", "Dollar", "easy", WORD),
    ("What is the currency of most countries in the European Union?", "Euro", "medium", WORD),
    ("Who wrote the play Romeo and Juliet? Give the surname.", "Shakespeare", "medium", WORD),
    ("On which continent is Egypt?", "Africa", "medium", WORD),
    ("On which continent is France?", "Europe", "easy", WORD),
    ("On which continent is Japan?", "Asia", "easy", WORD),
    ("What is the largest continent?", "Asia", "medium", WORD),
    ("What is the longest river in Africa?", "Nile", "medium", WORD),
    ("What is the largest hot desert in Africa?", "Sahara", "medium", WORD),
    ("What musical instrument has black and white keys?", "Piano", "easy", WORD),
    ("Which sport is played at Wimbledon?", "Tennis", "medium", WORD),
    ("What fruit is used to make guacamole?", "Avocado", "medium", WORD),
    ("What do caterpillars turn into?", "Butterflies", "medium", WORD),
    ("What is the color of a ruby?", "Red", "easy", WORD),
    ("What do you call a person who flies an airplane?", "Pilot", "easy", WORD),
    ("What do you call a doctor for animals?", "Veterinarian", "hard", WORD),
    ("What do we call the meal eaten in the morning?", "Breakfast", "easy", WORD),
    ("Which body part do we use to hear?", "Ears", "easy", WORD),
]

NAMES = [
    "Amara", "Kenji", "Lucia", "Tomas", "Priya", "Omar", "Ingrid", "Mateo", "Aisha", "Wei",
    "Nadia", "Kofi", "Elena", "Ravi", "Sofia", "Hugo", "Leila", "Jonas", "Mei", "Diego",
]  # fmt: skip
COLORS = ["red", "blue", "green", "yellow", "black", "white", "purple", "orange"]
PLACES = ["library", "market", "park", "school", "office", "station", "bakery", "beach"]
CITIES = ["Lisbon", "Nairobi", "Osaka", "Toronto", "Lima", "Dublin", "Hanoi", "Oslo", "Cairo", "Quito"]
PETS = [
    ("cat", ["Luna", "Milo", "Pepper"]),
    ("dog", ["Rex", "Biscuit", "Max"]),
    ("rabbit", ["Snowy", "Clover", "Hops"]),
]
FOODS = ["bread", "cheese", "apples", "fish", "cakes", "soup", "rice", "tea"]
STREETS = ["Maple", "River", "Hill", "Bridge", "Garden", "Station", "Church", "Market"]
TREES = ["apple", "cherry", "lemon", "pear", "olive", "plum"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
EVENTS = ["fair", "concert", "zoo", "museum", "festival", "circus"]
ITEMS = ["hat", "kite", "book", "lamp", "scarf", "ball", "map", "cup"]
JOBS = ["nurse", "doctor", "cook", "cleaner", "driver", "guard"]
FRUITS = ["mangoes", "strawberries", "bananas", "peaches", "grapes", "kiwis"]
RELATIVES = ["grandmother", "grandfather", "aunt", "uncle", "cousin", "sister", "brother"]


def row(task: str, i: int, prompt: str, reference: str, difficulty: str, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": f"{task}-{i:03d}",
        "messages": [{"role": "user", "content": prompt}],
        "reference": reference,
        "tags": {"task": task, "difficulty": difficulty, **extra.pop("tags", {})},
    }
    out.update(extra)
    return out


def factual_qa(rng: random.Random) -> list[dict[str, Any]]:
    return [
        row("factual_qa", i, f"{q} {how}", a, level) for i, (q, a, level, how) in enumerate(FACTS, start=1)
    ]


def _value(a: int, op: str, b: int) -> int:
    return a + b if op == "+" else a - b if op == "-" else a * b


def arithmetic(rng: random.Random) -> list[dict[str, Any]]:
    specs: list[tuple[str, Callable[[], tuple[int, str, int]]]] = []

    def add(lo: int, hi: int, lo2: int, hi2: int) -> tuple[int, str, int]:
        a, b = rng.randint(lo, hi), rng.randint(lo2, hi2)
        return a, "+", b

    def sub(lo: int, hi: int, lo2: int, hi2: int) -> tuple[int, str, int]:
        a, b = rng.randint(lo, hi), rng.randint(lo2, hi2)
        return max(a, b), "-", min(a, b)

    def mul(lo: int, hi: int) -> tuple[int, str, int]:
        return rng.randint(lo, hi), "*", rng.randint(lo, hi)

    specs += [("easy", lambda: add(1, 9, 1, 9))] * 35
    specs += [("easy", lambda: sub(2, 9, 1, 9))] * 15
    specs += [("medium", lambda: add(10, 50, 1, 9))] * 20
    specs += [("medium", lambda: sub(10, 50, 1, 9))] * 10
    specs += [("hard", lambda: mul(2, 9))] * 20
    specs += [("hard", lambda: add(10, 60, 10, 40))] * 20
    rows = []
    seen: set[tuple[int, str, int]] = set()
    for level, make in specs:
        a, op, b = make()
        # The answer is never an operand, so echoing the question cannot contain it.
        while (a, op, b) in seen or _value(a, op, b) in (a, b):
            a, op, b = make()
        seen.add((a, op, b))
        value = _value(a, op, b)
        shown = {"+": "plus", "-": "minus", "*": "times"}[op]
        prompt = rng.choice(
            [
                f"What is {a} {shown} {b}?",
                f"What is {a} {op.replace('*', 'x')} {b}?",
                f"Calculate {a} {shown} {b}.",
            ]
        )
        rows.append((level, prompt, str(value), op))
    rng.shuffle(rows)
    ops = {"+": "addition", "-": "subtraction", "*": "multiplication"}
    return [
        row("arithmetic", i, f"{p} {NUMBER}", ref, level, tags={"operation": ops[op]})
        for i, (level, p, ref, op) in enumerate(rows, start=1)
    ]


def instructions(rng: random.Random) -> list[dict[str, Any]]:
    made: list[tuple[str, str, str, dict[str, Any]]] = []  # prompt, reference, difficulty, meta

    def add(prompt: str, reference: str, level: str, check: str, **params: Any) -> None:
        made.append((prompt, reference, level, {"check": check, **params}))

    for text in ["GOOD MORNING", "SEE YOU SOON", "THANK YOU", "HAPPY BIRTHDAY", "WELCOME HOME", "WELL DONE"]:
        add(f'Repeat this text exactly: "{text}"', text, "easy", "all_caps", text=text)
    for word in ["blue", "apple", "river", "happy", "garden", "tiger"]:
        add(
            f'Write the word "{word}" in capital letters. Reply with only that word.',
            word.upper(),
            "hard",
            "all_caps",
            text=word.upper(),
        )
    for text in [
        "see you later",
        "good night",
        "thank you very much",
        "have a nice day",
        "all is well",
        "time for lunch",
    ]:
        add(f'Repeat this text exactly: "{text}"', text, "easy", "lowercase", text=text)
    for text in ["Good Morning Everyone", "The Cat Sat On The Mat", "My Name Is Sam", "Rain Falls In April"]:
        add(
            f'Rewrite this in lowercase letters only: "{text}"',
            text.lower(),
            "hard",
            "lowercase",
            text=text.lower(),
        )
    for key, value in [("name", "Sam"), ("color", "blue"), ("city", "Paris"), ("animal", "cat"), ("fruit", "apple"),
                       ("day", "Monday"), ("x", "1"), ("answer", "yes"), ("size", "large"), ("pet", "dog")]:  # fmt: skip
        add(
            f'Respond with a JSON object that has the key "{key}" with the value "{value}". Output only the JSON.',
            json.dumps({key: value}),
            "medium",
            "json_key",
            key=key,
            value=value,
        )
    for key, q, a in [("capital", "What is the capital of France?", "Paris"), ("color", "What color is the sun?", "yellow"),
                      ("number", "How many legs does a dog have?", "4"), ("animal", "Which animal says meow?", "cat"),
                      ("answer", "Is fire hot?", "yes")]:  # fmt: skip
        add(
            f'{q} Respond with a JSON object with the key "{key}". Output only the JSON.',
            json.dumps({key: a}),
            "hard",
            "json_key",
            key=key,
        )
    for prefix, questions in [
        ("Yes", ["Is water wet?", "Is the sun hot?", "Can birds fly?", "Is snow cold?", "Do fish swim?",
                 "Is grass green?", "Is ice cold?", "Do dogs bark?", "Is the sky blue?", "Can people walk?"]),
        ("No", ["Is fire cold?", "Can fish climb trees?", "Is the moon made of cheese?", "Do cats bark?", "Is the sea dry?"]),
        ("Sure", ["Can you help me?", "Will you answer my question?", "Can you name a color?", "Can you count to three?",
                  "Can you name a fruit?"]),
    ]:  # fmt: skip
        for q in questions:
            add(
                f'Answer the question and start your answer with "{prefix}": {q}',
                f"{prefix}.",
                "medium",
                "starts_with",
                prefix=prefix,
            )
    for q in ["What is a cat?", "Why do we sleep?", "What is rain?", "Where do fish live?", "What does a teacher do?",
              "What is bread made from?", "Why is the sky blue?", "What is a library?", "What do plants need?",
              "What is a bicycle?", "Why do birds sing?", "What is the moon?", "What does a baker do?",
              "What is snow?", "Why do we drink water?"]:  # fmt: skip
        n = rng.choice((10, 12, 15))
        add(f"{q} Answer in at most {n} words.", "It is a short answer.", "medium", "max_words", n=n)
    for topic, word in [("the sea", "water"), ("winter", "cold"), ("the sun", "hot"), ("a dog", "tail"), ("a garden", "flowers"),
                        ("a birthday", "cake"), ("the night sky", "stars"), ("a farm", "cows"), ("a school", "teacher"),
                        ("a kitchen", "food"), ("a forest", "trees"), ("the rain", "wet"), ("a beach", "sand"),
                        ("a library", "books"), ("a city", "streets")]:  # fmt: skip
        add(
            f'Write one sentence about {topic}. Use the word "{word}".',
            f"I like the {word}.",
            "easy",
            "contains_word",
            word=word,
        )
    for thing in ["a cat", "the sun", "your favorite food", "a tree", "the ocean", "a car", "a rainy day", "a good friend",
                  "a mountain", "a river"]:  # fmt: skip
        add(
            f"Describe {thing} in one short sentence. Do not use any commas.",
            "It is very nice.",
            "medium",
            "no_comma",
        )
    for q, a in [("What color is the sky?", "blue"), ("What animal says moo?", "cow"), ("What is frozen water?", "ice"),
                 ("Name a fruit.", "apple"), ("What do bees make?", "honey")]:  # fmt: skip
        add(f"Reply with exactly one word: {q}", a, "hard", "word_count", n=1)
    for q in ["What is your favorite color?", "Tell me about the sea.", "Describe a tree.", "Say something about dogs.",
              "Give me a short tip."]:  # fmt: skip
        add(
            f'{q} End your answer with the word "Done".',
            "I like blue. Done",
            "hard",
            "ends_with",
            suffix="Done",
        )
    rng.shuffle(made)
    return [
        row("instructions", i, p, ref, level, tags={"check": meta["check"]}, meta=meta)
        for i, (p, ref, level, meta) in enumerate(made, start=1)
    ]


def _passage(rng: random.Random) -> tuple[str, list[tuple[str, str, str]]]:
    """(passage, [(question, answer span, difficulty)]) built from small frames."""
    name, other = rng.sample(NAMES, 2)
    frame = rng.randrange(8)
    if frame == 0:
        color, place = rng.choice(COLORS), rng.choice(PLACES)
        text = f"{name} has a {color} bicycle. Every morning, {name} rides it to the {place} and back."
        qs = [
            (f"What color is {name}'s bicycle?", color, "easy"),
            (f"Where does {name} ride every morning?", place, "medium"),
        ]
    elif frame == 1:
        city = rng.choice(CITIES)
        animal, pets = rng.choice(PETS)
        pet = rng.choice(pets)
        text = f"{name} lives in {city} with a small {animal} named {pet}. They go for a walk every evening."
        qs = [
            (f"In which city does {name} live?", city, "easy"),
            (f"What is the name of the {animal}?", pet, "medium"),
        ]
    elif frame == 2:
        street, hour = rng.choice(STREETS), rng.randint(6, 10)
        food, food2 = rng.sample(FOODS, 2)
        text = f"The shop on {street} Street opens at {hour} o'clock. It sells fresh {food} and {food2}."
        qs = [
            (f"At what hour does the shop open? {NUMBER}", str(hour), "medium"),
            ("What street is the shop on?", street, "easy"),
        ]
    elif frame == 3:
        n, tree = rng.randint(2, 9), rng.choice(TREES)
        text = f"Last spring, {name} planted {n} {tree} trees in the garden. This year the trees gave their first fruit."
        qs = [
            (f"How many trees did {name} plant? {NUMBER}", str(n), "medium"),
            (f"What kind of trees did {name} plant?", tree, "easy"),
        ]
    elif frame == 4:
        day, event, item = rng.choice(DAYS), rng.choice(EVENTS), rng.choice(ITEMS)
        text = f"On {day}, {name} and {other} went to the {event}. {other} bought a {item}, but {name} bought nothing."
        qs = [
            (f"On which day did they go to the {event}?", day, "easy"),
            (f"What did {other} buy?", item, "medium"),
        ]
    elif frame == 5:
        job, city = rng.choice(JOBS), rng.choice(CITIES)
        text = f"{name} works as a {job} in {city}. After work, {name} likes to read in the garden."
        qs = [(f"What is {name}'s job?", job, "easy"), (f"In which city does {name} work?", city, "easy")]
    elif frame == 6:
        fruit, fruit2 = rng.sample(FRUITS, 2)
        text = f"{name} loves {fruit} more than any other fruit. Sadly, {name} is allergic to {fruit2}."
        qs = [
            (f"Which fruit does {name} love most?", fruit, "medium"),
            (f"What is {name} allergic to?", fruit2, "medium"),
        ]
    else:
        relative, city = rng.choice(RELATIVES), rng.choice(CITIES)
        text = f"{name} wrote a long letter to a {relative} who lives in {city}. The letter took a week to arrive."
        qs = [
            (f"Who did {name} write to?", relative, "medium"),
            (f"In which city does the {relative} live?", city, "easy"),
        ]
    return text, qs


def reading(rng: random.Random) -> list[dict[str, Any]]:
    rows: list[tuple[str, str, str, str]] = []
    seen: set[str] = set()
    while len(rows) < 120:
        text, qs = _passage(rng)
        if text in seen:
            continue
        seen.add(text)
        # Both questions about one passage share a group: their scores are not independent.
        group = f"passage-{len(seen):03d}"
        for q, answer, level in qs:
            how = "" if q.endswith(NUMBER) else f" {WORD}"
            prompt = f"Read the text and answer the question with a word from the text.\n\nText: {text}\n\nQuestion: {q}{how}"
            rows.append((prompt, answer, level, group))
    return [row("reading", i, p, a, level, group=g) for i, (p, a, level, g) in enumerate(rows, start=1)]


SUITES: dict[str, Callable[[random.Random], list[dict[str, Any]]]] = {
    "factual_qa": factual_qa,
    "arithmetic": arithmetic,
    "instructions": instructions,
    "reading": reading,
}


def generate_all() -> dict[str, str]:
    """File name -> exact file text for every suite."""
    out = {}
    for name, build in SUITES.items():
        rows = build(random.Random(f"general:{SEED}:{name}"))
        out[f"{name}.jsonl"] = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the general-capability suites.")
    parser.add_argument(
        "--check", action="store_true", help="verify the files on disk instead of writing them"
    )
    parser.add_argument(
        "--out", type=Path, default=DATA, help="folder of the JSONL files (default: tunegate/harness/general)"
    )
    args = parser.parse_args(argv)
    files = generate_all()
    if args.check:
        stale = [
            n
            for n, t in files.items()
            if not (args.out / n).exists() or (args.out / n).read_bytes() != t.encode("utf-8")
        ]
        if stale:
            print(
                f"out of date: {', '.join(stale)} in {args.out}; regenerate with: python {Path(__file__).as_posix()}",
                file=sys.stderr,
            )
            return 1
        print(f"ok: {', '.join(files)} match the generator")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (args.out / name).write_bytes(text.encode("utf-8"))
    print(f"wrote {', '.join(f'{n} ({t.count(chr(10))} items)' for n, t in files.items())} to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

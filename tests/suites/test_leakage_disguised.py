"""Training lines planted in the shipped support eval suite in disguise: invisible characters,
look-alike Cyrillic and Greek letters, HTML character references, and JSON
answers re-spaced or re-keyed. Each leaves the text reading the same; each is an exact copy to
the check. The shipped items around them stay clean.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tunegate.harness.data import load_suite
from tunegate.harness.leakage import LeakageConfig, check_leakage
from tunegate.shell.cli import main

SUPPORT = Path(__file__).resolve().parents[2] / "suites" / "data" / "support"
TRAIN = SUPPORT / "train.jsonl"
UNRELATED = "Hi, I run a small bakery and would like to know whether your product works with our till."


def inside_words(mark: str) -> Callable[[str], str]:
    """``mark`` in the middle of every word of four letters or more."""
    return lambda text: re.sub(
        r"\w{4,}", lambda m: m[0][: len(m[0]) // 2] + mark + m[0][len(m[0]) // 2 :], text
    )


def swap(pairs: dict[str, str]) -> Callable[[str], str]:
    return lambda text: text.translate(str.maketrans(pairs))


CYRILLIC = swap({"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у", "i": "і"})
PROMPT_DISGUISES: dict[str, Callable[[str], str]] = {
    "zero-width space": inside_words("\u200b"),
    "zero-width joiner": inside_words("\u200d"),
    "soft hyphen": inside_words("\u00ad"),
    "byte order mark": inside_words("\ufeff"),
    "left-to-right mark": inside_words("\u200e"),
    "combining grapheme joiner": inside_words("\u034f"),
    "Cyrillic look-alikes": CYRILLIC,
    "Greek look-alikes": swap({"o": "ο", "i": "ι", "k": "κ", "A": "Α", "N": "Ν"}),
    "HTML character references": lambda t: (
        t.replace(" ", "&nbsp;", 5).replace("'", "&#39;").replace(",", "&#44;")
    ),
    "full width, zero-width space and Cyrillic at once": lambda t: inside_words("\u200b")(
        CYRILLIC(t.translate(str.maketrans({c: chr(ord(c) + 0xFEE0) for c in "mnst"})))
    ),
}
REPLY_DISGUISES: dict[str, Callable[[str], str]] = {
    "zero-width space": inside_words("\u200b"),
    "soft hyphens and no-break spaces": lambda t: inside_words("\u00ad")(t).replace(" ", "\u00a0"),
    "Cyrillic look-alikes": CYRILLIC,
    "blank lines and spaces doubled": lambda t: t.replace("\n\n", "\n \n\n").replace(" ", "  "),
}


def training_lines() -> list[dict[str, Any]]:
    """The shipped training chats whose answer no other training line repeats, in file order,
    with their line number."""
    lines = [json.loads(ln) for ln in TRAIN.read_text(encoding="utf-8").splitlines()]
    answers = [obj["messages"][-1]["content"] for obj in lines]
    return [{**obj, "line": k} for k, obj in enumerate(lines, start=1) if answers.count(answers[k - 1]) == 1]


def plant(tmp_path: Path) -> tuple[Path, dict[str, tuple[str, int]]]:
    """The shipped eval suite plus one planted item per disguise; {item id: (disguise, training line)}."""
    shipped = (SUPPORT / "eval.jsonl").read_text(encoding="utf-8").splitlines()
    someone_elses = json.loads(shipped[0])["reference"]  # held out: no training line has it
    source = iter(training_lines()[::7])
    planted: dict[str, tuple[str, int]] = {}
    extra: list[str] = []
    for k, (name, disguise) in enumerate(PROMPT_DISGUISES.items()):
        obj = next(source)
        system, user = obj["messages"][0], obj["messages"][1]
        item = {
            "id": f"prompt-{k}",
            "messages": [system, {"role": "user", "content": disguise(user["content"])}],
            "reference": someone_elses,
        }
        planted[item["id"]] = (name, obj["line"])
        extra.append(json.dumps(item, ensure_ascii=False))
    for k, (name, disguise) in enumerate(REPLY_DISGUISES.items()):
        obj = next(source)
        reply = json.loads(obj["messages"][-1]["content"])
        item = {
            "id": f"reply-{k}",
            "messages": [obj["messages"][0], {"role": "user", "content": f"{UNRELATED} ({k})"}],
            "reference": {**reply, "reply": disguise(reply["reply"])},
        }
        planted[item["id"]] = (name, obj["line"])
        extra.append(json.dumps(item, ensure_ascii=False))
    obj = next(source)  # the gold answer as a JSON string, keys in another order than training's
    reply = json.loads(obj["messages"][-1]["content"])
    item = {
        "id": "reply-as-json-string",
        "messages": [obj["messages"][0], {"role": "user", "content": f"{UNRELATED} (string)"}],
        "reference": json.dumps(dict(reversed(list(reply.items()))), ensure_ascii=False, indent=2),
    }
    planted[item["id"]] = ("JSON string, keys reversed, indented", obj["line"])
    extra.append(json.dumps(item, ensure_ascii=False))
    path = tmp_path / "eval.jsonl"
    path.write_text("\n".join(shipped + extra) + "\n", encoding="utf-8")
    return path, planted


@pytest.fixture(scope="module")
def planted_check(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, tuple[str, int]], Path]:
    path, planted = plant(tmp_path_factory.mktemp("disguised"))
    suite = load_suite(path, name="support/eval+planted")
    return check_leakage([TRAIN], [suite], config=LeakageConfig()), planted, path


def planted_flag(planted_check: Any, kind: str, disguise: str) -> tuple[Any, str]:
    """The flag of the item planted as ``kind`` ("prompt" or "reply") in ``disguise``, and where
    its training line is."""
    report, planted, _ = planted_check
    item_id = next(i for i, (name, _) in planted.items() if i.startswith(f"{kind}-") and name == disguise)
    return report.flags("support/eval+planted")[item_id], f"{TRAIN}:{planted[item_id][1]}"


@pytest.mark.parametrize("disguise", list(PROMPT_DISGUISES))
def test_a_disguised_copy_of_a_training_prompt_is_an_exact_duplicate(
    planted_check: Any, disguise: str
) -> None:
    flag, source = planted_flag(planted_check, "prompt", disguise)
    assert flag.flag == "exact", (disguise, flag)
    assert flag.matched == ("prompt",)
    assert flag.reason == "its prompt appears verbatim in a training example (after normalisation)"
    assert flag.source == source


@pytest.mark.parametrize("disguise", [*REPLY_DISGUISES, "JSON string, keys reversed, indented"])
def test_a_disguised_copy_of_a_training_answer_counts_as_the_reference(
    planted_check: Any, disguise: str
) -> None:
    flag, source = planted_flag(planted_check, "reply", disguise)
    assert flag.flag == "exact", (disguise, flag)
    assert flag.matched == ("reference",)
    assert "its reference answer is verbatim the answer of a training example" in flag.reason
    assert "it counts alone" in flag.reason
    assert flag.source == source


def test_only_the_planted_items_are_flagged(planted_check: Any) -> None:
    report, planted, _ = planted_check
    assert {f.id for f in report.flagged()} == set(planted)
    assert {f.flag for f in report.flagged()} == {"exact"}
    passed, reason = report.verdict()
    assert not passed and "appear verbatim in the training data" in reason


def test_data_check_reports_each_disguised_copy_as_an_error(
    planted_check: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, planted, path = planted_check
    assert main(["data", "check", str(TRAIN), "--eval", str(path), "--report", str(tmp_path)]) == 1
    capsys.readouterr()
    findings = json.loads((tmp_path / "datacheck.json").read_text(encoding="utf-8"))["findings"]
    exact = {f["locations"][0] for f in findings if f["code"] == "train_eval_exact"}
    lines = {json.loads(ln)["id"]: k for k, ln in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)}
    assert exact == {f"{path}:{lines[i]}" for i in planted}

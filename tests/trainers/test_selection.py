"""Selection discipline: an eval suite is refused as the trainer's dev set."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tunegate.harness import general
from tunegate.harness.errors import ConfigError
from tunegate.trainers.config import load_config
from tunegate.trainers.selection import eval_named, refuse_eval_as_dev

ROOT = Path(__file__).resolve().parents[2]
SUPPORT = ROOT / "suites" / "data" / "support"


def _config(tmp_path: Path, dev: Path, **extra: object) -> Path:
    body = {"train": str(SUPPORT / "train.jsonl"), "dev": str(dev), "output": str(tmp_path / "a"), **extra}
    path = tmp_path / "cfg.yaml"
    path.write_text("\n".join(f"{k}: {json.dumps(v)}" for k, v in body.items()) + "\n")
    return path


@pytest.mark.parametrize(
    ("name", "word"),
    [
        ("eval.jsonl", "eval"),
        ("support-eval.jsonl", "eval"),
        ("test_set.jsonl", "test"),
        ("evaluation.v2.jsonl", "evaluation"),
        ("eval/holdout.jsonl", "eval"),
        ("dev.jsonl", None),
        ("holdout-dev.jsonl", None),
        ("evaluator_notes/dev.jsonl", None),
        ("test_run0/dev.jsonl", None),  # a folder merely starting with "test" (pytest's tmp dirs)
    ],
)
def test_the_name_rule(name: str, word: str | None) -> None:
    assert eval_named(Path("/data") / name) == word


def test_the_shipped_support_eval_is_refused_as_dev(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"cfg.yaml: dev file .*support/eval.jsonl is named like an eval suite"
    ):
        load_config(_config(tmp_path, SUPPORT / "eval.jsonl"))


def test_an_eval_suite_under_another_name_is_refused_by_content(tmp_path: Path) -> None:
    copy = tmp_path / "holdout.jsonl"
    shutil.copy(SUPPORT / "eval.jsonl", copy)
    with pytest.raises(
        ConfigError, match=r"shares 320 prompt\(s\) with eval suites \(.*holdout.jsonl:1 = .*eval.jsonl:"
    ):
        load_config(_config(tmp_path, copy))


def test_one_general_item_in_the_dev_set_is_refused_with_its_line(tmp_path: Path) -> None:
    dev = tmp_path / "dev.jsonl"
    lines = (SUPPORT / "dev.jsonl").read_text().splitlines()[:5]
    item = general.suite("general/arithmetic").items[7]
    planted = {"messages": [*(m.to_dict() for m in item.messages), {"role": "assistant", "content": "x"}]}
    lines.insert(2, json.dumps(planted))
    dev.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        ConfigError, match=rf"shares 1 prompt\(s\).*dev.jsonl:3 = .*arithmetic.jsonl:{item.id}"
    ):
        refuse_eval_as_dev(dev, [])


def test_eval_suites_entries_are_checked_too(tmp_path: Path) -> None:
    mine = tmp_path / "suites" / "faq.jsonl"
    mine.parent.mkdir()
    mine.write_text(
        json.dumps({"id": "faq-1", "messages": [{"role": "user", "content": "Where is my order?"}]}) + "\n"
    )
    dev = tmp_path / "dev.jsonl"
    dev.write_text(
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "where is my ORDER"},
                    {"role": "assistant", "content": "x"},
                ]
            }
        )
        + "\n"
    )
    refuse_eval_as_dev(dev, [])  # not a known suite: accepted
    with pytest.raises(ConfigError, match=r"dev.jsonl:1 = .*faq.jsonl:faq-1"):
        load_config(_config(tmp_path, dev, eval_suites=[str(mine.parent)]))
    with pytest.raises(ConfigError, match=r"eval_suites entry .*nowhere not found"):
        load_config(_config(tmp_path, dev, eval_suites=[str(tmp_path / "nowhere")]))


def test_the_shipped_dev_set_is_accepted(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path, SUPPORT / "dev.jsonl"))
    assert cfg.dev is not None and cfg.dev.endswith("dev.jsonl")

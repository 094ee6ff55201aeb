"""The leakage check as a run feature: suite discovery, run_leakage_check, the results section."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tunegate.harness.data import Suite, parse_items  # noqa: E402
from tunegate.harness.errors import DataError, GateFailure  # noqa: E402
from tunegate.harness.leakage import (  # noqa: E402
    LeakageConfig,
    LeakageSection,
    chat_generator,
    discover_suites,
    is_training_file,
    probe_params,
    resolve_training_files,
    run_leakage_check,
)
from tunegate.harness.manifest import write_manifest

ROOT = Path(__file__).resolve().parents[2]
RNG = random.Random(99)
VOCAB = [f"{RNG.choice('bcdfghjklmnpqrstvwz')}{RNG.choice('aeiou')}{i}" for i in range(3000)]


def words(n: int, rng: random.Random) -> str:
    return " ".join(rng.choice(VOCAB) for _ in range(n))


def row(i: str, prompt: str, reference: Any) -> dict[str, Any]:
    return {"id": i, "messages": [{"role": "user", "content": prompt}], "reference": reference}


def suite_of(rows: list[dict[str, Any]], name: str = "eval") -> Suite:
    return Suite(name, tuple(parse_items("\n".join(json.dumps(r) for r in rows).encode(), f"{name}.jsonl")))


def chat(prompt: str, answer: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# -- discovery ---------------------------------------------------------------------------------


def test_discovery_loads_every_suite_and_skips_training_files_by_rule(tmp_path: Path) -> None:
    rng = random.Random(1)
    for rel in ("support/eval.jsonl", "support/holdout.jsonl", "qa.jsonl", "deep/er/set.jsonl"):
        write_jsonl(tmp_path / rel, [row("a", words(12, rng), "x")])
    for rel in ("support/train.jsonl", "support/dev.jsonl", "support/train_extra.jsonl", "dev-2025.jsonl"):
        write_jsonl(tmp_path / rel, [chat("p", "a")])  # training shape: not a suite
    write_jsonl(tmp_path / "calibration" / "judge.jsonl", [{"not": "a suite"}])
    suites = discover_suites(tmp_path, max_new_tokens=64)
    assert [s.name for s in suites] == ["deep/er/set", "qa", "support/eval", "support/holdout"]
    assert {s.max_new_tokens for s in suites} == {64}
    assert is_training_file(tmp_path / "support" / "train.jsonl", tmp_path)
    assert is_training_file(tmp_path / "calibration" / "judge.jsonl", tmp_path)
    assert not is_training_file(tmp_path / "support" / "trainer_notes.jsonl", tmp_path)


def test_a_suite_that_fails_to_load_is_an_error_naming_the_file(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "good.jsonl", [row("a", "fine prompt", "x")])
    bad = tmp_path / "broken.jsonl"
    bad.write_text(
        '{"id": "a", "messages": [{"role": "user", "content": "ok"}]}\nnot json\n', encoding="utf-8"
    )
    with pytest.raises(DataError) as info:
        discover_suites(tmp_path)
    assert str(bad) in str(info.value) and f"{bad}:2:" in info.value.problems[0]


def test_discovery_of_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a folder of eval suites"):
        discover_suites(tmp_path / "nowhere")


def test_the_shipped_suites_are_discovered_and_clean() -> None:
    from tunegate.harness import general

    suites = discover_suites(ROOT / "suites" / "data") + general.suites()
    assert {"support/eval", "general/factual_qa", "general/reading"} <= {s.name for s in suites}
    support = ROOT / "suites" / "data" / "support"
    section = run_leakage_check(
        training_files=[support / "train.jsonl", support / "dev.jsonl"], suites=suites, generate=None
    )
    assert section.passed and section.flagged == []
    assert section.to_dict()["memorisation_note"] == "not run: no eval item was flagged"


# -- run_leakage_check ----------------------------------------------------------------------------


@pytest.fixture()
def leaked(tmp_path: Path) -> tuple[Suite, Path, dict[str, str]]:
    """One item copied verbatim; one whose short prompt was edited but whose gold reply was copied."""
    rng = random.Random(5)
    replies = {f"e{i}": words(30, rng) for i in range(20)}
    prompts = {f"e{i}": words(9, rng) for i in range(20)}
    prompts["e4"] = "How do I get a refund for my annual plan please?"
    suite = suite_of([row(i, prompts[i], replies[i]) for i in prompts])
    background = [chat(words(25, rng), words(20, rng)) for _ in range(60)]
    background.insert(10, chat(prompts["e2"], replies["e2"]))  # line 11: exact copy
    background.insert(30, chat("How can I get a refund on my annual plan, please?", replies["e4"]))  # line 31
    return suite, write_jsonl(tmp_path / "train.jsonl", background), replies


def test_an_edited_short_prompt_with_its_gold_reply_copied_is_flagged(
    leaked: tuple[Suite, Path, dict[str, str]],
) -> None:
    suite, train, _ = leaked
    prompts_only = run_leakage_check(
        training_files=[train], suites=[suite], config=LeakageConfig(check_references=False)
    )
    assert [f.id for f in prompts_only.flagged] == ["e2"]  # the prompt checks alone miss e4
    section = run_leakage_check(training_files=[train], suites=[suite])
    flags = {f.id: f for f in section.flagged}
    assert sorted(flags) == ["e2", "e4"]
    assert flags["e4"].flag == "exact" and flags["e4"].matched == ("reference",)
    assert flags["e4"].source == f"{train}:31"
    assert flags["e2"].matched == ("prompt", "reference")


def test_short_references_are_not_compared(tmp_path: Path) -> None:
    rng = random.Random(3)
    suite = suite_of([row(f"q{i}", words(10, rng), "Paris") for i in range(5)])
    train = write_jsonl(tmp_path / "t.jsonl", [chat(words(10, rng), "Paris") for _ in range(20)])
    assert run_leakage_check(training_files=[train], suites=[suite]).flagged == []


def test_section_runs_the_memorisation_probe_through_generate(
    leaked: tuple[Suite, Path, dict[str, str]],
) -> None:
    suite, train, replies = leaked
    asked: list[list[dict[str, str]]] = []

    def parrot(chats: list[list[dict[str, str]]]) -> list[str]:
        # a candidate that memorised line 11 and knows nothing else
        asked.extend(chats)
        return [replies["e2"] if c[-1]["content"] == suite.items[2].prompt else "no idea" for c in chats]

    section = run_leakage_check(training_files=[train], suites=[suite], generate=parrot)
    # answer mode: each flagged training example's own prompt, in flag order
    assert [c[-1]["content"] for c in asked] == [
        suite.items[2].prompt,
        "How can I get a refund on my annual plan, please?",
    ]
    assert section.probe is not None and section.n_memorised == 1
    data = json.loads(json.dumps(section.to_dict(), allow_nan=False))
    assert data["status"] == "fail" and data["passed"] is False and data["n_flagged"] == 2
    assert {(i["suite"], i["id"]) for i in data["items"]} == {("eval", "e2"), ("eval", "e4")}
    assert all(i["reason"] for i in data["items"])
    assert data["memorisation"]["n"] == 2 and data["memorisation"]["memorised"] == 1
    assert data["summary"].startswith("FAIL: 2 eval item(s) appear verbatim")
    assert "reproduced 1 of 2 flagged training example(s)" in data["summary"]
    with pytest.raises(GateFailure, match="leakage check failed"):
        section.assert_passed()


def test_without_generate_the_probe_is_reported_as_not_run(
    leaked: tuple[Suite, Path, dict[str, str]],
) -> None:
    suite, train, _ = leaked
    section = run_leakage_check(training_files=[train], suites=[suite])
    assert isinstance(section, LeakageSection) and section.probe is None
    assert section.to_dict()["memorisation"] is None
    assert section.to_dict()["memorisation_note"] == "not run: no generation function was given"


def test_probe_is_capped(leaked: tuple[Suite, Path, dict[str, str]]) -> None:
    suite, train, _ = leaked
    section = run_leakage_check(
        training_files=[train], suites=[suite], generate=lambda chats: ["x"] * len(chats), max_probed=1
    )
    assert section.probe is not None and len(section.probe) == 1
    assert section.probe_note == "the first 1 of 2 flagged training examples"


# -- training files and the cached generate -------------------------------------------------------


def test_resolve_training_files(tmp_path: Path) -> None:
    train = write_jsonl(tmp_path / "train.jsonl", [chat("p", "a")])
    assert resolve_training_files([str(train)], None) == [train]
    assert resolve_training_files(None, None) is None
    assert resolve_training_files([], tmp_path) is None  # an adapter dir without tunegate.json
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    write_manifest(adapter, {"data": {"train": {"path": str(train)}}})
    assert resolve_training_files(None, adapter) == [train]


def test_chat_generator_goes_through_the_response_cache(tiny_model_dir: Path, tmp_path: Path) -> None:
    from tunegate.harness.cache import ResponseCache
    from tunegate.harness.generation import GenerationStats
    from tunegate.harness.models.base import ModelSpec
    from tunegate.harness.models.hf import HFBackend

    backend = HFBackend(ModelSpec(str(tiny_model_dir), dtype="fp32"), cache_dir=str(tmp_path))
    suite = suite_of([row("a", "hello there", "x")]).with_options(max_new_tokens=6)
    params = probe_params([suite])
    assert params.max_new_tokens == 6
    cache = ResponseCache(tmp_path / "cache")
    stats = GenerationStats()
    generate = chat_generator(backend, cache, params, stats=stats, label="candidate")
    chats = [[{"role": "user", "content": "Say hi."}], [{"role": "user", "content": "Count to three."}]]
    first = generate(chats)
    assert len(first) == 2 and (stats.generated, stats.hits) == (2, 0)
    again_stats = GenerationStats()
    again = chat_generator(backend, ResponseCache(tmp_path / "cache"), params, stats=again_stats)(chats)
    assert again == first and (again_stats.generated, again_stats.hits) == (0, 2)

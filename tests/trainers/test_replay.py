"""Replay (rehearsal) data: the pool, the cached build, the mix and the manifest record."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from operator import add, mul, sub
from pathlib import Path

import pytest

from tunegate.harness.cache import ResponseCache, cache_key
from tunegate.harness.errors import ConfigError, DataError
from tunegate.harness.manifest import manifest_path
from tunegate.harness.models import BACKENDS, GenerationParams, ModelSpec
from tunegate.harness.models.base import Completion
from tunegate.harness.models.hf import clear_engines
from tunegate.trainers.config import load_config
from tunegate.trainers.manifest import inputs_fingerprint
from tunegate.trainers.replay import (
    GENERATION_DTYPE,
    answer_is_right,
    build_replay,
    draw,
    manifest_record,
    meta_path,
    read_pool,
)
from tunegate.trainers.train import train

ROOT = Path(__file__).resolve().parents[2]
POOL = ROOT / "tunegate" / "trainers" / "replay_pool" / "general_prompts.jsonl"
SUPPORT_TRAIN = ROOT / "suites" / "data" / "support" / "train.jsonl"


def _pool(path: Path, prompts: list[str]) -> Path:
    rows = [{"id": f"p{i}", "messages": [{"role": "user", "content": p}]} for i, p in enumerate(prompts)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _keyed_pool(
    path: Path, rows: list[tuple[str, str, list[str] | None]], checks: dict[int, dict] | None = None
) -> Path:
    """A pool of (kind, prompt, expected) lines, as the shipped pool writes them; ``checks``: line
    index -> its instruction check."""
    lines = []
    for i, (kind, prompt, expected) in enumerate(rows):
        row: dict[str, object] = {"id": f"{kind}-{i}", "messages": [{"role": "user", "content": prompt}]}
        row["tags"] = {"task": kind}
        if expected is not None:
            row["expected"] = expected
        if checks and i in checks:
            row["check"] = checks[i]
        lines.append(json.dumps(row, ensure_ascii=False) + "\n")
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _config(tmp_path: Path, base: Path, **replay: object) -> Path:
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(SUPPORT_TRAIN.read_text(encoding="utf-8").splitlines()[:8]) + "\n")
    body = {
        "base": str(base),
        "train": str(train),
        "output": str(tmp_path / "adapter"),
        "quantization": "none",
        "dtype": "fp32",
        "max_steps": 1,
        "micro_batch_size": 4,
        "batch_size": 4,
        "lora_r": 2,
        "lora_alpha": 4,
    }
    lines = [f"{k}: {json.dumps(v)}" for k, v in body.items()]
    lines.append("replay:")
    lines += [f"  {k}: {json.dumps(v)}" for k, v in replay.items()]
    path = tmp_path / "cfg.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _seed_cache(
    cache_dir: Path, base: Path, pool: Path, answers: list[Completion], max_new_tokens: int
) -> None:
    """Put the base's 'answers' for the pool into the response cache under the backend's real key."""
    backend = BACKENDS.get("hf")(ModelSpec(base=str(base), dtype=GENERATION_DTYPE), cache_dir=str(cache_dir))
    params = GenerationParams(max_new_tokens=max_new_tokens)
    prompts = read_pool(pool)
    entries = [
        (cache_key(backend.fingerprint, backend.render(p.messages), params.key()), c)
        for p, c in zip(prompts, answers, strict=True)
    ]
    cache = ResponseCache(cache_dir)
    cache.put_many(backend.fingerprint, entries)
    cache.close()
    clear_engines()


def test_shipped_pool_is_what_its_generator_writes() -> None:
    res = subprocess.run(
        [sys.executable, str(POOL.parent / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    kinds = Counter(json.loads(line)["tags"]["task"] for line in POOL.read_text().splitlines())
    assert kinds == {"factual": 60, "arithmetic": 60, "instructions": 60, "reading": 60}
    prompts = read_pool(POOL)
    assert len({p.messages[-1].content for p in prompts}) == len(prompts) == 240


def test_shipped_pool_keys_are_right() -> None:
    """Capital, arithmetic and reading prompts carry an answer key; the key answers the prompt."""
    rows = [json.loads(line) for line in POOL.read_text(encoding="utf-8").splitlines()]
    keyed = Counter((r["tags"]["task"], "expected" in r) for r in rows)
    assert keyed == {
        ("factual", True): 20,  # the capital questions
        ("factual", False): 40,
        ("arithmetic", True): 60,
        ("instructions", False): 60,
        ("reading", True): 60,
    }
    ops = {"Add": add, "sum": add, "finds": add, "Subtract": sub, "difference": sub, "taken out": sub}
    ops |= {"Multiply": mul, "product": mul}
    for r in rows:
        prompt = r["messages"][-1]["content"]
        if r["tags"]["task"] == "arithmetic":
            a, b = (int(n) for n in re.findall(r"\d+", prompt))
            if prompt.startswith("Subtract"):
                a, b = b, a  # "Subtract b from a"
            op = next(fn for word, fn in ops.items() if word in prompt)
            assert r["expected"] == [str(op(a, b))], prompt
        elif r["tags"]["task"] == "reading":
            passage = prompt.split("Passage: ")[1].split("\n\nQuestion:")[0]
            assert len(r["expected"]) == 1 and re.search(rf"\b{r['expected'][0]}\b", passage), prompt
        elif r["tags"]["task"] == "factual":
            assert ("expected" in r) == ("capital" in prompt), prompt
    by_id = {p.id: p for p in read_pool(POOL)}
    assert by_id["replay-factual-001"].expected == ("Buenos Aires",)  # Argentina
    assert by_id["replay-factual-005"].expected == ("Kyiv", "Kiev")  # Ukraine
    assert by_id["replay-arithmetic-001"].expected == ("55",)  # Add 52 and 3
    assert {p.kind for p in by_id.values()} == {"factual", "arithmetic", "instructions", "reading"}


@pytest.mark.parametrize(
    ("expected", "answer", "right"),
    [
        # factual (the capitals): the general/factual_qa rule, whole word after normalising
        (["Accra"], "The capital of Ghana is Accra.", True),
        (["Accra"], "Ghana's capital is Lagos.", False),
        (["Kyiv", "Kiev"], "The capital city of Ukraine is Kiev.", True),
        (["Bogota", "Bogotá"], "BOGOTÁ!", True),
        (["Sofia"], "Sofiagrad.", False),
        # arithmetic: contained, and the last number the answer gives is the result
        (["55"], "The result of 52 + 3 is 55.", True),
        (["55"], "55", True),
        (["24"], "12 * 2 = 24\n\nThat is the product.", True),
        (["55"], "The result of 52 + 3 is 65.", False),
        (["11"], "22 - 11 = 10", False),  # contains the result only as an operand
        (["81"], "Tom has 70 - 11 = 57 marbles.\nThe result is 11.", False),
        (["55"], "-55", False),
        (["55"], "155", False),
        # reading: the word from the passage
        (["Graz"], "The market was in Graz, Austria.", True),
        (["baker"], "Aisha's job is a baker.", True),
        (["Porto"], "Lars works in a bakery.", False),
        (["goats"], "Lars keeps a variety of animals.", False),
    ],
)
def test_answer_is_right_by_the_general_scorers_rule(expected: list[str], answer: str, right: bool) -> None:
    assert answer_is_right(expected, answer) is right


@pytest.mark.parametrize(
    "bad",
    ['"Paris"', "[]", "[42]", '["Paris", ""]', '["  "]', "null", '{"answer": "Paris"}'],
)
def test_a_malformed_answer_key_is_named(tmp_path: Path, bad: str) -> None:
    pool = tmp_path / "pool.jsonl"
    good = json.dumps({"messages": [{"role": "user", "content": "Add 2 and 3."}], "expected": ["5"]})
    line = (
        '{"messages": [{"role": "user", "content": "Name the capital of France."}], "expected": ' + bad + "}"
    )
    pool.write_text(good + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(
        DataError, match=r'pool.jsonl:2: "expected" must be a non-empty list of acceptable answers'
    ) as exc:
        read_pool(pool)
    assert "pool.jsonl:1" not in str(exc.value)
    ok = read_pool(_keyed_pool(tmp_path / "ok.jsonl", [("factual", "q", ["A", " B "])]))
    assert [(p.expected, p.kind) for p in ok] == [(("A", "B"), "factual")]


@pytest.mark.parametrize(
    "bad",
    [
        '"all_caps"',
        '{"check": "rhymes"}',
        '{"check": "word_count"}',
        '{"check": "word_count", "n": "three"}',
        "[]",
    ],
)
def test_a_malformed_instruction_check_is_named(tmp_path: Path, bad: str) -> None:
    pool = tmp_path / "pool.jsonl"
    good = json.dumps({"messages": [{"role": "user", "content": "Shout."}], "check": {"check": "all_caps"}})
    line = '{"messages": [{"role": "user", "content": "Three words about rain."}], "check": ' + bad + "}"
    pool.write_text(good + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r'pool.jsonl:2: "check" must be an instruction check') as exc:
        read_pool(pool)
    assert "pool.jsonl:1" not in str(exc.value)


def test_shipped_instruction_checks_are_the_general_suites_checks() -> None:
    """The pool's checkable instruction prompts carry a check the general suites' scorer reads,
    and an answer that follows the prompt passes it while one that does not fails it."""
    prompts = [p for p in read_pool(POOL) if p.check is not None]
    assert len(prompts) >= 30 and all(p.kind == "instructions" for p in prompts)
    by_check = {p.check["check"]: p for p in prompts if p.check}
    assert set(by_check) == {"word_count", "starts_with", "lowercase", "json_key", "all_caps"}
    assert by_check["word_count"].is_right("Cold wet drops") and not by_check["word_count"].is_right(
        "It is very cold."
    )
    topic = by_check["json_key"].check["value"]  # type: ignore[index]
    assert by_check["json_key"].is_right(json.dumps({"topic": topic}))
    assert not by_check["json_key"].is_right("topic: " + topic)
    assert by_check["all_caps"].is_right("THE LAST TRAIN") and not by_check["all_caps"].is_right(
        "The Last Train"
    )


def test_a_bad_pool_line_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "pool.jsonl"
    bad.write_text(
        json.dumps({"messages": [{"role": "user", "content": "hi"}]})
        + "\n"
        + json.dumps({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]})
        + "\n"
    )
    with pytest.raises(DataError, match=r"pool.jsonl:2: a pool line needs"):
        read_pool(bad)


def test_replay_section_is_strict(tmp_path: Path, tiny_model_dir: Path) -> None:
    pool = _pool(tmp_path / "pool.jsonl", ["Name a colour."])
    with pytest.raises(
        ConfigError, match=r"unknown key 'replay.ratoi'; valid keys: \['file', 'max_new_tokens'"
    ):
        load_config(_config(tmp_path, tiny_model_dir, pool=str(pool), ratoi=0.5))
    with pytest.raises(ConfigError, match=r"replay.ratio = 0: Input should be greater than 0"):
        load_config(_config(tmp_path, tiny_model_dir, pool=str(pool), ratio=0))
    with pytest.raises(ConfigError, match=r"replay.pool file .*missing.jsonl not found"):
        load_config(_config(tmp_path, tiny_model_dir, pool=str(tmp_path / "missing.jsonl")))


def test_build_goes_through_the_cache_drops_cut_answers_and_detects_staleness(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    cache_dir = tmp_path / "cache"
    pool = _pool(
        tmp_path / "pool.jsonl", ["Name a colour.", "What is 3 and 4 added?", "Say hello.", "Count."]
    )
    answers = [
        Completion("Blue.", 2, "stop"),
        Completion(" 7 ", 1, "stop"),
        Completion("Hello there, how are", 8, "length"),  # cut at max_new_tokens: dropped
        Completion("   ", 1, "stop"),  # empty: dropped
    ]
    _seed_cache(cache_dir, tiny_model_dir, pool, answers, max_new_tokens=8)
    out = tmp_path / "replay.jsonl"
    cfg = load_config(_config(tmp_path, tiny_model_dir, pool=str(pool), max_new_tokens=8, file=str(out)))

    data = build_replay(cfg, cache_dir=cache_dir)
    assert data.built and data.path == out
    assert (data.n_prompts, data.n_examples, data.n_dropped) == (4, 2, 2)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["messages"][-1] for r in rows] == [
        {"role": "assistant", "content": "Blue."},
        {"role": "assistant", "content": "7"},
    ]
    assert [r["messages"][0]["content"] for r in rows] == ["Name a colour.", "What is 3 and 4 added?"]
    meta = json.loads(meta_path(out).read_text())
    assert meta["fingerprint"] == data.fingerprint and meta["n_dropped"] == 2

    again = build_replay(cfg, cache_dir=cache_dir)
    assert not again.built and again.sha256 == data.sha256

    out.write_text(out.read_text().replace("Blue.", "Red."))  # edited by hand: stale, rebuilt
    rebuilt = build_replay(cfg, cache_dir=cache_dir)
    assert rebuilt.built and rebuilt.sha256 == data.sha256

    # Other generation settings miss the cache: the (random, tiny) base really answers, runs into
    # max_new_tokens on every prompt, and the build says so instead of writing an empty file.
    cfg_longer = load_config(
        _config(tmp_path, tiny_model_dir, pool=str(pool), max_new_tokens=9, file=str(out))
    )
    with pytest.raises(DataError, match=r"answered none of the 4 prompts within max_new_tokens=9"):
        build_replay(cfg_longer, cache_dir=cache_dir)
    assert not build_replay(cfg, cache_dir=cache_dir).built  # the failed build left the current file alone


def test_build_drops_wrong_answers_by_the_key_and_counts_them_per_kind(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tunegate.trainers.replay_cli import main

    cache_dir = tmp_path / "cache"
    passage = "Use the passage to answer.\n\nPassage: Mei sold a lamp at the market in Ghent.\n\nQuestion: "
    pool = _keyed_pool(
        tmp_path / "pool.jsonl",
        [
            ("factual", "Which city is the capital of Ghana?", ["Accra"]),
            ("factual", "Name the capital of Nepal.", ["Kathmandu"]),
            ("factual", "Which animal has a long trunk?", None),
            ("arithmetic", "Add 52 and 3.", ["55"]),
            ("arithmetic", "Subtract 11 from 22.", ["11"]),
            ("arithmetic", "Multiply 4 by 3.", ["12"]),
            ("reading", passage + "In which town was the market?", ["Ghent"]),
            ("reading", passage + "What did Mei sell?", ["lamp"]),
            ("instructions", "Write one word in capitals.", None),
            ("instructions", "Describe rain in exactly three words.", None),
            ("instructions", "Write a title about snow. Use capital letters only.", None),
        ],
        checks={9: {"check": "word_count", "n": 3}, 10: {"check": "all_caps"}},
    )
    answers = [
        Completion("The capital of Ghana is Accra.", 6, "stop"),  # right
        Completion("Lagos.", 2, "stop"),  # wrong
        Completion("Elephant.", 2, "stop"),  # no key: kept unchecked
        Completion("The result of 52 + 3 is 65.", 8, "stop"),  # wrong
        Completion("22 - 11 = 10", 6, "stop"),  # wrong (11 only as an operand)
        Completion("4 * 3 = 12", 6, "stop"),  # right
        Completion("The market was in Ghent.", 6, "stop"),  # right
        Completion("Mei sold a chair and a lamp and", 8, "length"),  # cut (counted as cut, not wrong)
        Completion("HELLO", 2, "stop"),  # no key
        Completion("Wet grey drops", 4, "stop"),  # follows its check: kept, verified
        Completion("The Snow Queen", 4, "stop"),  # breaks "capital letters only": wrong
    ]
    _seed_cache(cache_dir, tiny_model_dir, pool, answers, max_new_tokens=8)
    out = tmp_path / "replay.jsonl"
    cfg_path = _config(tmp_path, tiny_model_dir, pool=str(pool), max_new_tokens=8, file=str(out))
    cfg = load_config(cfg_path)
    assert cfg.replay is not None and cfg.replay.verify  # on by default

    data = build_replay(cfg, cache_dir=cache_dir)

    kept = [json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines()]
    assert kept == ["factual-0", "factual-2", "arithmetic-5", "reading-6", "instructions-8", "instructions-9"]
    assert (data.n_prompts, data.n_examples, data.n_dropped, data.n_wrong) == (11, 6, 1, 4)
    counts = {
        "factual": {"kept": 2, "verified": 1, "wrong": 1, "cut": 0},
        "arithmetic": {"kept": 1, "verified": 1, "wrong": 2, "cut": 0},
        "reading": {"kept": 1, "verified": 1, "wrong": 0, "cut": 1},
        "instructions": {"kept": 2, "verified": 1, "wrong": 1, "cut": 0},
    }
    assert data.counts == counts
    meta = json.loads(meta_path(out).read_text())
    assert (meta["counts"], meta["n_wrong"], meta["n_dropped"], meta["verify"]) == (counts, 4, 1, True)
    assert build_replay(cfg, cache_dir=cache_dir).counts == counts  # a reused file reports the same
    assert cfg.replay is not None
    rec = manifest_record(data, cfg.replay, n_used=2, n_task=8)
    assert (rec["available"], rec["dropped_wrong"], rec["dropped_cut_or_empty"]) == (6, 4, 1)
    assert rec["verify"] is True
    assert rec["per_kind"] == counts and rec["version"] == "3"

    assert main(["build", str(cfg_path), "--cache-dir", str(cache_dir)]) == 0
    printed = capsys.readouterr().out
    assert "6 examples from 11 prompts" in printed
    assert (
        "1 dropped: cut at max_new_tokens=8 or empty; 4 dropped: wrong by the pool's answer key or instruction check"
        in printed
    )
    assert "arithmetic 1 kept (1 verified), 2 wrong, 0 cut" in printed
    assert "instructions 2 kept (1 verified), 1 wrong, 0 cut" in printed

    # verify: false is a different replay file (its own fingerprint) that keeps the wrong answers
    unchecked_cfg = load_config(
        _config(tmp_path, tiny_model_dir, pool=str(pool), max_new_tokens=8, file=str(out), verify=False)
    )
    unchecked = build_replay(unchecked_cfg, cache_dir=cache_dir)
    assert unchecked.built and unchecked.fingerprint != data.fingerprint
    assert (unchecked.n_examples, unchecked.n_wrong, unchecked.verify) == (10, 0, False)
    assert unchecked.counts["arithmetic"] == {"kept": 3, "verified": 0, "wrong": 0, "cut": 0}


def test_a_pool_answered_all_wrong_is_refused_with_the_counts(tmp_path: Path, tiny_model_dir: Path) -> None:
    cache_dir = tmp_path / "cache"
    pool = _keyed_pool(tmp_path / "pool.jsonl", [("arithmetic", "Add 2 and 3.", ["5"])])
    _seed_cache(cache_dir, tiny_model_dir, pool, [Completion("2 + 3 = 6", 5, "stop")], max_new_tokens=8)
    cfg = load_config(
        _config(tmp_path, tiny_model_dir, pool=str(pool), max_new_tokens=8, file=str(tmp_path / "r.jsonl"))
    )
    with pytest.raises(DataError, match=r"no answer of the base to the 1 prompts was kept: 0 cut .* 1 wrong"):
        build_replay(cfg, cache_dir=cache_dir)
    assert not (tmp_path / "r.jsonl").exists()


def test_draw_is_seeded_and_refuses_more_than_the_file_has(tmp_path: Path, tiny_model_dir: Path) -> None:
    pool = _pool(tmp_path / "pool.jsonl", ["x"])
    chats = [
        [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}] for i in range(40)
    ]
    cfg = load_config(_config(tmp_path, tiny_model_dir, pool=str(pool), ratio=0.25, seed=3))
    assert cfg.replay is not None
    first = draw(chats, 100, cfg.replay)
    assert len(first) == 25 and first == draw(chats, 100, cfg.replay)
    other = draw(chats, 100, cfg.replay.model_copy(update={"seed": 4}))
    assert other != first
    with pytest.raises(ConfigError, match=r"needs 50 replay examples, but the replay file has 40"):
        draw(chats, 200, cfg.replay)


def test_training_with_replay_records_it_and_the_pool_is_in_the_inputs_fingerprint(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache_dir = tmp_path / "cache"
    monkeypatch.setenv("TUNEGATE_CACHE_DIR", str(cache_dir))
    pool = _pool(tmp_path / "pool.jsonl", [f"Name thing number {i}." for i in range(6)])
    _seed_cache(cache_dir, tiny_model_dir, pool, [Completion(f"Thing {i}.", 3, "stop") for i in range(6)], 16)
    cfg = load_config(_config(tmp_path, tiny_model_dir, pool=str(pool), ratio=0.5, max_new_tokens=16))
    before = inputs_fingerprint(cfg)

    out = train(cfg, quiet=True)

    manifest = json.loads(manifest_path(out).read_text())
    rec = manifest["replay"]
    assert (rec["count"], rec["task_examples"], rec["available"], rec["ratio"]) == (4, 8, 6, 0.5)
    replay_file = Path(rec["file"]["absolute"])
    assert replay_file.parent == cache_dir / "replay" and replay_file.is_file()
    assert rec["file"]["sha256"] == meta_path_sha(replay_file)
    assert rec["pool"]["sha256"] == read_sha(pool)
    assert manifest["n_train_examples"] == 12
    assert manifest["inputs_fingerprint"] == before

    _pool(pool, [f"Name thing number {i}!" for i in range(6)])  # new pool content, same path
    assert inputs_fingerprint(cfg) != before


def meta_path_sha(path: Path) -> str:
    return str(json.loads(meta_path(path).read_text())["sha256"])


def read_sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_eval_suites_and_a_missing_replay_do_not_change_a_plain_fingerprint(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    path = _config(tmp_path, tiny_model_dir, pool=str(POOL))
    plain = tmp_path / "plain.yaml"
    plain.write_text(path.read_text().split("replay:")[0])
    a = load_config(plain)
    b = a.model_copy(update={"eval_suites": [str(tmp_path)]})
    assert a.replay is None and inputs_fingerprint(a) == inputs_fingerprint(b)
    assert inputs_fingerprint(load_config(path)) != inputs_fingerprint(a)


def test_replay_build_command_builds_then_reuses_and_checks_leakage(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tunegate.trainers.replay_cli import main

    cache_dir = tmp_path / "cache"
    pool = _pool(
        tmp_path / "pool.jsonl",
        ["Name a colour.", "What is the capital of France? Answer with just the city name."],
    )
    _seed_cache(
        cache_dir, tiny_model_dir, pool, [Completion("Blue.", 2, "stop"), Completion("Paris.", 2, "stop")], 8
    )
    cfg = _config(tmp_path, tiny_model_dir, pool=str(pool), max_new_tokens=8, file=str(tmp_path / "r.jsonl"))

    assert main(["build", str(cfg), "--cache-dir", str(cache_dir)]) == 0
    assert "replay file built" in capsys.readouterr().out
    # the second prompt is a general/factual_qa item verbatim: the leakage check names it, exit 1
    assert main(["build", str(cfg), "--cache-dir", str(cache_dir), "--check-leakage"]) == 1
    out = capsys.readouterr().out
    assert "replay file up to date" in out
    assert re.search(r"leakage check: 1 of \d+ eval items overlap the replay file", out)
    assert "general/factual_qa/factual_qa-001: exact" in out

    plain = tmp_path / "plain.yaml"
    plain.write_text(cfg.read_text().split("replay:")[0])
    assert main(["build", str(plain)]) == 2
    assert "has no replay section" in capsys.readouterr().err
    # an empty --cache-dir used the default cache; a file was found out after the base had loaded
    assert main(["build", str(cfg), "--cache-dir", ""]) == 2
    assert "tunegate replay: --cache-dir='': empty; pass the cache directory" in capsys.readouterr().err
    assert main(["build", str(cfg), "--cache-dir", str(pool)]) == 2
    assert f"tunegate replay: --cache-dir={str(pool)!r}: not a directory" in capsys.readouterr().err
